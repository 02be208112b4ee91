"""`router notify CHANNEL TEXT`: the message is queued in the outbox of the state directory,
once per channel, as `POST /v1/notify` queues it; a bad channel or option is a usage error
and queues nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trio

from router.alerts.model import DirectMessage, Notification, Severity
from router.store import DATABASE_NAME, Store
from tests.cli.conftest import run, write_config

CONFIG = """
channels:
  - {id: log, type: log}
  - {id: mail, type: email, host: localhost, from: router@example.com, to: [ops@example.com]}
"""


@pytest.fixture
def options(tmp_path: Path, state: Path) -> list[str]:
    return ["--config", str(write_config(tmp_path, CONFIG)), "--state", str(state)]


def pending(state: Path) -> list[Notification]:
    async def read() -> list[Notification]:
        store = await Store.open(state / DATABASE_NAME)
        try:
            return await store.read(lambda reader: reader.pending_notifications())
        finally:
            await store.close()
    return trio.run(read)


def test_the_text_is_queued_for_each_channel(options: list[str], state: Path) -> None:
    code, out, err = run("notify", "log,mail", "Deploy finished\nv2.3 is live",
                         "--severity", "warning", "--tag", "deploy", "--context",
                         "version=2.3", *options)
    assert (code, err) == (0, "")
    assert [line.split(":")[0] for line in out.splitlines()] == [
        "queued for log", "queued for mail"]
    found = pending(state)
    assert sorted((item.channel, item.event, item.incident_number) for item in found) == [
        ("log", "notify", 0), ("mail", "notify", 0)]
    assert DirectMessage.from_note(found[0].note) == DirectMessage(
        title="Deploy finished", message="v2.3 is live", severity=Severity.WARNING,
        tags=("deploy",), context={"version": "2.3"})


def test_format_json_lists_the_notifications(options: list[str]) -> None:
    code, out, _ = run("notify", "log", "hello", "--title", "Greeting", "--format", "json",
                       *options)
    assert code == 0
    assert [item["channel"] for item in json.loads(out)["notifications"]] == ["log"]


@pytest.mark.parametrize(("arguments", "words"), [
    (["pager", "hello"], "no channel 'pager'"),
    (["log", "  "], "title: must not be empty"),
    (["log", "hello", "--severity", "loud"], "severity: expected one of"),
    (["log", "hello", "--context", "novalue"], "expected NAME=VALUE"),
])
def test_usage_errors_queue_nothing(options: list[str], state: Path, arguments: list[str],
                                    words: str) -> None:
    code, _, err = run("notify", *arguments, *options)
    assert code == 2
    assert words in err
    assert pending(state) == []
