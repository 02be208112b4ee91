"""server/socket.py and server/messages.py over a real unix socket, with a real Engine on a real
SQLite store. Every reply is compared whole; timeout tests run under `autojump_clock`."""

from __future__ import annotations

import itertools
import json
import logging
import socket
import stat
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
import trio

from router.clock import FixedClock
from router.config import load_config
from router.engine import Engine
from router.server.socket import SocketLimits, serve_socket
from router.store import Store

CONFIG = """
settings: {timezone: Europe/Berlin}
people:
  - id: on-call-engineer
    contact_methods: [{type: email, address: oncall@example.com}]
  - id: second
    contact_methods: [{type: email, address: second@example.com}]
  - id: backup
    contact_methods: [{type: email, address: backup@example.com}]
channels:
  - {id: log, type: log}
  - {id: mail, type: email, host: localhost, from: router@example.com}
  - {id: slack, type: slack, webhook_url: "http://127.0.0.1:1/slack"}
rotas:
  - id: primary
    layers: [{members: [on-call-engineer, second], every: 1w, handoff: "09:00",
              handoff_day: mon, start: 2026-11-23}]
escalation_policies:
  - id: default
    levels:
      - {targets: [{rota: primary}], delay: 15m}
      - {targets: [{person: backup}], delay: 15m}
  - id: channel-only
    levels:
      - {targets: [{channel: log}], delay: 15m}
  - id: then-channel
    levels:
      - {targets: [{rota: primary}], delay: 15m}
      - {targets: [{channel: log}], delay: 15m}
services:
  - {id: api, escalation_policy: default, channels: [log]}
  - {id: quiet, escalation_policy: channel-only}
  - {id: web, escalation_policy: then-channel}
"""

# Monday 2026-11-23 12:00 in Berlin: the first week of the rota, on-call-engineer's.
NOW = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
LIMITS = SocketLimits(max_line_bytes=4096, idle_timeout=timedelta(seconds=60),
                      grace=timedelta(seconds=5))
EXAMPLE_REQUEST = (
    b'{"src":"alerter","dest":"pagerduty","body":{"type":"create_incident","msg_id":1,'
    b'"title":"High error rate","service":"api","severity":"critical",'
    b'"description":"Error rate is 15% (threshold: 5%)"}}')
EXAMPLE_REPLY = (
    b'{"src":"pagerduty","dest":"alerter","body":{"type":"incident_created","in_reply_to":1,'
    b'"incident_id":"INC1","status":"triggered","assigned_to":"on-call-engineer"}}')


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    (tmp_path / "config.yaml").write_text(textwrap.dedent(CONFIG))
    config = load_config([tmp_path / "config.yaml"])
    store = await Store.open(tmp_path / "state.db")
    counter = itertools.count(1)
    yield Engine(config, store, FixedClock(NOW), new_id=lambda: f"n{next(counter)}")
    await store.close()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "router.sock"


async def start(nursery: trio.Nursery, engine: Engine, path: Path,
                limits: SocketLimits = LIMITS, shutdown: trio.Event | None = None) -> None:
    await nursery.start(partial(serve_socket, engine, path, limits=limits, shutdown=shutdown))


@dataclass
class Client:
    """One connection: send lines, read reply lines."""

    stream: trio.SocketStream
    buffer: bytes = b""

    async def send(self, line: bytes | str) -> None:
        data = line.encode() if isinstance(line, str) else line
        await self.stream.send_all(data + b"\n")

    async def raw_line(self) -> bytes:
        with trio.fail_after(100):
            while b"\n" not in self.buffer:
                data = await self.stream.receive_some()
                assert data, f"closed; buffered {self.buffer!r}"
                self.buffer += data
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line

    async def reply(self) -> dict[str, object]:
        answer: dict[str, object] = json.loads(await self.raw_line())
        return answer

    async def ask(self, body: dict[str, object], src: str = "alerter",
                  dest: str = "router") -> dict[str, object]:
        """Send one message; return the reply body after checking its envelope."""
        await self.send(json.dumps({"src": src, "dest": dest, "body": body}))
        answer = await self.reply()
        assert (answer["src"], answer["dest"]) == (dest, src)
        body_out: dict[str, object] = answer["body"]  # type: ignore[assignment]
        return body_out

    async def closed(self) -> bool:
        """True when the server closed the connection (after any buffered lines)."""
        with trio.fail_after(100):
            return await self.stream.receive_some() == b""


