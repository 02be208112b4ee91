"""`POST /v1/notify`, `POST /v1/notify/batch` and `GET /v1/channels`, over real loopback HTTP
to an in-process server on a real SQLite store: messages land in the outbox as
notifications about no incident, a request at fault writes nothing and names the field, and
the channel list shows no secret."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from router.engine import Engine
from tests.server.support import api_client, engine_on_disk

CONFIG = """
settings: {ingest_tokens: [{name: ops, token: ops-token}]}
channels:
  - {id: log, type: log}
  - {id: chat, type: slack, webhook_url: "https://hooks.slack.com/services/T/B/very-secret"}
  - {id: mail, type: email, host: localhost, from: router@example.com, to: [ops@example.com],
     password: "hunter2-secret", username: router}
"""
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Engine, httpx.AsyncClient]]:
    async with engine_on_disk(tmp_path, CONFIG, NOW) as engine, api_client(
            engine, headers={"content-type": "application/json",
                             "authorization": "Bearer ops-token"}) as http:
        yield engine, http


async def pending(engine: Engine) -> list[tuple[str, str, int, str]]:
    found = await engine.store.read(lambda reader: reader.pending_notifications())
    return sorted((item.channel, item.event, item.incident_number, item.target)
                  for item in found)


async def test_a_message_to_a_list_of_channels_is_queued_once_per_channel(
        served: tuple[Engine, httpx.AsyncClient]) -> None:
    engine, http = served
    answer = await http.post("/v1/notify", json={
        "title": "Deploy finished", "message": "v2.3 is live", "severity": "warning",
        "tags": ["deploy"], "context": {"version": "2.3", "canary": True},
        "channels": ["log", "chat"]})
    assert answer.status_code == 202, answer.text
    assert [item["channel"] for item in answer.json()["notifications"]] == ["log", "chat"]
    assert await pending(engine) == [("chat", "notify", 0, "channel:chat"),
                                     ("log", "notify", 0, "channel:log")]


async def test_a_batch_is_queued_whole(served: tuple[Engine, httpx.AsyncClient]) -> None:
    engine, http = served
    answer = await http.post("/v1/notify/batch", json={"messages": [
        {"title": "one", "channel": "log"}, {"title": "two", "channels": ["log", "mail"]}]})
    assert answer.status_code == 202, answer.text
    assert [len(item["notifications"]) for item in answer.json()["messages"]] == [1, 2]
    assert len(await pending(engine)) == 3


@pytest.mark.parametrize(("path", "body", "field", "words"), [
    ("/v1/notify", {"channel": "log"}, "title", "is required"),
    ("/v1/notify", {"title": "t"}, "channel", "is required"),
    ("/v1/notify", {"title": "t", "channel": "pager"}, "channels", "no channel 'pager'"),
    ("/v1/notify", {"title": "t", "channel": "log", "severity": "high"}, "severity",
     "expected one of critical, error, warning, info"),
    ("/v1/notify", {"title": "t", "channel": "log", "context": {"a": [1]}}, "context.a",
     "expected text"),
    ("/v1/notify", {"title": "t", "channel": "log", "color": "red"}, "color",
     "not a known field"),
    ("/v1/notify/batch", {"messages": [{"title": "ok", "channel": "log"},
                                       {"title": "t", "channel": "nope"}]},
     "messages[1].channels", "no channel 'nope'"),
    ("/v1/notify/batch", {"messages": []}, "messages", "no message"),
])
async def test_a_request_at_fault_writes_nothing_and_names_the_field(
        served: tuple[Engine, httpx.AsyncClient], path: str, body: object, field: str,
        words: str) -> None:
    engine, http = served
    answer = await http.post(path, json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["field"] == field
    assert words in answer.json()["error"]
    assert await pending(engine) == []


async def test_the_channel_list_names_what_each_needs_and_shows_no_secret(
        served: tuple[Engine, httpx.AsyncClient]) -> None:
    _, http = served
    answer = await http.get("/v1/channels")
    assert answer.status_code == 200
    for value in ("very-secret", "hunter2", "hooks.slack.com", "ops@example.com"):
        assert value not in answer.text
    channels = {item["id"]: item for item in answer.json()["channels"]}
    assert sorted(channels) == ["chat", "log", "mail"]
    assert (channels["chat"]["type"], channels["chat"]["needs"]) == ("slack", ["webhook_url"])
    assert channels["mail"]["needs"] == ["host", "from"]
    assert channels["mail"]["secret"] == ["password"]
    assert channels["log"]["needs"] == []


async def test_the_channel_list_names_secret_settings_a_channel_leaves_unset(
        served: tuple[Engine, httpx.AsyncClient]) -> None:
    """`secret` says which of a type's settings hold a secret, so that someone filling in a
    channel knows to keep them in a file: chat gives no signing_secret, yet it is one."""
    _, http = served
    channels = {item["id"]: item for item in (await http.get("/v1/channels")).json()["channels"]}
    assert channels["chat"]["secret"] == ["webhook_url", "signing_secret"]
    assert channels["log"]["secret"] == []
