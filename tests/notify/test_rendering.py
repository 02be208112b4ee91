"""notify/rendering.py: a channel's own template renders once for what it reads, again when
anything it reads changes, and never from a stale text."""

from __future__ import annotations

import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from router.alerts.model import IncidentState
from router.config import load_config
from router.config.model import Config
from router.notify.rendering import RenderCache, reads
from router.notify.templates import build_message
from router.notify.wire import Message
from tests.notify import make_message

CONFIG = """
people:
  - {id: ann, name: Ann Example, contact_methods: [{type: email, address: ann@example.com}]}
  - {id: bob, name: Bob Example, contact_methods: [{type: email, address: bob@example.com}]}
channels:
  - id: pager
    type: log
    templates:
      title: "{{ incident.id }} {{ incident.state }} x{{ incident.alert_count }}"
      text: "level {{ incident.level }} {{ incident.labels.host }} for {{ person.name }}"
services:
  - {id: database, name: Database}
"""


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Config:
    path: Path = tmp_path_factory.mktemp("config") / "config.yaml"
    path.write_text(textwrap.dedent(CONFIG), encoding="utf-8")
    return load_config([path], environ={})


def page(config: Config, cache: RenderCache, *, person: str = "ann",
         notification_id: str = "n1", **changes: object) -> Message:
    example = make_message(target=f"person:{person}", notification_id=notification_id)
    incident = replace(example.incident, **changes)  # type: ignore[arg-type]
    return build_message(config, config.channels["pager"], example.notification, incident,
                         cache=cache)


def test_an_unchanged_incident_is_not_rendered_again(config: Config) -> None:
    cache = RenderCache()
    first = page(config, cache)
    assert (first.title, first.text, cache.renders) == (
        "INC3 triggered x1", "level 0 db-1 for Ann Example", 2)
    again = page(config, cache, notification_id="n2")  # another page, a retry: same inputs
    assert (again.title, again.text, cache.renders) == (first.title, first.text, 2)


@pytest.mark.parametrize(("changes", "title", "text"), [
    ({"state": IncidentState.ACKNOWLEDGED}, "INC3 acknowledged x1", None),
    ({"alert_count": 4}, "INC3 triggered x4", None),
    ({"level": 2}, None, "level 2 db-1 for Ann Example"),
    ({"labels": {"host": "db-2"}}, None, "level 0 db-2 for Ann Example"),
    ({"person": "bob"}, None, "level 0 db-1 for Bob Example"),
])
def test_a_changed_input_renders_again(config: Config, changes: dict[str, object],
                                       title: str | None, text: str | None) -> None:
    cache = RenderCache()
    first = page(config, cache)
    changed = page(config, cache, **changes)
    assert changed.title == (title or first.title)
    assert changed.text == (text or first.text)
    # Only the template that reads what changed renders again.
    assert cache.renders == 2 + (title is not None) + (text is not None)


def test_what_a_template_reads() -> None:
    assert reads("{{ incident.id }} {{ incident['state'] }} {{ incident.labels.env }}") == (
        ("incident", "id"), ("incident", "labels"), ("incident", "state"))
    assert reads("{{ incident.id }} {{ incident | tojson }}") == (("incident",),)
    assert reads("{% set incident = notification %}{{ incident.id }}") == (
        ("notification",),)  # the name is the template's own: the context's is not read
    assert reads("{{ incident.id }}{% set incident = notification %}{{ incident.id }}") == (
        ("incident",), ("notification",))  # read, then shadowed: read whole
    assert reads("{% for name, value in incident.labels | dictsort %}{{ name }}"
                 "{% endfor %}{{ loop }}") == (("incident", "labels"), ("loop",))
    assert reads("{{ [1, 2] | random }}") is None
    assert reads("{{ lipsum(1) }}") is None


def test_values_that_print_differently_are_kept_apart() -> None:
    cache = RenderCache()
    rendered = [cache.render("{{ incident.count }}", {"incident": {"count": value}})
                for value in (1, True, 1.0, "1", None)]
    assert rendered == ["1", "True", "1.0", "1", "None"]
    assert cache.renders == 5


def test_the_cache_keeps_at_most_its_size() -> None:
    cache = RenderCache(size=2)
    for number in (1, 2, 3, 1):  # 1 was the least recently used when 3 came
        cache.render("{{ n }}", {"n": number})
    assert cache.renders == 4
    cache.render("{{ n }}", {"n": 3})
    assert cache.renders == 4


def test_a_failed_render_is_not_kept() -> None:
    cache = RenderCache()
    for _ in range(2):
        with pytest.raises(TypeError):
            cache.render("{{ n | round }}", {"n": "x"})
    assert cache.renders == 0
