"""notify/templates.py: the context, the default templates of each event, a channel's own
templates, and the default standing in for a template that fails while rendering."""

from __future__ import annotations

import logging
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from router.config import load_config
from router.config.model import Config
from router.notify.templates import build_message, compile_template
from router.notify.wire import Message
from tests.notify import make_message

CONFIG = """
settings: {public_url: "https://router.example.com/"}
people:
  - {id: ann, name: Ann Example, contact_methods: [{type: email, address: ann@example.com}]}
channels:
  - {id: mail, type: email, host: localhost, from: router@example.com}
  - id: custom
    type: webhook
    url: http://127.0.0.1:9/
    templates:
      title: |
        {{ incident.id }} for {{ person.name if person else 'the channel' }}
        on {{ service.name }}
      text: "{{ event }} {{ notification.id }} {{ incident.labels.host }}{{ incident.labels.gone }}"
      html: "<b>{{ title }}</b>"
      payload: '{"summary": {{ incident.summary | tojson }}, "test": {{ test | tojson }}}'
  - id: broken
    type: webhook
    url: http://127.0.0.1:9/
    templates:
      title: "{{ incident.__class__ }}"
      text: "{{ incident.summary | round }}"
      html: "{{ 'x' * 1000000 }}"
      payload: "{{ 2 ** 100000 }}"
  - {id: blank, type: log, templates: {title: "{{ incident.labels.gone }}  "}}
services:
  - {id: database, name: Database, description: the main PostgreSQL cluster}
"""
ABOUT = """\
Service: Database (the main PostgreSQL cluster)
Severity: critical
State: triggered, opened 2026-03-02T09:30:00+00:00, 1 alert
Labels: alertname=DiskFull, host=db-1

Incident: https://router.example.com/ui/incidents/INC3"""


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Config:
    path: Path = tmp_path_factory.mktemp("config") / "config.yaml"
    path.write_text(textwrap.dedent(CONFIG), encoding="utf-8")
    return load_config([path], environ={})


def build(config: Config, channel: str = "mail", *, event: str = "trigger",
          test: bool = False, acknowledge_url: str | None = None, **changes: object
          ) -> Message:
    example = make_message(event=event, target="person:ann", address="ann@example.com",
                           notification_id="n7")
    incident = replace(example.incident, **changes)  # type: ignore[arg-type]
    return build_message(config, config.channels[channel], example.notification, incident,
                         test=test, acknowledge_url=acknowledge_url)


@pytest.mark.parametrize(("event", "title"), [
    ("trigger", "[CRITICAL] INC3: Disk full on db-1"),
    ("escalate", "[CRITICAL] INC3: Disk full on db-1"),
    ("acknowledge", "INC3 acknowledged by ann: Disk full on db-1"),
    ("resolve", "INC3 resolved: Disk full on db-1"),
    ("message", "INC3: Disk full on db-1"),
])
def test_default_title_of_each_event(config: Config, event: str, title: str) -> None:
    assert build(config, event=event, acknowledged_by="ann").title == title


def test_default_texts(config: Config) -> None:
    ack = "https://router.example.com/v1/incidents/INC3/acknowledge?token=t"
    assert build(config, acknowledge_url=ack).text == (
        f"Disk full on db-1\n\n{ABOUT}\nAcknowledge: {ack}")
    assert build(config, event="escalate", level=2).text == (
        f"Disk full on db-1\nNot acknowledged: escalated to level 2.\n\n{ABOUT}")
    assert build(config, event="acknowledge", acknowledged_by="ann",
                 acknowledge_url=ack).text == (
        f"Disk full on db-1\nAcknowledged by ann.\n\n{ABOUT}")  # no link to acknowledge again
    assert build(config, event="resolve").text == f"Disk full on db-1\nResolved.\n\n{ABOUT}"


def test_a_test_notification_says_so(config: Config) -> None:
    message = build(config, test=True)
    assert (message.title, message.test) == ("[TEST] INC3: Disk full on db-1", True)
    assert message.text == ("This is a test notification from router through channel mail; "
                            f"nothing needs doing.\n\nDisk full on db-1\n\n{ABOUT}")


def test_the_message_carries_names_and_links(config: Config) -> None:
    message = build(config, acknowledge_url="https://ack")
    assert (message.service_name, message.service_description, message.person_name) == (
        "Database", "the main PostgreSQL cluster", "Ann Example")
    assert message.incident_url == "https://router.example.com/ui/incidents/INC3"
    assert message.acknowledge_url == "https://ack"
    assert (message.html, message.payload) == (None, None)  # no such templates: defaults


def test_a_service_gone_from_the_config_is_named_by_its_id(config: Config) -> None:
    message = build(config, service="billing")
    assert (message.service_name, message.service_description) == ("billing", "")
    assert "Service: billing\n" in message.text


def test_a_channels_own_templates(config: Config) -> None:
    message = build(config, "custom")
    assert message.title == "INC3 for Ann Example on Database"  # one line, always
    assert message.text == "trigger n7 db-1"  # a label the incident lacks is empty
    assert message.html == "<b>INC3 for Ann Example on Database</b>"
    assert message.payload == '{"summary": "Disk full on db-1", "test": false}'


def test_html_escapes_what_senders_wrote(config: Config) -> None:
    message = build(config, "custom", summary='<img src=x onerror="alert(1)">')
    assert message.payload == ('{"summary": "\\u003cimg src=x onerror=\\"alert(1)\\"\\u003e", '
                               '"test": false}')
    template = compile_template("<p>{{ incident.summary }}</p>", html=True)
    assert template.render(incident={"summary": "<b>&"}) == "<p>&lt;b&gt;&amp;</p>"


def test_templates_that_fail_fall_back_to_the_defaults_with_a_warning(
        config: Config, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="router.notify.templates"):
        message = build(config, "broken")
    assert message.title == "[CRITICAL] INC3: Disk full on db-1"
    assert message.text == f"Disk full on db-1\n\n{ABOUT}"
    assert (message.html, message.payload) == (None, None)
    assert [(record.channel, record.template) for record in caplog.records] == [  # type: ignore[attr-defined]
        ("broken", "title"), ("broken", "text"), ("broken", "html"), ("broken", "payload")]
    words = [record.getMessage() for record in caplog.records]
    assert words[0].startswith("channel broken: template title (")
    assert "SecurityError: access to attribute '__class__' of 'dict' object is unsafe" in (
        words[0])
    assert "TypeError: type str doesn't define __round__ method" in words[1]
    assert "SecurityError: repeating 1 items 1000000 times makes more than 100000" in words[2]
    assert "SecurityError: 2 ** 100000 is larger than 4096 bits" in words[3]


def test_the_sandbox_keeps_templates_from_python_internals() -> None:
    for text in ("{{ ''.__class__.__mro__ }}", "{{ incident.labels.update({'a': 1}) }}",
                 "{% for i in range(1000000) %}{% endfor %}"):
        with pytest.raises(Exception, match=r"(?i)unsafe|not safely callable|range too big"):
            compile_template(text).render(incident={"labels": {}})


def test_compiling_is_cached_by_text() -> None:
    text = "{{ incident.id }} cached"
    assert compile_template(text) is compile_template(text)
    assert compile_template(text) is not compile_template(text, html=True)


def test_a_title_that_renders_blank_is_replaced_by_the_default(
        config: Config, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="router.notify.templates"):
        assert build(config, "blank").title == "[CRITICAL] INC3: Disk full on db-1"
    [record] = caplog.records
    assert record.getMessage().startswith("channel blank: template title (")
    assert record.getMessage().endswith(") rendered nothing, using the default instead")
