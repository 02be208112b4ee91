"""A rota handoff notice (event "handoff", about no incident) through every channel: its note
is the message; PagerDuty is not told; Slack posts it without incident buttons."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime
from pathlib import Path

from router.alerts.model import Notification
from router.config import load_config
from router.config.model import Config
from router.notify import email, log, pagerduty, slack
from router.notify.templates import build_message
from router.notify.wire import Message
from router.store.outbox import notice

WRITTEN = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
NOTE = "You are on call for Primary from Mon 23 Nov 09:00 (Europe/Berlin), taking over from Bob."
CONFIG = """
people:
  - {id: ann, name: Ann, contact_methods: [{type: email, address: ann@example.com}]}
channels:
  - {id: pd, type: pagerduty, routing_key: RRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRR}
  - {id: chat, type: slack, webhook_url: "https://hooks.slack.com/services/T/B/x"}
  - {id: mail, type: email, host: localhost, from: router@example.com}
  - {id: log, type: log}
"""


def config(tmp_path: Path) -> Config:
    (tmp_path / "router.yaml").write_text(textwrap.dedent(CONFIG))
    return load_config([tmp_path / "router.yaml"])


def message(config: Config, channel: str, address: str = "") -> Message:
    notification = Notification(
        id="n1", incident_number=0, channel=channel, target="person:ann", address=address,
        event="handoff", created_at=WRITTEN, note=NOTE)
    return build_message(config, config.channels[channel], notification, notice(notification))


def test_the_note_is_the_message_on_every_channel(tmp_path: Path) -> None:
    loaded = config(tmp_path)
    assert pagerduty.render(message(loaded, "pd"), loaded.channels["pd"].settings,
                            now=WRITTEN) is None
    chat = slack.render(message(loaded, "chat", "U123"), loaded.channels["chat"].settings,
                        now=WRITTEN)
    document = json.loads(chat.body)
    assert document["text"] == f"<@U123> {NOTE}"
    assert [block["type"] for block in document["blocks"]] == ["section"]
    mail = email.render(message(loaded, "mail", "ann@example.com"),
                        loaded.channels["mail"].settings, now=WRITTEN)
    assert mail is not None
    assert mail.message["Subject"] == f"On-call handoff: {NOTE}"
    assert mail.recipients == ("ann@example.com",)
    body = mail.message.get_body(("plain",))
    assert body is not None and NOTE in body.get_content()
    line = log.render(message(loaded, "log"), loaded.channels["log"].settings, now=WRITTEN)
    assert NOTE in line.text and "handoff" in line.text
