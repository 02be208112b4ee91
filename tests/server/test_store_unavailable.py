"""The servers when the store cannot write (issue 13 item 2): ingest answers 503 with
Retry-After (it answered 500 "internal error"), /readyz is 503 with the cause until a write
succeeds again while /healthz stays 200, and the unix socket answers an error line with code
503. Real loopback HTTP and a real unix socket to an in-process server, a real SQLite store
whose commits fail through tests.fakes.full_disk.
"""

from __future__ import annotations

import json
import logging
import textwrap
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import httpx
import pytest
import trio

from router.clock import FixedClock
from router.config import load_config
from router.engine import Engine
from router.server.api import build_routes
from router.server.http import serve_http
from router.server.socket import serve_socket
from router.store import Store
from tests.fakes.full_disk import FullDiskConnection, full_disk

CONFIG = """
channels:
  - {id: log, type: log}
services:
  - {id: api, channels: [log]}
routes:
  - service: api
"""
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
ALERT = {"summary": "Disk full", "severity": "critical", "labels": {"alertname": "DiskFull"}}
FULL = "the store cannot write: database or disk is full"


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[
        tuple[httpx.AsyncClient, Path, type[FullDiskConnection]]]:
    (tmp_path / "config.yaml").write_text(textwrap.dedent(CONFIG))
    disk = full_disk()
    store = await Store.open(tmp_path / "router.db", writer_factory=disk)
    engine = Engine(load_config([tmp_path / "config.yaml"]), store, FixedClock(NOW))
    shutdown = trio.Event()
    socket_path = tmp_path / "router.sock"
    async with trio.open_nursery() as nursery:
        port = await nursery.start(partial(serve_http, build_routes(engine), port=0,
                                           shutdown=shutdown))
        await nursery.start(partial(serve_socket, engine, socket_path, shutdown=shutdown))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            yield http, socket_path, disk
        shutdown.set()
    await store.close()


async def test_ingest_answers_503_with_retry_after_and_readyz_follows_the_store(
        served: tuple[httpx.AsyncClient, Path, type[FullDiskConnection]],
        caplog: pytest.LogCaptureFixture) -> None:
    http, _, disk = served
    assert (await http.get("/readyz")).status_code == 200
    assert (await http.post("/v1/alerts", json=ALERT)).status_code == 202
    disk.full = True
    for _ in range(20):
        answer = await http.post("/v1/alerts", json=ALERT)
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "10"
        assert answer.json() == {"error": FULL}
    ready = await http.get("/readyz")
    assert (ready.status_code, ready.json()) == (503, {"status": "not ready", "error": FULL})
    assert ready.headers["retry-after"] == "10"
    assert (await http.get("/healthz")).status_code == 200  # liveness: it answers
    assert not [record for record in caplog.records if record.exc_info]
    assert len([record for record in caplog.records if record.levelno >= logging.ERROR]) == 1
    disk.full = False
    await trio.sleep(1.1)  # readyz tries a write at most once a second
    ready = await http.get("/readyz")
    assert (ready.status_code, ready.json()) == (200, {"status": "ok"})
    assert (await http.post("/v1/alerts", json=ALERT)).status_code == 202


async def test_the_socket_answers_503_lines_when_the_store_cannot_write(
        served: tuple[httpx.AsyncClient, Path, type[FullDiskConnection]]) -> None:
    _, socket_path, disk = served
    disk.full = True
    stream = await trio.open_unix_socket(str(socket_path))
    async with stream:
        await stream.send_all(json.dumps(ALERT).encode() + b"\n")
        await stream.send_all(json.dumps({"src": "cli", "dest": "router", "body": {
            "type": "create_incident", "msg_id": 7, "title": "Disk full",
            "service": "api", "severity": "critical"}}).encode() + b"\n")
        buffer = b""
        with trio.fail_after(10):
            while buffer.count(b"\n") < 2:
                buffer += await stream.receive_some()
    native, message = (json.loads(line) for line in buffer.splitlines())
    assert native == {"error": FULL, "field": "", "retry_after": 10}
    assert message == {"src": "router", "dest": "cli", "body": {
        "type": "error", "in_reply_to": 7, "code": 503, "text": FULL}}