Connect = Callable[[], Awaitable[Client]]


@pytest.fixture
async def connect(path: Path) -> AsyncIterator[Connect]:
    """Open clients to the socket at `path`; each is closed after the test."""
    opened: list[Client] = []

    async def open_client() -> Client:
        opened.append(Client(await trio.open_unix_socket(str(path))))
        return opened[-1]

    yield open_client
    for client in opened:
        await client.stream.aclose()


@pytest.fixture
async def client(nursery: trio.Nursery, engine: Engine, path: Path,
                 connect: Connect) -> Client:
    await start(nursery, engine, path)
    return await connect()


def create(msg_id: int, title: str = "High error rate", **fields: object) -> dict[str, object]:
    return {"type": "create_incident", "msg_id": msg_id, "title": title, "service": "api",
            "severity": "critical", **fields}


def error(msg_id: int | None, code: int, text: str) -> dict[str, object]:
    return {"type": "error", "in_reply_to": msg_id, "code": code, "text": text}


def unaddressed(msg_id: int | None, code: int, text: str) -> dict[str, object]:
    return {"src": None, "dest": None, "body": error(msg_id, code, text)}


async def test_the_reference_example_session_byte_for_byte(client: Client,
                                                           engine: Engine) -> None:
    await client.send(EXAMPLE_REQUEST)
    assert await client.raw_line() == EXAMPLE_REPLY
    detail = await engine.incident("INC1")
    assert detail is not None
    incident = detail.incident
    assert (incident.source, incident.service, incident.severity.value, incident.level) == (
        "socket", "api", "critical", 1)
    assert incident.labels == {"alertname": "High error rate", "service": "api"}
    timer = await engine.store.read(lambda reader: reader.earliest_timer())
    assert timer == (1, "escalate", NOW + timedelta(minutes=15))


async def test_create_incident_dedups_and_keeps_given_labels_and_key(client: Client,
                                                                     engine: Engine) -> None:
    assert (await client.ask(create(1)))["incident_id"] == "INC1"
    assert (await client.ask(create(2)))["incident_id"] == "INC1"  # same title: same incident
    assert (await client.ask(create(3, "Disk full")))["incident_id"] == "INC2"
    reply = await client.ask(create(4, "Other", dedup_key="disk", labels={"host": "db1"}))
    assert reply == {"type": "incident_created", "in_reply_to": 4, "incident_id": "INC3",
                     "status": "triggered", "assigned_to": "on-call-engineer"}
    detail = await engine.incident("INC3")
    assert detail is not None
    assert (detail.incident.dedup_key, dict(detail.incident.labels)) == ("disk", {"host": "db1"})
    assert (await client.ask(create(5, "Again", dedup_key="disk")))["incident_id"] == "INC3"


async def test_create_incident_names_the_on_call_person_when_nobody_was_paged(
        client: Client) -> None:
    # the quiet service pages a channel, not a rota: assigned_to falls back to the on-call
    # person of the service's rota, and there is none
    reply = await client.ask({**create(1), "service": "quiet"})
    assert reply == {"type": "incident_created", "in_reply_to": 1, "incident_id": "INC1",
                     "status": "triggered", "assigned_to": None}


async def test_send_alert(client: Client, engine: Engine) -> None:
    reply = await client.ask({"type": "send_alert", "msg_id": 2, "channel": "#alerts",
                              "severity": "warning", "title": "Deploy finished",
                              "service": "api", "description": "v1.2.3 is live"})
    assert reply == {"type": "alert_sent", "in_reply_to": 2, "channel": "#alerts",
                     "notification_id": "n1", "actions": ["Acknowledge", "View Details"]}
    pending = await engine.store.read(lambda reader: reader.pending_notifications())
    assert [(item.id, item.channel, item.target, item.address, item.event)
            for item in pending] == [("n1", "slack", "slack:#alerts", "#alerts", "message")]


