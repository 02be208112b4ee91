"""Heartbeats end to end (issue 19 item 1): `router run` as a subprocess, stopped across a
heartbeat's deadline and started again on the same state directory, reports the miss once,
at start, and never again after another restart; the next ping resolves it; `router
heartbeats` shows the state. And Prometheus' Watchdog, posted to /api/v2/alerts by hand and
sent by a real Prometheus, keeps a heartbeat alive and pages when it stops."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import CONFIG, Daemon, StartDaemon, wait_until
from tests.e2e.test_prometheus_expiry import PROMETHEUS, start_prometheus

TOKEN = "e2e0heartbeat0token0000000000001"
HEARTBEATS = f"""
heartbeats:
  - {{id: backup, service: database, period: 6s, grace: 2s, token: {TOKEN}}}
"""
WATCHDOG = """
heartbeats:
  - {id: prometheus, service: monitoring, period: 2s, grace: 1s,
     match: {alertname: Watchdog}}
"""


def heartbeat_incidents(daemon: Daemon, key: str) -> list[dict[str, Any]]:
    with daemon.client() as client:
        answer = client.get("/v1/incidents", params={"limit": "100"})
        assert answer.status_code == 200, answer.text
        return [item for item in answer.json()["incidents"] if item["dedup_key"] == key]


def ping(daemon: Daemon, path: str = "/v1/heartbeats/backup") -> dict[str, Any]:
    answer = httpx.post(daemon.base_url + path, params={"token": TOKEN}, trust_env=False,
                        content=b"done", headers={"content-type": "text/plain"})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def cli_heartbeats(daemon: Daemon) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "router", "heartbeats", "--config", str(daemon.config_dir),
         *daemon.store_options, "--format", "json"],
        capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return {item["id"]: item for item in json.loads(done.stdout)["heartbeats"]}


def test_a_daemon_down_past_the_deadline_reports_the_miss_once(
        start_daemon: StartDaemon) -> None:
    daemon = start_daemon(CONFIG + HEARTBEATS)
    assert ping(daemon)["state"] == "up"  # due 8 s from now
    pinged = time.monotonic()
    daemon.stop()
    time.sleep(max(0.0, pinged + 10 - time.monotonic()))  # down across the deadline
    assert cli_heartbeats(daemon)["backup"]["state"] == "up"  # nothing ran meanwhile
    daemon.start()
    [incident] = wait_until(lambda: heartbeat_incidents(daemon, "heartbeat:backup") or None,
                            timeout=10, what=lambda: f"the missed heartbeat's incident; "
                                                     f"log:\n{daemon.log()}")
    assert (incident["service"], incident["state"], incident["summary"]) == (
        "database", "triggered", "Heartbeat backup missed its deadline")
    daemon.restart()
    time.sleep(2)
    assert len(heartbeat_incidents(daemon, "heartbeat:backup")) == 1
    assert daemon.log().count("heartbeat missed") == 1
    listed = cli_heartbeats(daemon)["backup"]
    assert (listed["state"], listed["deadline"], listed["last_message"]) == (
        "missed", None, "done")
    assert ping(daemon)["state"] == "up"
    [incident] = heartbeat_incidents(daemon, "heartbeat:backup")
    assert incident["state"] == "resolved"
    with daemon.client() as client:
        [shown] = client.get("/v1/heartbeats").json()["heartbeats"]
    assert shown["state"] == "up" and shown["deadline"] is not None


def test_prometheus_watchdog_pages_when_it_stops(start_daemon: StartDaemon) -> None:
    daemon = start_daemon(CONFIG + WATCHDOG)
    watchdog = [{"labels": {"alertname": "Watchdog", "severity": "none"},
                 "annotations": {"summary": "always firing"}}]
    with daemon.client("") as client:
        for _ in range(5):  # Prometheus re-sends it every evaluation
            assert client.post("/api/v2/alerts", json=watchdog).status_code == 200
            time.sleep(0.8)
        assert heartbeat_incidents(daemon, "heartbeat:prometheus") == []
        [incident] = wait_until(
            lambda: heartbeat_incidents(daemon, "heartbeat:prometheus") or None, timeout=10,
            what=lambda: f"the Watchdog heartbeat's incident; log:\n{daemon.log()}")
        assert (incident["service"], incident["state"]) == ("monitoring", "triggered")
        assert client.post("/api/v2/alerts", json=watchdog).status_code == 200
    [incident] = heartbeat_incidents(daemon, "heartbeat:prometheus")
    assert incident["state"] == "resolved"


def triggered(daemon: Daemon) -> list[dict[str, Any]]:
    return [item for item in heartbeat_incidents(daemon, "heartbeat:prometheus")
            if item["state"] == "triggered"]


@pytest.mark.skipif(PROMETHEUS is None, reason="prometheus is not installed (Debian package "
                                               "prometheus)")
def test_a_real_prometheus_that_stops_pages_through_its_always_firing_alert(
        start_daemon: StartDaemon, tmp_path: Path) -> None:
    """Prometheus' Watchdog pattern: an always-firing rule (here AlwaysFiring, evaluated and
    re-sent every second) through `alerting.alertmanagers` keeps the heartbeat up; when
    Prometheus stops, the heartbeat pages."""
    daemon = start_daemon(CONFIG + WATCHDOG.replace("period: 2s, grace: 1s",
                                                    "period: 5s, grace: 3s").replace(
        "alertname: Watchdog", "alertname: AlwaysFiring"))
    prometheus = start_prometheus(tmp_path, daemon.port)
    log = tmp_path / "prometheus.log"
    try:
        with daemon.client() as client:
            def pinged() -> bool:
                [shown] = client.get("/v1/heartbeats").json()["heartbeats"]
                return shown["pings"] >= 3
            wait_until(pinged, timeout=20, what=lambda: f"Prometheus to feed the heartbeat; "
                                                        f"its log:\n{log.read_text()}")
            time.sleep(10)  # longer than period and grace: the re-sends keep it up
            assert triggered(daemon) == []
            prometheus.terminate()
            prometheus.wait(10)
            [incident] = wait_until(lambda: triggered(daemon) or None, timeout=15,
                                    what=lambda: f"the page; router's log:\n{daemon.log()}")
            assert (incident["service"], incident["state"]) == ("monitoring", "triggered")
            assert not [item for item in client.get("/v1/incidents").json()["incidents"]
                        if item["summary"] == "Always firing"]  # the heartbeat's, no incident
    finally:
        if prometheus.poll() is None:
            prometheus.kill()
            prometheus.wait()
