"""docs/socket.md names every request kind the socket accepts, and its example session is what
the socket answers: each `>` line of the doc, sent in order over a real unix socket to the
example config in config/, gets the doc's `<` line back."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import trio

from router.clock import FixedClock
from router.config import load_config
from router.engine import Engine
from router.server.messages import HANDLERS
from router.server.socket import MODE, SocketLimits, serve_socket
from router.store import Store

CHECKOUT = Path(__file__).resolve().parents[2]
DOC = (CHECKOUT / "docs" / "socket.md").read_text(encoding="utf-8")
# Tuesday 2026-12-08, 20:00 in Berlin: alice's week on platform-primary, after business hours
NOW = datetime(2026, 12, 8, 19, 0, tzinfo=UTC)
NOTIFICATION_ID = re.compile(r"[0-9a-f]{32}")


def test_every_request_kind_has_a_heading_and_a_row_naming_its_reply() -> None:
    headings = dict(re.findall(r"^### (\w+) → (\w+)$", DOC, re.MULTILINE))
    rows = dict(re.findall(r"^\| `(\w+)` \| [^|]* \| `(\w+)` \|", DOC, re.MULTILINE))
    assert sorted(headings) == sorted(HANDLERS)
    assert rows == headings


def test_the_limits_and_the_mode_are_the_codes() -> None:
    limits = SocketLimits()
    assert f"mode **{MODE:04o}**" in DOC
    assert f"| line length | {limits.max_line_bytes} bytes" in DOC
    assert f"line is over {limits.max_line_bytes} bytes; closing" in DOC
    idle = f"{limits.idle_timeout.total_seconds():g} s"
    assert f"| waiting for a whole line | {idle}" in DOC
    assert f"no whole line in {idle}; closing" in DOC
    assert f"| handling one line | {limits.handler_timeout.total_seconds():g} s |" in DOC
    assert f"| {limits.send_timeout.total_seconds():g} s per reply |" in DOC
    assert f"| {limits.grace.total_seconds():g} s of grace |" in DOC


def session() -> list[tuple[bytes, Any]]:
    """The doc's example lines: what to send and the reply expected, in the doc's order."""
    lines = re.findall(r"^([<>]) (.*)$", DOC, re.MULTILINE)
    pairs = []
    for (sent_mark, sent), (reply_mark, reply) in zip(lines[::2], lines[1::2], strict=True):
        assert (sent_mark, reply_mark) == (">", "<"), f"expected a > line and its < line: {sent}"
        pairs.append((sent.encode(), json.loads(reply)))
    return pairs


async def test_the_example_session_is_answered_as_written(tmp_path: Path) -> None:
    examples = session()
    assert len(examples) >= len(HANDLERS) + 2  # every kind, alerts and an error
    sent_kinds = {json.loads(line).get("body", {}).get("type") for line, _ in examples}
    assert set(HANDLERS) <= sent_kinds
    store = await Store.open(tmp_path / "router.db")
    engine = Engine(load_config([CHECKOUT / "config"]), store, FixedClock(NOW))
    path = tmp_path / "router.sock"
    shutdown = trio.Event()
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(lambda task_status: serve_socket(
                engine, path, shutdown=shutdown, task_status=task_status))
            stream = await trio.open_unix_socket(str(path))
            received = b""
            for line, expected in examples:
                await stream.send_all(line + b"\n")
                with trio.fail_after(10):
                    while b"\n" not in received:
                        received += await stream.receive_some()
                reply, _, received = received.partition(b"\n")
                answer = json.loads(reply)
                body = answer.get("body", {})
                if body.get("type") == "alert_sent":  # random: the doc shows one of its form
                    assert NOTIFICATION_ID.fullmatch(body["notification_id"])
                    body["notification_id"] = expected["body"]["notification_id"]
                assert answer == expected, f"sent {line.decode()}, got {reply.decode()}"
            await stream.aclose()
            shutdown.set()
    finally:
        await store.close()
