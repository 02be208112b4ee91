"""Dedup-key templates (services) and channel templates run in one sandboxed Jinja2
environment (router/sandbox.py), so what one refuses the other refuses too."""

from __future__ import annotations

from pathlib import Path

import pytest
from jinja2.exceptions import SecurityError

from router.alerts.model import Alert
from router.config import load_config
from router.engine.snapshot import Snapshot, render_key
from router.notify.templates import compile_template
from tests.config.support import write

ALERT = Alert(summary="Disk full", source="test", labels={"host": "db1"})
REFUSED = [
    "{{ labels.host }}-{{ ''.__class__ }}",  # an attribute starting with _
    "{{ labels.host }}-{{ labels.update({'host': 'db2'}) }}",  # a mutation
    "{{ labels.host }}-{{ 'x' * 200000 }}",  # a repetition past MAX_REPEAT
]


def _snapshot(tmp_path: Path, template: str) -> Snapshot:
    write(tmp_path, "services.yaml", f"services:\n  - id: api\n    dedup_key: {template!r}\n")
    return Snapshot.of(load_config([tmp_path], environ={}))


@pytest.mark.parametrize("template", REFUSED)
def test_both_kinds_of_template_refuse_the_same_things(tmp_path: Path, template: str) -> None:
    assert render_key(_snapshot(tmp_path, template), "api", ALERT) is None  # the label hash
    with pytest.raises(SecurityError):
        compile_template(template).render(labels={"host": "db1"})


def test_both_kinds_of_template_render_what_the_sandbox_allows(tmp_path: Path) -> None:
    template = "{{ labels.host }}-{{ labels.missing }}"
    assert render_key(_snapshot(tmp_path, template), "api", ALERT) == "db1-"
    assert compile_template(template).render(labels={"host": "db1"}) == "db1-"


def test_dedup_keys_compile_in_the_channel_templates_environment(tmp_path: Path) -> None:
    compiled = _snapshot(tmp_path, "{{ labels.host }}").dedup_templates["api"]
    assert compiled.environment is compile_template("").environment
