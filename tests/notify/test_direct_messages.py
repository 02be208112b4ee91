"""A direct message (`POST /v1/notify`, event "notify", about no incident) through every
channel: its title, message, tags and context are what is said; PagerDuty pages it with a
key of its own; Slack posts it without incident buttons; email goes to the channel's `to`."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime
from pathlib import Path

from router.alerts.model import DirectMessage, Notification, Severity
from router.config import load_config
from router.config.model import Config
from router.notify import email, log, pagerduty, slack, webhook
from router.notify.templates import build_message
from router.notify.wire import Message
from router.store.outbox import notice

WRITTEN = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
DIRECT = DirectMessage(title="Backup finished late", message="The nightly backup took 5h.",
                       severity=Severity.WARNING, tags=("backup", "db"),
                       context={"host": "db-1", "duration": "5h"})
CONFIG = """
channels:
  - {id: pd, type: pagerduty, routing_key: RRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRR}
  - {id: chat, type: slack, webhook_url: "https://hooks.slack.com/services/T/B/x"}
  - {id: mail, type: email, host: localhost, from: router@example.com, to: [ops@example.com]}
  - {id: hook, type: webhook, url: "https://hooks.example.com/router"}
  - {id: log, type: log}
"""


def config(tmp_path: Path) -> Config:
    (tmp_path / "router.yaml").write_text(textwrap.dedent(CONFIG))
    return load_config([tmp_path / "router.yaml"])


def message(config: Config, channel: str) -> Message:
    notification = Notification(
        id="n1", incident_number=0, channel=channel, target=f"channel:{channel}", address="",
        event="notify", created_at=WRITTEN, note=DIRECT.to_note())
    return build_message(config, config.channels[channel], notification, notice(notification))


def test_the_note_round_trips_and_a_foreign_note_is_its_own_title() -> None:
    assert DirectMessage.from_note(DIRECT.to_note()) == DIRECT
    assert DirectMessage.from_note("not json") == DirectMessage(title="not json")


def test_the_message_is_what_every_channel_says(tmp_path: Path) -> None:
    loaded = config(tmp_path)
    text = ("Backup finished late\n\nThe nightly backup took 5h.\n\n"
            "duration: 5h\nhost: db-1\ntags: backup,db")
    assert message(loaded, "log").text == text
    page = pagerduty.render(message(loaded, "pd"), loaded.channels["pd"].settings, now=WRITTEN)
    assert page is not None
    event = json.loads(page.body)
    assert (event["event_action"], event["dedup_key"], event["payload"]["severity"]) == (
        "trigger", "notify-n1", "warning")
    assert "Backup finished late" in event["payload"]["summary"]
    chat = json.loads(slack.render(message(loaded, "chat"), loaded.channels["chat"].settings,
                                   now=WRITTEN).body)
    assert chat["text"].startswith("Backup finished late")
    assert [block["type"] for block in chat["blocks"]] == ["section"]  # no buttons
    mail = email.render(message(loaded, "mail"), loaded.channels["mail"].settings, now=WRITTEN)
    assert mail is not None
    assert (mail.message["Subject"], mail.recipients) == (
        "Backup finished late", ("ops@example.com",))
    hook = json.loads(webhook.render(message(loaded, "hook"), loaded.channels["hook"].settings,
                                     now=WRITTEN).body)
    assert hook["event"] == "notify"
    line = log.render(message(loaded, "log"), loaded.channels["log"].settings, now=WRITTEN)
    assert "notify" in line.text and "Backup finished late" in line.text