async def test_escalate_incident(client: Client) -> None:
    await client.ask(create(1))
    reply = await client.ask({"type": "escalate_incident", "msg_id": 3, "incident_id": "INC1",
                              "current_level": 1, "timeout_minutes": 15, "no_response": True})
    assert reply == {"type": "incident_escalated", "in_reply_to": 3, "incident_id": "INC1",
                     "from_level": 1, "to_level": 2, "escalated_to": "backup"}
    again = await client.ask({"type": "escalate_incident", "msg_id": 4,
                              "incident_id": "INC1", "current_level": 1})
    assert again == error(4, 409, "INC1 is at level 2, not 1")
    last = await client.ask({"type": "escalate_incident", "msg_id": 5,
                             "incident_id": "INC1", "current_level": 2})
    assert last == error(5, 409, "INC1 is at the last level of its policy")


@pytest.mark.parametrize("stray", [KeyError("level"), ValueError("bad level"),
                                   LookupError("somewhere")])
async def test_a_stray_error_in_the_engine_is_a_500_not_a_404_or_409(
        client: Client, engine: Engine, stray: Exception, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    async def broken(*_: object, **__: object) -> None:
        raise stray

    monkeypatch.setattr(engine, "escalate", broken)
    caplog.set_level(logging.ERROR, "router")
    reply = await client.ask({"type": "escalate_incident", "msg_id": 7, "incident_id": "INC1",
                              "current_level": 1})
    assert reply == error(7, 500, "internal error")
    [logged] = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert logged.exc_info is not None and logged.exc_info[1] is stray


async def test_escalated_to_names_the_new_levels_target_when_it_pages_no_one(
        client: Client, engine: Engine) -> None:
    # level 2 of then-channel notifies a channel: its escalated_to is that target, not the
    # person level 1 paged (who stays the incident's assigned_to)
    assert (await client.ask({**create(1), "service": "web"}))["assigned_to"] == (
        "on-call-engineer")
    reply = await client.ask({"type": "escalate_incident", "msg_id": 2, "incident_id": "INC1",
                              "current_level": 1})
    assert reply == {"type": "incident_escalated", "in_reply_to": 2, "incident_id": "INC1",
                     "from_level": 1, "to_level": 2, "escalated_to": "channel:log"}
    detail = await engine.incident("INC1")
    assert detail is not None
    assert (detail.incident.level, detail.incident.assigned_to) == (2, "on-call-engineer")


async def test_escalating_an_acknowledged_incident_triggers_it_again(client: Client) -> None:
    await client.ask(create(1))
    await client.ask({"type": "acknowledge_incident", "msg_id": 2, "incident_id": "INC1"})
    twice = await client.ask({"type": "acknowledge_incident", "msg_id": 3,
                              "incident_id": "INC1", "by": "bob"})
    assert twice == {"type": "incident_acknowledged", "in_reply_to": 3, "incident_id": "INC1",
                     "status": "acknowledged"}
    reply = await client.ask({"type": "escalate_incident", "msg_id": 4, "incident_id": "INC1",
                              "current_level": 1})
    assert reply == {"type": "incident_escalated", "in_reply_to": 4, "incident_id": "INC1",
                     "from_level": 1, "to_level": 2, "escalated_to": "backup"}
    again = await client.ask({"type": "acknowledge_incident", "msg_id": 5,
                              "incident_id": "INC1"})
    assert again["status"] == "acknowledged"


@pytest.mark.parametrize(("at", "expected"), [
    (None, {"on_call": "on-call-engineer", "until": "2026-11-30T08:00:00Z"}),
    ("2026-12-01T12:00:00+01:00", {"on_call": "second", "until": "2026-12-07T08:00:00Z"}),
    ("2026-11-01T00:00:00Z", {"on_call": None, "until": "2026-11-23T08:00:00Z"}),
])
async def test_get_on_call(client: Client, at: str | None, expected: dict[str, object]) -> None:
    body: dict[str, object] = {"type": "get_on_call", "msg_id": 7, "team": "primary"}
    if at is not None:
        body["at"] = at
    assert await client.ask(body) == {"type": "on_call", "in_reply_to": 7, "team": "primary",
                                      **expected}


async def test_get_on_call_for_a_service_and_unknown_teams(client: Client) -> None:
    assert await client.ask({"type": "get_on_call", "msg_id": 1, "team": "api"}) == {
        "type": "on_call", "in_reply_to": 1, "team": "api", "on_call": "on-call-engineer",
        "until": "2026-11-30T08:00:00Z"}
    for msg_id, team in enumerate(("nope", "quiet"), start=2):
        assert await client.ask({"type": "get_on_call", "msg_id": msg_id, "team": team}) == (
            error(msg_id, 404, f"unknown team {team!r}: no such rota, or service with a rota"))


async def test_acknowledge_and_resolve(client: Client, engine: Engine) -> None:
    await client.ask(create(1))
    acknowledged = await client.ask({"type": "acknowledge_incident", "msg_id": 2,
                                     "incident_id": "inc1", "by": "alice"})
    assert acknowledged == {"type": "incident_acknowledged", "in_reply_to": 2,
                            "incident_id": "INC1", "status": "acknowledged"}
    resolved = await client.ask({"type": "resolve_incident", "msg_id": 3,
                                 "incident_id": "INC1"}, src="job-runner")
    assert resolved == {"type": "incident_resolved", "in_reply_to": 3, "incident_id": "INC1",
                        "status": "resolved"}
    detail = await engine.incident("INC1")
    assert detail is not None
    assert detail.incident.acknowledged_by == "socket:alice"
    assert ("socket:job-runner", "resolved") in [(entry.actor, entry.action)
                                                 for entry in detail.timeline]
    # resolving again is harmless; acknowledging or escalating a resolved incident is not
    assert (await client.ask({"type": "resolve_incident", "msg_id": 4,
                              "incident_id": "INC1"}))["status"] == "resolved"
    assert await client.ask({"type": "acknowledge_incident", "msg_id": 5,
                             "incident_id": "INC1"}) == error(5, 409, "INC1 is resolved")
    assert await client.ask({"type": "escalate_incident", "msg_id": 6, "incident_id": "INC1",
                             "current_level": 1}) == error(6, 409, "INC1 is resolved")


@pytest.mark.parametrize(("body", "expected"), [
    ({"type": "acknowledge_incident", "msg_id": 1, "incident_id": "INC9"},
     error(1, 404, "unknown incident INC9")),
    ({"type": "resolve_incident", "msg_id": 1, "incident_id": "INC9"},
     error(1, 404, "unknown incident INC9")),
    ({"type": "escalate_incident", "msg_id": 1, "incident_id": "INC9", "current_level": 1},
     error(1, 404, "unknown incident INC9")),
    ({"type": "resolve_incident", "msg_id": 1, "incident_id": "nine"},
     error(1, 400, "incident_id: expected an incident id like INC12, got 'nine'")),
    ({"type": "resolve_incident", "msg_id": 1}, error(1, 400, "incident_id: is required")),
    ({"type": "resolve_incident", "msg_id": 1, "incident_id": 9},
     error(1, 400, "incident_id: expected text, got a number")),
    ({"type": "escalate_incident", "msg_id": 1, "incident_id": "INC1"},
     error(1, 400, "current_level: is required")),
    ({"type": "escalate_incident", "msg_id": 1, "incident_id": "INC1", "current_level": "1"},
     error(1, 400, "current_level: expected an integer, got text")),
    ({"type": "create_incident", "msg_id": 1, "service": "api", "severity": "critical"},
     error(1, 400, "title: is required")),
    ({"type": "create_incident", "msg_id": 1, "title": " ", "service": "api",
      "severity": "critical"}, error(1, 400, "title: must not be empty")),
    ({"type": "create_incident", "msg_id": 1, "title": "x", "service": "api"},
     error(1, 400, "severity: is required")),
    (create(1, severity="fatal"),
     error(1, 400, "severity: expected one of critical, error, warning, info; got 'fatal'")),
    (create(1, description=5), error(1, 400, "description: expected text, got a number")),
    (create(1, labels={"host": 1}), error(1, 400, "labels.host: expected text, got a number")),
    (create(1, labels=["x"]),
     error(1, 400, "labels: expected a mapping of label names to text, got a list")),
    ({"type": "send_alert", "msg_id": 1, "severity": "info", "title": "x", "service": "api"},
     error(1, 400, "channel: is required")),
    ({"type": "get_on_call", "msg_id": 1}, error(1, 400, "team: is required")),
    ({"type": "get_on_call", "msg_id": 1, "team": "primary", "at": "tomorrow"},
     error(1, 400, "at: expected an ISO 8601 instant like 2026-05-24T09:30:00Z, "
                   "got 'tomorrow'")),
    ({"type": "get_on_call", "msg_id": 1, "team": "primary", "at": "2026-11-23T10:00"},
     error(1, 400, "at: needs a UTC offset (Z or +01:00)")),
    ({"type": "acknowledge_incident", "msg_id": 1, "incident_id": "INC1", "by": ["a"]},
     error(1, 400, "by: expected text, got a list")),
    ({"type": "note", "msg_id": 1, "incident_id": "INC9", "text": "restarted"},
     error(1, 404, "unknown incident INC9")),
    ({"type": "note", "msg_id": 1, "incident_id": "INC1"}, error(1, 400, "text: is required")),
    ({"type": "note", "msg_id": 1, "incident_id": "INC1", "text": 5},
     error(1, 400, "text: expected text, got a number")),
    ({"type": "page_everyone", "msg_id": 1},
     error(1, 400, "type: unknown message type 'page_everyone' (expected one of "
                   "create_incident, send_alert, escalate_incident, get_on_call, "
                   "acknowledge_incident, resolve_incident, note)")),
    ({"msg_id": 1}, error(1, 400, "type: is required")),
    ({"type": "get_on_call", "team": "primary"}, error(None, 400, "msg_id: is required")),
    ({"type": "get_on_call", "msg_id": "1", "team": "primary"},
     error(None, 400, "msg_id: expected an integer, got text")),
])
async def test_bad_messages_are_answered_and_the_connection_stays_usable(
        client: Client, body: dict[str, object], expected: dict[str, object]) -> None:
    assert await client.ask(body, dest="pagerduty") == expected
    assert (await client.ask(create(42)))["in_reply_to"] == 42


@pytest.mark.parametrize(("line", "expected"), [
    (b"not json", unaddressed(None, 400, "invalid JSON at line 1, column 1: Expecting value")),
    (b'{"src": "a", "body": ', unaddressed(
        None, 400, "invalid JSON at line 1, column 22: Expecting value")),
    (b'{"src":"a","dest":"b","body":{"type":"get_on_call","msg_id":1,"team":"\xff"}}',
     unaddressed(None, 400, "the line is not valid UTF-8 (byte 70)")),
    (b'{"body": {"type": "get_on_call", "msg_id": NaN}}',
     unaddressed(None, 400, "invalid JSON: NaN is not a JSON number")),
    (b'{"src":"a","dest":"b","body":{"type":"x","msg_id":1,"by":"\\ud800"}}',
     unaddressed(None, 400, "invalid JSON: a \\u escape names a lone UTF-16 surrogate")),
    (b'{"src": "a", "dest": "b"}',
     {"src": "b", "dest": "a", "body": error(None, 400, "body: is required")}),
    (b'{"src": "a", "dest": "b", "body": "create_incident"}',
     {"src": "b", "dest": "a", "body": error(None, 400, "body: expected an object, got text")}),
    (b'{"src": "a", "body": {"type": "get_on_call", "msg_id": 3, "team": "primary"}}',
     {"src": None, "dest": "a", "body": {"type": "on_call", "in_reply_to": 3,
                                         "team": "primary", "on_call": "on-call-engineer",
                                         "until": "2026-11-30T08:00:00Z"}}),
])
async def test_malformed_lines_are_answered_and_the_connection_stays_usable(
        client: Client, line: bytes, expected: dict[str, object]) -> None:
    await client.send(line)
    assert await client.reply() == expected
    assert (await client.ask(create(42)))["in_reply_to"] == 42


async def test_native_alert_lines(client: Client, engine: Engine) -> None:
    await client.send('{"summary": "Disk full", "severity": "error", "service": "api",'
                      ' "labels": {"host": "db1"}}')
    assert await client.reply() == {"status": "accepted", "incidents": ["INC1"]}
    await client.send('[{"summary": "Disk full", "service": "api", "labels": {"host": "db1"}},'
                      ' {"summary": "CPU", "labels": {"host": "db2"}},'
                      ' {"summary": "Gone", "status": "resolved", "labels": {"host": "db3"}}]')
    assert await client.reply() == {"status": "accepted", "incidents": ["INC1", "INC2", None]}
    await client.send('{"summary": "Disk full", "sevrity": "error"}')
    answer = await client.reply()
    assert answer["field"] == "sevrity"
    assert str(answer["error"]).startswith("is not a known field (expected one of ")
    await client.send("42")
    assert await client.reply() == {
        "error": "expected an alert object or a list of alert objects, got a number",
        "field": ""}
    detail = await engine.incident("INC1")
    assert detail is not None and detail.incident.source == "native"
    assert (await client.ask(create(42)))["in_reply_to"] == 42


async def test_a_label_over_the_limit_is_refused_naming_it(
        nursery: trio.Nursery, engine: Engine, path: Path, connect: Connect) -> None:
    await start(nursery, engine, path, SocketLimits(max_line_bytes=1024 * 1024))
    client = await connect()
    big = "x" * 102_400
    await client.send(json.dumps({"summary": "s", "labels": {"instance": big}}))
    assert await client.reply() == {
        "error": "label value is 102400 bytes, over the limit of 16384",
        "field": "labels.instance"}
    assert await client.ask(create(7, labels={"instance": big})) == error(
        7, 400, "labels.instance: label value is 102400 bytes, over the limit of 16384")
    assert await client.ask(create(8, description="d" * 70_000)) == error(
        8, 400, "description: annotation value is 70000 bytes, over the limit of 65536")
    assert (await client.ask(create(42)))["in_reply_to"] == 42


async def test_lines_in_one_write_are_answered_in_order_and_blank_lines_skipped(
        client: Client) -> None:
    lines = [json.dumps({"src": "a", "dest": "b", "body": create(msg_id, f"title {msg_id}")})
             for msg_id in range(1, 6)]
    await client.stream.send_all(("\n\r\n".join(lines) + "\n").encode())
    replies = [await client.reply() for _ in lines]
    assert [(reply["body"]["in_reply_to"], reply["body"]["incident_id"])  # type: ignore[index]
            for reply in replies] == [(n, f"INC{n}") for n in range(1, 6)]


async def test_a_last_line_without_newline_is_answered_at_eof(
        nursery: trio.Nursery, engine: Engine, path: Path, connect: Connect) -> None:
    await start(nursery, engine, path)
    client = await connect()
    await client.stream.send_all(EXAMPLE_REQUEST)
    await client.stream.send_eof()
    assert await client.raw_line() == EXAMPLE_REPLY
    assert await client.closed()


async def test_a_line_over_the_limit_is_answered_and_closed(client: Client) -> None:
    await client.send(b'{"summary": "' + b"x" * 5000 + b'"}')
    assert await client.reply() == unaddressed(None, 413, "line is over 4096 bytes; closing")
    assert await client.closed()


async def test_a_client_that_sends_a_whole_long_line_then_reads_gets_the_413(
        client: Client) -> None:
    """The server stops reading at the limit; unread bytes at its close would reset the
    connection and lose the answer, so it reads and discards the rest first."""
    await client.stream.send_all(b'{"summary": "' + b"x" * 3_000_000 + b'"}\n')
    assert await client.reply() == unaddressed(None, 413, "line is over 4096 bytes; closing")
    assert await client.closed()


async def test_a_long_line_without_newline_is_refused_before_it_ends(client: Client) -> None:
    await client.stream.send_all(b"[" * 5000)
    assert await client.reply() == unaddressed(None, 413, "line is over 4096 bytes; closing")
    assert await client.closed()


# Under autojump_clock, time jumps while the store works in its thread: these tests send only
# messages that do not touch the store.
ON_CALL = {"type": "get_on_call", "msg_id": 1, "team": "primary"}


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    """pytest-trio's autojump clock, but jumping only after 50 ms of real idleness: the
    engine reads the store in a worker thread, and a clock that jumped while it reads would
    run the client's timeouts out under it."""
    return trio.testing.MockClock(autojump_threshold=0.05)


async def test_an_idle_client_is_closed(client: Client, autojump_clock: trio.testing.MockClock,
                                        ) -> None:
    assert (await client.ask(ON_CALL))["type"] == "on_call"
    start_time = trio.current_time()
    assert await client.reply() == unaddressed(None, 408, "no whole line in 60 s; closing")
    assert trio.current_time() - start_time == pytest.approx(60)
    assert await client.closed()


async def test_a_slow_client_is_closed_even_while_it_trickles(
        client: Client, autojump_clock: trio.testing.MockClock) -> None:
    for _ in range(5):  # a byte every 10 s, never a whole line
        await client.stream.send_all(b" ")
        await trio.sleep(10)
    assert await client.reply() == unaddressed(None, 408, "no whole line in 60 s; closing")
    assert await client.closed()


async def test_after_an_error_line_the_server_lingers_only_while_the_client_sends(
        client: Client, autojump_clock: trio.testing.MockClock) -> None:
    await client.stream.send_all(b"[" * 5000)
    assert await client.reply() == unaddressed(None, 413, "line is over 4096 bytes; closing")
    start_time = trio.current_time()
    with pytest.raises(trio.BrokenResourceError):  # closed after linger_idle (5 s)
        for _ in range(100):
            await client.stream.send_all(b"[")
            await trio.sleep(6)
    assert trio.current_time() - start_time == pytest.approx(6)


async def test_a_failing_engine_answers_500_and_logs(
        client: Client, engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    async def broken(*args: object) -> None:
        raise RuntimeError("disk on fire")

    engine.ingest = broken  # type: ignore[assignment,method-assign]
    with caplog.at_level(logging.ERROR, logger="router.server.messages"):
        assert await client.ask(create(1)) == error(1, 500, "internal error")
        await client.send('{"summary": "Disk full"}')
        assert await client.reply() == {"error": "internal error", "field": ""}
    assert [record.message for record in caplog.records] == [
        "socket message failed", "socket alerts failed"]
    assert "disk on fire" in caplog.text
    engine.ingest = Engine.ingest.__get__(engine)  # type: ignore[method-assign]
    assert (await client.ask(create(42)))["in_reply_to"] == 42


async def test_a_slow_engine_answers_503(nursery: trio.Nursery, engine: Engine, path: Path,
                                         connect: Connect,
                                         autojump_clock: trio.testing.MockClock,
                                         caplog: pytest.LogCaptureFixture) -> None:
    async def slow(*args: object) -> None:
        await trio.sleep(3600)

    engine.ingest = slow  # type: ignore[assignment,method-assign]
    await start(nursery, engine, path, SocketLimits(handler_timeout=timedelta(seconds=30)))
    client = await connect()
    with caplog.at_level(logging.ERROR):
        assert await client.ask(create(1)) == error(1, 503, "not handled in 30 s")
        await client.send('{"summary": "Disk full"}')
        assert await client.reply() == {"error": "not handled in 30 s", "field": ""}


async def test_the_socket_file_has_mode_0660_and_is_removed_on_shutdown(
        engine: Engine, path: Path) -> None:
    shutdown = trio.Event()
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            await start(nursery, engine, path, shutdown=shutdown)
            mode = (await trio.Path(path).lstat()).st_mode
            assert stat.S_ISSOCK(mode)
            assert stat.S_IMODE(mode) == 0o660
            shutdown.set()
    assert not await trio.Path(path).exists()


async def test_the_socket_file_is_removed_when_cancelled(engine: Engine, path: Path) -> None:
    async with trio.open_nursery() as nursery:
        await start(nursery, engine, path)
        assert await trio.Path(path).exists()
        nursery.cancel_scope.cancel()
    assert not await trio.Path(path).exists()


async def test_a_stale_socket_is_replaced(nursery: trio.Nursery, engine: Engine,
                                          path: Path, connect: Connect) -> None:
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()  # the file stays, nobody listens
    await start(nursery, engine, path)
    client = await connect()
    await client.send(EXAMPLE_REQUEST)
    assert await client.raw_line() == EXAMPLE_REPLY


async def test_a_file_that_is_not_a_socket_is_refused(engine: Engine, path: Path) -> None:
    await trio.Path(path).write_text("precious")
    with pytest.raises(FileExistsError, match="exists and is not a socket; not removing it"):
        await serve_socket(engine, path)
    assert await trio.Path(path).read_text() == "precious"


async def test_a_live_socket_is_not_taken_over(nursery: trio.Nursery, engine: Engine,
                                               path: Path, connect: Connect) -> None:
    await start(nursery, engine, path)
    with pytest.raises(FileExistsError, match="another process listens on"):
        await serve_socket(engine, path)
    client = await connect()  # the first server still serves
    await client.send(EXAMPLE_REQUEST)
    assert await client.raw_line() == EXAMPLE_REPLY


async def test_shutdown_finishes_the_line_in_flight_and_closes_idle_connections(
        nursery: trio.Nursery, engine: Engine, path: Path, connect: Connect) -> None:
    entered, release = trio.Event(), trio.Event()
    ingest = engine.ingest

    async def held(alerts: object) -> object:
        entered.set()
        await release.wait()
        return await ingest(alerts)  # type: ignore[arg-type]

    engine.ingest = held  # type: ignore[assignment,method-assign]
    shutdown = trio.Event()
    done = trio.Event()

    async def serve(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        await serve_socket(engine, path, limits=LIMITS, shutdown=shutdown,
                           task_status=task_status)
        done.set()

    await nursery.start(serve)
    busy, idle = await connect(), await connect()
    await busy.send(EXAMPLE_REQUEST)
    await entered.wait()
    shutdown.set()
    assert await idle.closed()
    with pytest.raises(OSError):
        await trio.open_unix_socket(str(path))  # no longer accepting
    release.set()
    assert await busy.raw_line() == EXAMPLE_REPLY
    assert await busy.closed()
    await done.wait()


async def test_shutdown_cuts_off_lines_that_outlast_the_grace(
        nursery: trio.Nursery, engine: Engine, path: Path, connect: Connect,
        autojump_clock: trio.testing.MockClock) -> None:
    entered = trio.Event()

    async def stuck(alerts: object) -> None:
        entered.set()
        await trio.sleep_forever()

    engine.ingest = stuck  # type: ignore[assignment,method-assign]
    shutdown = trio.Event()
    await start(nursery, engine, path, shutdown=shutdown)
    client = await connect()
    await client.send(EXAMPLE_REQUEST)
    await entered.wait()
    began = trio.current_time()
    shutdown.set()
    assert await client.closed()
    assert trio.current_time() - began == pytest.approx(LIMITS.grace.total_seconds())
