"""Every channel's common keys: templates (inline or from a file, compiled at load), and the
delivery settings concurrency, rate and retry_for; with the exact words of their problems."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from router.config import load_config
from router.config.model import Delivery
from router.errors import Where
from tests.config.support import problems, write


def test_channels_without_common_keys_get_the_defaults(tmp_path: Path) -> None:
    write(tmp_path, "channels.yaml", """
        channels:
          - {id: log, type: log}
          - {id: chat, type: slack, webhook_url: "https://hooks.slack.com/services/T/B/X"}
        """)
    config = load_config([tmp_path], environ={})
    log, chat = config.channels["log"], config.channels["chat"]
    assert (dict(log.templates), log.delivery) == ({}, Delivery(
        concurrency=4, rate=None, retry_for=timedelta(hours=1)))
    assert chat.delivery.rate == 1.0  # notify/slack.py's DEFAULT_RATE


def test_a_webhook_sends_16_at_once_unless_it_says_otherwise(tmp_path: Path) -> None:
    write(tmp_path, "channels.yaml", """
        channels:
          - {id: hook, type: webhook, url: "http://127.0.0.1:9/hook"}
          - {id: slow, type: webhook, url: "http://127.0.0.1:9/hook", concurrency: 2}
          - {id: pd, type: pagerduty, routing_key: RRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRR}
        """)
    config = load_config([tmp_path], environ={})
    assert config.channels["hook"].delivery.concurrency == 16  # notify/webhook.py's default
    assert config.channels["slow"].delivery.concurrency == 2
    assert config.channels["pd"].delivery.concurrency == 4


def test_common_keys_are_built_into_the_channel(tmp_path: Path) -> None:
    path = write(tmp_path, "channels.yaml", """
        channels:
          - id: log
            type: log
            concurrency: 2
            rate: 0.5
            retry_for: 2h30m
            templates:
              title: "{{ incident.id }} {{ event }}"
              text: {file: templates/text.j2}
          - {id: chat, type: slack, webhook_url: "https://hooks.slack.com/x", rate: 3}
        """)
    write(tmp_path, "templates/text.j2", "{{ incident.summary }}\n")
    config = load_config([tmp_path], environ={})
    log = config.channels["log"]
    assert log.delivery == Delivery(concurrency=2, rate=0.5,
                                    retry_for=timedelta(hours=2, minutes=30))
    assert log.templates["title"].text == "{{ incident.id }} {{ event }}"
    assert log.templates["title"].where == Where(str(path), 8, 14)
    assert log.templates["text"].text == "{{ incident.summary }}\n"
    assert log.templates["text"].where == Where(str(tmp_path / "templates/text.j2"), 1, 1)
    assert config.channels["chat"].delivery.rate == 3


def test_a_webhook_body_is_its_payload_template(tmp_path: Path) -> None:
    path = write(tmp_path, "channels.yaml", """
        channels:
          - {id: hook, type: webhook, url: "http://h/", body: '{"id": "{{ incident.id }}"}'}
          - id: other
            type: webhook
            url: http://127.0.0.1:9/
            templates: {payload: "{{ incident.id }}"}
        """)
    config = load_config([tmp_path], environ={})
    assert config.channels["hook"].templates["payload"].text == '{"id": "{{ incident.id }}"}'
    assert config.channels["hook"].templates["payload"].where == Where(str(path), 2, 55)
    assert config.channels["other"].templates["payload"].text == "{{ incident.id }}"


def test_a_webhook_body_given_twice(tmp_path: Path) -> None:
    path = write(tmp_path, "channels.yaml", """
        channels:
          - id: hook
            type: webhook
            url: http://127.0.0.1:9/
            body: "{{ incident.id }}"
            templates: {payload: "{{ incident.number }}"}
        """)
    assert problems([tmp_path]) == [
        f"{path}:5:11: channels[0].body: the webhook body is given twice: as 'body' and as "
        "'templates.payload'; keep one"]


def test_a_syntax_error_in_an_inline_template(tmp_path: Path) -> None:
    path = write(tmp_path, "channels.yaml", """
        channels:
          - id: log
            type: log
            templates: {title: "{{ incident.id }"}
        """)
    assert problems([tmp_path]) == [
        f"{path}:4:24: channels[0].templates.title: not a valid template: unexpected '}}' "
        "(line 1 of the template)"]


def test_a_syntax_error_in_a_literal_block_points_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "channels.yaml", """
        channels:
          - id: log
            type: log
            templates:
              text: |
                {{ incident.summary }}
                {% if incident.labels %}
                labels: {{ incident.labels | dictsort }
                {% endif %}
        """)
    assert problems([tmp_path]) == [
        f"{path}:8:1: channels[0].templates.text: not a valid template: unexpected '}}' "
        "(line 3 of the template)"]


def test_a_syntax_error_in_a_template_file_points_into_the_file(tmp_path: Path) -> None:
    write(tmp_path, "config/channels.yaml", """
        channels:
          - id: mail
            type: email
            host: localhost
            from: router@example.com
            templates: {html: {file: mail/page.html}}
        """)
    page = write(tmp_path, "config/mail/page.html", """
        <h1>{{ incident.id }}</h1>
        <p>{{ incident.summary | shout }}</p>
        """)
    assert problems([tmp_path / "config"]) == [
        f"{page}:2:1: channels[0].templates.html: not a valid template: No filter named "
        "'shout' (line 2 of the template)"]


def test_a_missing_template_file(tmp_path: Path) -> None:
    path = write(tmp_path, "channels.yaml", """
        channels:
          - {id: log, type: log, templates: {text: {file: nowhere.j2}}}
        """)
    assert problems([tmp_path]) == [
        f"{path}:2:51: channels[0].templates.text.file: cannot read template file "
        f"'{tmp_path / 'nowhere.j2'}': No such file or directory"]


def test_a_template_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = write(tmp_path, "channels.yaml", """
        channels:
          - {id: log, type: log, templates: {text: {file: latin1.j2}}}
        """)
    write(tmp_path, "latin1.j2", "caf\xe9".encode("latin-1"))
    assert problems([tmp_path]) == [
        f"{path}:2:51: channels[0].templates.text.file: cannot read template file "
        f"'{tmp_path / 'latin1.j2'}': not valid UTF-8"]


def test_an_unknown_template_name(tmp_path: Path) -> None:
    path = write(tmp_path, "channels.yaml", """
        channels:
          - {id: log, type: log, templates: {titel: "{{ incident.id }}"}}
          - {id: chat, type: slack, webhook_url: "https://x", templates: {payload: "{}"}}
        """)
    assert problems([tmp_path]) == [
        f"{path}:2:38: channels[0].templates.titel: unknown key 'titel' (did you mean "
        "'title'?); expected one of: html, text, title",
        f"{path}:3:67: channels[1].templates.payload: unknown key 'payload'; expected one of: "
        "html, text, title",
    ]


def test_a_template_of_the_wrong_shape(tmp_path: Path) -> None:
    path = write(tmp_path, "channels.yaml", """
        channels:
          - {id: log, type: log, templates: {text: {path: a.j2}}}
        """)
    assert problems([tmp_path]) == [
        f"{path}:2:44: channels[0].templates.text: expected a template as text, or "
        "{file: PATH}"]


def test_bad_delivery_settings(tmp_path: Path) -> None:
    path = write(tmp_path, "channels.yaml", """
        channels:
          - {id: a, type: log, concurrency: 0}
          - {id: b, type: log, rate: 0}
          - {id: c, type: log, retry_for: 1.5h}
          - {id: d, type: log, concurrency: many}
        """)
    assert problems([tmp_path]) == [
        f"{path}:2:37: channels[0].concurrency: expected a number at least 1, got 0",
        f"{path}:3:30: channels[1].rate: expected a number more than 0, got 0",
        f"{path}:4:35: channels[2].retry_for: expected a duration like 30s, 15m, 1h30m or 2w, "
        "got '1.5h'",
        f"{path}:5:37: channels[3].concurrency: expected a whole number, got 'many'",
    ]


def test_an_html_template_escapes_what_it_shows(tmp_path: Path) -> None:
    write(tmp_path, "channels.yaml", """
        channels:
          - id: mail
            type: email
            host: localhost
            from: router@example.com
            templates: {html: "<b>{{ incident.summary }}</b>", text: "{{ incident.summary }}"}
        """)
    from router.notify.templates import compile_template

    templates = load_config([tmp_path], environ={}).channels["mail"].templates
    context = {"incident": {"summary": "<script>"}}
    assert compile_template(templates["html"].text, html=True).render(context) == (
        "<b>&lt;script&gt;</b>")
    assert compile_template(templates["text"].text).render(context) == "<script>"


EMAIL_AS_TARGET = """
    channels:
      - {id: mail, type: email, host: localhost, from: router@example.com}
      - {id: ops-mail, type: email, host: localhost, from: router@example.com,
         to: [ops@example.com]}
    services:
      - {id: api, channels: [mail, ops-mail]}
    escalation_policies:
      - {id: web, levels: [{targets: [{channel: mail}], delay: 5m}]}
    """


def test_an_email_channel_notified_as_a_channel_needs_to(tmp_path: Path) -> None:
    path = write(tmp_path, "config.yaml", EMAIL_AS_TARGET)
    assert problems([tmp_path]) == [
        f"{path}:2:5: channels[0].to: email channel 'mail' is notified as a channel (at "
        f"{path}:6:5) but has no 'to': list the addresses its mail goes to"]


def test_an_email_channel_for_people_only_needs_no_to(tmp_path: Path) -> None:
    write(tmp_path, "config.yaml", """
        people:
          - id: ann
            contact_methods: [{type: email, address: ann@example.com, channel: mail}]
        channels:
          - {id: mail, type: email, host: localhost, from: router@example.com}
        escalation_policies:
          - {id: web, levels: [{targets: [{person: ann}], delay: 5m}]}
        """)
    assert problems([tmp_path]) == []


def test_a_ca_file_is_relative_to_the_yaml_file_and_must_exist(tmp_path: Path) -> None:
    path = write(tmp_path, "config/channels.yaml", """
        channels:
          - {id: mail, type: email, host: localhost, from: a@example.com, ca_file: ca.pem}
          - {id: other, type: email, host: localhost, from: a@example.com, ca_file: gone.pem}
        """)
    write(tmp_path, "config/ca.pem", "-----BEGIN CERTIFICATE-----\n")
    assert problems([tmp_path / "config"]) == [
        f"{path}:3:77: channels[1].ca_file: no such file: "
        f"'{tmp_path / 'config' / 'gone.pem'}'"]
    (tmp_path / "config/channels.yaml").write_text(
        "channels:\n  - {id: mail, type: email, host: localhost, from: a@example.com, "
        "ca_file: ca.pem}\n")
    mail = load_config([tmp_path / "config"], environ={}).channels["mail"]
    assert mail.settings.ca_file == str(tmp_path / "config" / "ca.pem")  # type: ignore[attr-defined]
