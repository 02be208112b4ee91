"""Job runs and alert targets over real loopback HTTP to an in-process server on a real
SQLite store (issue 19 item 2): a runner's token reports runs, every bad field is a 400
naming it, an unknown job 404, a run that already ended otherwise 409, and the targets are
added, listed (a webhook URL without its token) and removed."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from router.clock import FixedClock
from router.config import load_config
from router.engine import Engine
from router.store import Store
from tests.server.support import api_client

CONFIG = """
settings:
  timezone: UTC
  ingest_tokens:
    - {name: ops, token: s3cret-ops, scopes: [admin]}
    - {name: backup-runner, token: s3cret-runner, sources: [job]}
channels:
  - {id: log, type: log}
  - {id: hooks, type: webhook, url: "http://127.0.0.1:9/unused"}
services:
  - {id: db, channels: [log]}
routes:
  - service: db
jobs:
  - {id: backup, service: db, timeout: 2h}
"""
NOW = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
OPS = {"authorization": "Bearer s3cret-ops"}
RUNNER = {"authorization": "Bearer s3cret-runner"}


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    (tmp_path / "config.yaml").write_text(textwrap.dedent(CONFIG))
    store = await Store.open(tmp_path / "router.db")
    yield Engine(load_config([tmp_path / "config.yaml"]), store, FixedClock(NOW))
    await store.close()


@pytest.fixture
async def client(engine: Engine) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(engine, headers=OPS) as http:
        yield http


async def test_a_runner_s_token_reports_a_run(client: httpx.AsyncClient) -> None:
    started = await client.post("/v1/jobs/backup/runs", headers=RUNNER,
                                json={"run_id": "r1", "status": "started"})
    assert started.status_code == 201, started.text
    assert started.json()["run"]["timeout_at"] == "2026-12-05T04:00:00+00:00"
    again = await client.post("/v1/jobs/backup/runs", headers=RUNNER,
                              json={"run_id": "r1", "status": "started"})
    assert (again.status_code, again.json()["outcome"]) == (200, "unchanged")
    ended = await client.post("/v1/jobs/backup/runs", headers=RUNNER, json={
        "run_id": "r1", "status": "failed", "exit_code": 2, "duration": 12.5,
        "output": "x" * 5000 + "tail"})
    assert ended.status_code == 201, ended.text
    run = ended.json()["run"]
    assert (run["status"], run["exit_code"], run["duration"], len(run["output"])) == (
        "failed", 2, 12.5, 4096)
    assert run["output"].endswith("tail")
    late = await client.post("/v1/jobs/backup/runs", headers=RUNNER,
                             json={"run_id": "r1", "status": "succeeded"})
    assert late.status_code == 409
    assert late.json() == {"error": "run 'r1' of job 'backup' already ended failed"}
    listed = await client.get("/v1/jobs")
    assert listed.json()["jobs"][0]["last_run"]["status"] == "failed"
    # the runner's token may report runs and nothing else
    assert (await client.get("/v1/jobs", headers=RUNNER)).status_code == 403


@pytest.mark.parametrize(("body", "field", "words"), [
    ({"status": "started"}, "run_id", "is required"),
    ({"run_id": "a b", "status": "started"}, "run_id", "expected 1 to 128 letters"),
    ({"run_id": "r1"}, "status", "is required"),
    ({"run_id": "r1", "status": "done"}, "status",
     "expected one of: started, succeeded, failed, timed_out, got 'done'"),
    ({"run_id": "r1", "status": "failed", "exit_code": "3"}, "exit_code",
     "expected a whole number from -255 to 255, got '3'"),
    ({"run_id": "r1", "status": "failed", "exit_code": 0}, "exit_code",
     "a failed run's exit code is not 0"),
    ({"run_id": "r1", "status": "failed", "duration": -1}, "duration",
     "expected a number of seconds of at least 0, got -1"),
    ({"run_id": "r1", "status": "started", "timeout": 0}, "timeout",
     "expected a number of seconds above 0, got 0.0"),
    ({"run_id": "r1", "status": "started", "started_at": "yesterday"}, "started_at",
     "expected an ISO 8601 instant like 2026-05-24T09:30:00Z, got 'yesterday'"),
    ({"run_id": "r1", "status": "started", "host": "db1"}, "host",
     "is not a known field (expected one of run_id, status, "),
])
async def test_a_bad_run_report_is_a_400_naming_the_field(
        client: httpx.AsyncClient, body: dict[str, Any], field: str, words: str) -> None:
    answer = await client.post("/v1/jobs/backup/runs", json=body, headers=RUNNER)
    assert answer.status_code == 400, answer.text
    assert answer.json()["field"] == field
    assert answer.json()["error"].startswith(words)


async def test_an_unknown_job_is_a_404(client: httpx.AsyncClient) -> None:
    answer = await client.post("/v1/jobs/nightly/runs", headers=RUNNER,
                               json={"run_id": "r1", "status": "started"})
    assert (answer.status_code, answer.json()) == (404, {"error": "no job 'nightly'"})


async def test_jobs_are_created_over_the_api(client: httpx.AsyncClient) -> None:
    created = await client.post("/v1/jobs", json={"id": "nightly", "timeout": 600})
    assert created.status_code == 201, created.text
    assert created.json() | {"last_run": None} == {
        "id": "nightly", "origin": "api", "service": None, "timeout": 600.0,
        "severity": "critical", "description": "", "last_run": None}
    twice = await client.post("/v1/jobs", json={"id": "backup"})
    assert twice.status_code == 409
    bad = await client.post("/v1/jobs", json={"id": "x", "service": "dbb"})
    assert (bad.status_code, bad.json()) == (400, {"error": "unknown service 'dbb'",
                                                   "field": "service"})


@pytest.mark.parametrize(("body", "field", "words"), [
    ({"alert_type": "sms", "target": "x"}, "alert_type",
     "expected one of: webhook, email, got 'sms'"),
    ({"alert_type": "webhook", "target": "ftp://example.com/x"}, "target",
     "expected an http:// or https:// URL with a host, got 'ftp://example.com/x'"),
    ({"alert_type": "webhook", "target": "https:///nohost"}, "target",
     "expected an http:// or https:// URL with a host"),
    ({"alert_type": "email", "target": "ops at example.com"}, "target",
     "expected one email address such as ops@example.com, got 'ops at example.com'"),
    ({"alert_type": "email", "target": "ops@example.com"}, "alert_type",
     "the config has no email channel to send it through"),
    ({"alert_type": "webhook", "target": "https://x.example", "channel": "log"}, "channel",
     "expected a webhook channel of the config (hooks), got 'log'"),
    ({"alert_type": "email", "target": "ops@example.com", "channel": "log"}, "channel",
     "expected an email channel of the config (it has none), got 'log'"),
    ({"alert_type": "webhook", "target": "https://x.example", "on_failure": "yes"},
     "on_failure", "expected true or false, got 'yes'"),
    ({"alert_type": "webhook"}, "target", "is required"),
])
async def test_a_bad_alert_target_is_a_400_naming_the_field(
        client: httpx.AsyncClient, body: dict[str, Any], field: str, words: str) -> None:
    answer = await client.post("/v1/jobs/backup/alerts", json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["field"] == field
    assert answer.json()["error"].startswith(words)


async def test_alert_targets_are_added_listed_and_removed(client: httpx.AsyncClient) -> None:
    added = await client.post("/v1/jobs/backup/alerts", json={
        "alert_type": "webhook", "target": "https://hooks.example.com/x?token=s3cret",
        "on_timeout": False})
    assert added.status_code == 201, added.text
    target = added.json()
    assert (target["target"], target["channel"], target["on_failure"],
            target["on_timeout"]) == ("https://hooks.example.com/x", None, True, False)
    listed = await client.get("/v1/jobs/backup/alerts")
    assert listed.json() == {"alerts": [target]}
    removed = await client.delete(f"/v1/job-alerts/{target['id']}")
    assert removed.status_code == 200
    assert (await client.get("/v1/jobs/backup/alerts")).json() == {"alerts": []}
    gone = await client.delete(f"/v1/job-alerts/{target['id']}")
    assert gone.status_code == 404
