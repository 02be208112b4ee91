"""`GET /v1/checks` and `GET /v1/checks/{id}/runs` over real loopback HTTP, on a real store
whose runs the check runner wrote with real psutil figures."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from router.notify.transport import Transport
from router.probes.runner import CheckRunner
from tests.server.support import api_client, engine_on_disk

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
CONFIG = """
settings:
  ingest_tokens:
    - {name: ops, token: s3cret-ops}
services:
  - {id: host}
checks:
  - {id: disk, type: disk, service: host, paths: [/], warning: 0, critical: 0}
  - {id: memory, type: memory, interval: 30s}
"""


async def test_checks_and_their_runs(tmp_path: Path) -> None:
    async with engine_on_disk(tmp_path, CONFIG, NOW) as engine:
        runner = CheckRunner(engine, Transport(), host="db1")
        first = await runner.run_once(engine.config.checks["disk"], trace_id="b" * 32)
        second = await runner.run_once(engine.config.checks["disk"], trace_id="c" * 32)
        async with api_client(engine, headers={"authorization": "Bearer s3cret-ops"}) \
                as http:
            listed = (await http.get("/v1/checks")).json()
            runs = await http.get("/v1/checks/disk/runs", params={"limit": "1"})
            none_yet = await http.get("/v1/checks/memory/runs")
            unknown = await http.get("/v1/checks/nope/runs")
            bad = await http.get("/v1/checks/disk/runs", params={"limit": "0"})
    used = second.metrics["disk_percent:/"]
    last_run = {"id": second.id, "check": "disk", "started_at": "2026-12-05T12:00:00+00:00",
                "status": "critical", "message": second.message,
                "metrics": {"disk_percent:/": used}, "duration_ms": second.duration_ms,
                "error": None, "trace_id": "c" * 32, "incident": None}
    assert listed == {"checks": [
        {"id": "disk", "type": "disk", "interval": 60.0, "timeout": 10.0, "service": "host",
         "status": "critical", "since": "2026-12-05T12:00:00+00:00", "configured": True,
         "last_run": last_run},
        {"id": "memory", "type": "memory", "interval": 30.0, "timeout": 10.0,
         "service": None, "status": "pending", "since": None, "configured": True,
         "last_run": None}]}
    assert (runs.status_code, runs.json()) == (200, {"check": "disk", "runs": [last_run]})
    assert first.incident_id == "INC1"
    assert (none_yet.status_code, none_yet.json()) == (200, {"check": "memory", "runs": []})
    assert (unknown.status_code, unknown.json()) == (404, {"error": "no check nope"})
    assert (bad.status_code, bad.json()) == (400, {
        "error": "expected a whole number from 1 to 1000", "field": "limit"})
