"""A real Prometheus pointed at `router run` (issue 16 item 2): an alert rule that always
fires reaches router through `alerting.alertmanagers` (API v2) and keeps its incident open
while Prometheus re-sends it; once Prometheus is stopped, nothing refreshes the alert and
the incident resolves at the alert's last endsAt, as Alertmanager resolves it.

Prometheus sets endsAt to 4 x max(resend delay, evaluation interval) after each send: with
both at 1 s here, 4 s. Needs /usr/bin/prometheus (Debian's prometheus package; .ci/run
installs it); skipped without it.
"""

from __future__ import annotations

import shutil
import subprocess
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Daemon, wait_until

PROMETHEUS = shutil.which("prometheus") or (
    "/usr/bin/prometheus" if Path("/usr/bin/prometheus").exists() else None)
pytestmark = pytest.mark.skipif(PROMETHEUS is None, reason="prometheus is not installed "
                                                           "(Debian package prometheus)")

RULES = """
groups:
  - name: e2e
    interval: 1s
    rules:
      - alert: AlwaysFiring
        expr: vector(1)
        labels: {severity: critical}
        annotations: {summary: Always firing}
"""


def start_prometheus(directory: Path, router_port: int) -> subprocess.Popen[bytes]:
    (directory / "rules.yml").write_text(textwrap.dedent(RULES))
    (directory / "prometheus.yml").write_text(textwrap.dedent(f"""
        global: {{evaluation_interval: 1s}}
        rule_files: [rules.yml]
        alerting:
          alertmanagers:
            - api_version: v2
              static_configs: [{{targets: ["127.0.0.1:{router_port}"]}}]
        """))
    assert PROMETHEUS is not None
    with (directory / "prometheus.log").open("ab") as log:
        return subprocess.Popen(
            [PROMETHEUS, f"--config.file={directory / 'prometheus.yml'}",
             f"--storage.tsdb.path={directory / 'data'}", "--web.listen-address=127.0.0.1:0",
             "--rules.alert.resend-delay=1s"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log)


def always_firing(client: httpx.Client) -> dict[str, Any] | None:
    response = client.get("/v1/incidents", params={"limit": "10"})
    assert response.status_code == 200, response.text
    found = [item for item in response.json()["incidents"]
             if item["summary"] == "Always firing"]
    return found[0] if found else None


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_stopped_prometheus_lets_its_alerts_resolve_at_their_ends_at(
        daemon: Daemon, tmp_path: Path) -> None:
    prometheus = start_prometheus(tmp_path, daemon.port)
    log = tmp_path / "prometheus.log"
    try:
        with daemon.client() as client:
            incident = wait_until(lambda: always_firing(client), timeout=15,
                                  what=lambda: f"Prometheus's alert in router; its log:\n"
                                               f"{log.read_text(errors='replace')}")
            time.sleep(6)  # past the first endsAt: Prometheus's re-sends keep it open
            assert always_firing(client)["state"] == "triggered"  # type: ignore[index]
            prometheus.terminate()
            prometheus.wait(10)
            stopped = datetime.now(UTC)
            resolved = wait_until(
                lambda: (found := always_firing(client)) and found["state"] == "resolved"
                and found, timeout=10, what="the incident to resolve at its endsAt")
            detail = client.get(f"/v1/incidents/{incident['id']}").json()
    finally:
        if prometheus.poll() is None:
            prometheus.kill()
            prometheus.wait()
    resolved_at = instant(resolved["resolved_at"])
    # Prometheus's last send set endsAt at most 4 s after the stop (and its shutdown may
    # flush one last send); the scheduler fires on time.
    assert stopped - timedelta(seconds=1) < resolved_at < stopped + timedelta(seconds=6)
    last = detail["timeline"][-1]
    assert (last["actor"], last["action"]) == ("router", "resolved")
    why = last["details"]["why"]
    assert why.startswith("alert Always firing not refreshed by its endsAt "), why
    ends_at = instant(why.rsplit(" ", 1)[1])
    assert abs((resolved_at - ends_at).total_seconds()) < 1.5
