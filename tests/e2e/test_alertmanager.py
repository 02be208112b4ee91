"""A real Alertmanager whose webhook receiver is router: an alert posted to Alertmanager opens
a router incident, and the same alert resolved in Alertmanager resolves it.

Needs the `prometheus-alertmanager` binary (Debian's package; .ci/run installs it); skipped
without it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import textwrap
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from router.alerts.identity import alert_identity
from tests.e2e.conftest import Daemon, show, wait_until

BINARIES = ("prometheus-alertmanager", "alertmanager")  # Debian's name, upstream's name
DELIVERY_TIMEOUT = 20.0  # seconds; with group_wait 0s and group_interval 1s it takes ~1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Alertmanager:
    def __init__(self, binary: str, directory: Path, receiver_url: str) -> None:
        directory.mkdir(parents=True)
        self.port = free_port()
        self.log_path = directory / "alertmanager.log"
        config = directory / "alertmanager.yml"
        config.write_text(textwrap.dedent(f"""
            route:
              receiver: router
              group_by: [alertname]
              group_wait: 0s
              group_interval: 1s
              repeat_interval: 1h
            receivers:
              - name: router
                webhook_configs:
                  - url: {receiver_url}
                    send_resolved: true
            """))
        command = [binary, f"--config.file={config}",
                   f"--storage.path={directory / 'data'}",
                   f"--web.listen-address=127.0.0.1:{self.port}",
                   "--cluster.listen-address=", "--log.level=debug"]
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=5.0,
                                   trust_env=False)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=log)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self) -> None:
        def ready() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"alertmanager exited {self.process.returncode}:\n"
                                     f"{self.log()}")
            try:
                return self.client.get("/-/ready").status_code == 200
            except httpx.TransportError:
                return False
        wait_until(ready, timeout=20, what=lambda: f"alertmanager ready; its log:\n{self.log()}")

    def post(self, alerts: list[dict[str, Any]]) -> None:
        response = self.client.post("/api/v2/alerts", json=alerts)
        assert response.status_code == 200, response.text

    def close(self) -> None:
        self.client.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def binary() -> str:
    """The Alertmanager binary; checked before the daemon starts, to skip at no cost."""
    found = next(filter(None, map(shutil.which, BINARIES)), None)
    if found is None:
        pytest.skip("no Alertmanager binary (apt-get install prometheus-alertmanager)")
    return found


@pytest.fixture
def alertmanager(binary: str, daemon: Daemon, tmp_path: Path) -> Iterator[Alertmanager]:
    manager = Alertmanager(binary, tmp_path / "alertmanager",
                           f"{daemon.base_url}/v1/ingest/alertmanager")
    try:
        manager.wait_ready()
        yield manager
    finally:
        manager.close()


def test_alertmanager_webhook_opens_and_resolves(daemon: Daemon,
                                                 alertmanager: Alertmanager) -> None:
    now = datetime.now(UTC)
    alert = {"labels": {"alertname": "E2EHighErrorRate", "service": "api",
                        "severity": "critical", "instance": "api-1:8080"},
             "annotations": {"summary": "Error rate above 5% on api-1:8080"},
             "startsAt": (now - timedelta(minutes=1)).isoformat(),
             "generatorURL": "http://prometheus.example.com:9090/graph"}
    alertmanager.post([alert])

    def failure(what: str) -> Callable[[], str]:
        return lambda: (f"{what}\n--- alertmanager log:\n{alertmanager.log()}\n"
                        f"--- router log:\n{daemon.log()}")

    with daemon.client() as client:
        def incident() -> dict[str, Any] | None:
            found = client.get("/v1/incidents").json()["incidents"]
            return found[0] if found else None

        opened = wait_until(incident, timeout=DELIVERY_TIMEOUT,
                            what=failure("router to open an incident"))
        fingerprint = alertmanager.client.get("/api/v2/alerts").json()[0]["fingerprint"]
        assert (opened["source"], opened["service"], opened["severity"], opened["state"],
                opened["dedup_key"], opened["summary"]) == (
            "alertmanager", "api", "critical", "triggered", alert_identity(alert["labels"]),
            "Error rate above 5% on api-1:8080")
        # what amtool sees of it on router: Alertmanager's own fingerprint
        assert [item["fingerprint"] for item in client.get("/api/v2/alerts").json()] == [
            fingerprint]

        alertmanager.post([{**alert, "endsAt": (datetime.now(UTC)
                                                - timedelta(seconds=1)).isoformat()}])
        wait_until(lambda: show(client, opened["id"])["incident"]["state"] == "resolved",
                   timeout=DELIVERY_TIMEOUT, what=failure("router to resolve the incident"))
        detail = show(client, opened["id"])
        assert [item["status"] for item in detail["alerts"]][-1] == "resolved"
        assert [item["id"] for item in client.get("/v1/incidents").json()["incidents"]] == [
            opened["id"]]
