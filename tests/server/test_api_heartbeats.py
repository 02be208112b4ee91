"""POST|GET /v1/heartbeats/{id}[/start|/fail|/{exit_code}]?token=... and GET /v1/heartbeats
(issue 19 item 1), over real loopback HTTP to the API on a real SQLite store: the URL token
is the only credential, a wrong one is the same 404 as an unknown id, the body's end is kept,
a failure opens an incident and the next success resolves it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from router.engine import Engine
from router.server.http import Limits
from tests.server.support import api_client, engine_on_disk

NOW = datetime(2026, 12, 5, 9, 30, tzinfo=UTC)
TOKEN = "0123456789abcdef0123"
CONFIG = f"""
settings: {{ingest_tokens: [{{name: reader, token: reader-token, scopes: [read]}}]}}
channels: [{{id: log, type: log}}]
services: [{{id: backups, channels: [log]}}]
heartbeats:
  - {{id: backup, service: backups, period: 1h, grace: 10m, token: {TOKEN}}}
  - {{id: nightly, service: backups, schedule: '30 2 * * *', timezone: Europe/Berlin,
     token: {TOKEN[::-1]}}}
"""


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with engine_on_disk(tmp_path, CONFIG, NOW) as engine:
        await engine.schedule_heartbeats()
        yield engine


@pytest.fixture
async def http(engine: Engine) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(engine, limits=Limits(max_body_bytes=65536)) as client:
        yield client


async def test_a_ping_with_its_token_is_recorded(http: httpx.AsyncClient) -> None:
    answer = await http.post("/v1/heartbeats/backup", params={"token": TOKEN},
                             content=b"backup done: 12 GB\n",
                             headers={"content-type": "text/plain"})
    assert (answer.status_code, answer.json()) == (200, {
        "heartbeat": "backup", "state": "up", "deadline": "2026-12-05T10:40:00+00:00"})
    answer = await http.get("/v1/heartbeats/backup", params={"token": TOKEN})  # curl, wget
    assert answer.status_code == 200, answer.text
    listed = await http.get("/v1/heartbeats", headers={"authorization": "Bearer reader-token"})
    assert listed.status_code == 200, listed.text
    backup, nightly = listed.json()["heartbeats"]
    assert {key: backup[key] for key in ("id", "service", "state", "period", "grace",
                                         "last_ping_at", "last_signal", "last_message",
                                         "deadline", "pings")} == {
        "id": "backup", "service": "backups", "state": "up", "period": "1h", "grace": "10m",
        "last_ping_at": "2026-12-05T09:30:00+00:00", "last_signal": "success",
        "last_message": "", "deadline": "2026-12-05T10:40:00+00:00", "pings": 2}
    assert "token" not in backup and TOKEN not in listed.text
    # 02:30 in Berlin (01:30 UTC) tomorrow, plus the default grace of 5m
    assert (nightly["state"], nightly["schedule"], nightly["timezone"], nightly["deadline"]) \
        == ("new", "30 2 * * *", "Europe/Berlin", "2026-12-06T01:35:00+00:00")


@pytest.mark.parametrize(("path", "token"), [
    ("/v1/heartbeats/backup", TOKEN[:-1] + "x"),
    ("/v1/heartbeats/backup", ""),
    ("/v1/heartbeats/backup", TOKEN[::-1]),  # another heartbeat's token
    ("/v1/heartbeats/nope", TOKEN),
    ("/v1/heartbeats/backup/fail", "nope"),
    ("/v1/heartbeats/backup/0", None),
])
async def test_a_wrong_token_is_the_same_404_as_an_unknown_heartbeat(
        http: httpx.AsyncClient, path: str, token: str | None) -> None:
    params = {} if token is None else {"token": token}
    answer = await http.post(path, params=params,
                             headers={"authorization": "Bearer reader-token"})
    assert (answer.status_code, answer.json()) == (404, {
        "error": "no such heartbeat, or not its token"})


async def test_a_failure_opens_an_incident_with_the_output_and_a_success_resolves_it(
        http: httpx.AsyncClient, engine: Engine) -> None:
    started = await http.post("/v1/heartbeats/backup/start", params={"token": TOKEN})
    assert started.json()["state"] == "new"
    output = b"line\n" * 2000 + b"rsync error: some files could not be transferred\n"
    failed = await http.post("/v1/heartbeats/backup/23", params={"token": TOKEN},
                             content=output)
    assert (failed.status_code, failed.json()) == (200, {
        "heartbeat": "backup", "state": "failed", "deadline": None})
    [incident] = await engine.incidents()
    assert incident.summary == "Heartbeat backup reported a failure (exit code 23)"
    detail = await engine.incident(incident.id)
    assert detail is not None
    message = detail.alerts[-1]["annotations"]["message"]
    assert message.endswith("rsync error: some files could not be transferred\n")
    assert message.startswith("…") and len(message) < 4200  # the end of 10 KB kept
    ok = await http.post("/v1/heartbeats/backup/0", params={"token": TOKEN})
    assert ok.json()["state"] == "up"
    [incident] = await engine.incidents()
    assert incident.state.value == "resolved"
    failed = await http.get("/v1/heartbeats/backup/fail", params={"token": TOKEN})
    assert failed.json()["state"] == "failed"


@pytest.mark.parametrize("code", ["256", "-1", "stop", "1e3"])
async def test_a_path_that_is_no_exit_code_is_400(http: httpx.AsyncClient, code: str) -> None:
    answer = await http.post(f"/v1/heartbeats/backup/{code}", params={"token": TOKEN})
    assert (answer.status_code, answer.json()["field"]) == (400, "exit_code")
    assert "expected start, fail or an exit code 0-255" in answer.json()["error"]


async def test_the_list_needs_the_read_scope(http: httpx.AsyncClient) -> None:
    assert (await http.get("/v1/heartbeats", params={"token": TOKEN})).status_code == 401
