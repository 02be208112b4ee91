"""Local health checks in `router run` as a subprocess: the daemon runs a Nagios plugin on
its interval, a change of its status opens and resolves the check's incident, the runs are
served by GET /v1/checks, an alert whose service attaches the check carries its result, and
a restart keeps the status (no second incident)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.e2e.conftest import StartDaemon, incidents_by_key, show, wait_until

CONFIG = """
settings:
  timezone: UTC
channels:
  - {{id: log, type: log}}
services:
  - {{id: db, channels: [log], attach_checks: [thing]}}
routes:
  - {{match: [source=check], service: db}}
  - {{match: ['alertname="DiskFull"'], service: db}}
checks:
  - {{id: thing, type: command, command: [{plugin}], interval: 1s, timeout: 5s}}
"""


def status_of(client: httpx.Client) -> dict[str, Any]:
    listed: list[dict[str, Any]] = client.get("/v1/checks").json()["checks"]
    return listed[0]


def test_a_check_pages_resolves_and_attaches_its_result(tmp_path: Path,
                                                        start_daemon: StartDaemon) -> None:
    wanted = tmp_path / "exit-status"
    wanted.write_text("0")
    plugin = tmp_path / "check_thing"
    plugin.write_text(f"#!/bin/sh\nstatus=$(cat {wanted})\necho \"THING $status|x=$status\"\n"
                      "exit $status\n")
    plugin.chmod(0o755)
    daemon = start_daemon(CONFIG.format(plugin=plugin))
    with daemon.client() as client:
        wait_until(lambda: status_of(client)["status"] == "ok", timeout=20,
                   what=lambda: f"the check's first run; log:\n{daemon.log()}")
        wanted.write_text("2")
        opened = wait_until(lambda: incidents_by_key(client).get("check:thing"), timeout=20,
                            what=lambda: f"the check's incident; log:\n{daemon.log()}")
        assert (opened["state"], opened["severity"], opened["service"]) == (
            "triggered", "critical", "db")
        wanted.write_text("0")
        wait_until(lambda: incidents_by_key(client)["check:thing"]["state"] == "resolved",
                   timeout=20, what=lambda: f"the resolve; log:\n{daemon.log()}")
        runs = client.get("/v1/checks/thing/runs").json()["runs"]
        assert {"ok", "critical"} <= {run["status"] for run in runs}
        assert any(run["incident"] == opened["id"] for run in runs)

        answer = client.post("/v1/alerts", json={"summary": "Disk full", "severity": "critical",
                                                 "labels": {"alertname": "DiskFull"}})
        assert answer.status_code == 202, answer.text
        detail = show(client, answer.json()["incidents"][0]["incident_id"])
        assert detail["alerts"][0]["annotations"]["health.thing"] == "ok: THING 0"
        assert [entry["details"] for entry in detail["timeline"]
                if entry["action"] == "health context"] == [{"thing": "ok: THING 0"}]
    daemon.restart()
    with daemon.client() as client:
        before = len(client.get("/v1/checks/thing/runs").json()["runs"])
        wait_until(lambda: len(client.get("/v1/checks/thing/runs").json()["runs"]) > before,
                   timeout=20, what="a run after the restart")
        assert status_of(client)["status"] == "ok"
        assert len([key for key in incidents_by_key(client) if key == "check:thing"]) == 1
        assert len(client.get("/v1/incidents", params={"limit": "1000"}).json()["incidents"]
                   ) == 2
