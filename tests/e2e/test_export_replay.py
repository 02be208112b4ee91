"""`router export alerts` beside a running daemon, and `router replay` of what it wrote and of
what a real Alertmanager's webhook sent (issue 20 item 3), each command as a subprocess.

The Alertmanager test needs the `prometheus-alertmanager` binary; skipped without it.
"""

from __future__ import annotations

import http.server
import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import CONFIG, Daemon, wait_until
from tests.e2e.test_alertmanager import BINARIES, DELIVERY_TIMEOUT, Alertmanager


def router(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "router", *arguments], capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.mark.sqlite_only
def test_export_beside_the_running_daemon_then_replay(daemon: Daemon, tmp_path: Path) -> None:
    """SQLite only: export reads the state directory's router.db as an immutable file."""
    alert = {"summary": "Disk full", "severity": "critical",
             "labels": {"alertname": "DiskFull", "instance": "db1"}}
    with httpx.Client(base_url=daemon.base_url, timeout=10.0, trust_env=False) as client:
        for status in ("firing", "firing", "resolved"):
            response = client.post("/v1/alerts", json={**alert, "status": status})
            assert response.status_code == 202, response.text
    target = tmp_path / "alerts.jsonl"
    exported = router("export", "alerts", "--since", "1h", "--state", str(daemon.state_dir),
                      "--out", str(target))
    assert (exported.returncode, exported.stderr) == (0, f"2 alerts written to {target}\n")
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert [(line["status"], line["count"], line["incident"], line["source"])
            for line in lines] == [("firing", 2, "INC1", "native"),
                                   ("resolved", 1, "INC1", "native")]
    assert daemon.process is not None and daemon.process.poll() is None, "still running"

    replayed = router("replay", "--config", str(daemon.config_dir), str(target),
                      "--format", "json")
    assert replayed.returncode == 0, replayed.stderr
    report = json.loads(replayed.stdout)
    incidents = report["config"]["incidents"]
    assert (report["alerts"], incidents["opened_by_service"], incidents["still_open"],
            report["config"]["channels"], report["config"]["people"]) == (
        3, {"general": 1}, 0, {"log": 1}, {})  # the config has no email channel


class Capture(http.server.BaseHTTPRequestHandler):
    """A webhook receiver that keeps each body as one line of `path`."""

    capture_file: Path  # not `path`: the handler's own attribute for the request's path

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        with self.capture_file.open("a", encoding="utf-8") as target:
            target.write(json.dumps(json.loads(body)) + "\n")
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def captured(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """(the file the webhook bodies go to, the receiver's URL)."""
    path = tmp_path / "webhook.jsonl"
    handler = type("Handler", (Capture,), {"capture_file": path})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield path, f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_replay_of_a_real_alertmanager_s_webhook_payloads(
        captured: tuple[Path, str], tmp_path: Path) -> None:
    binary = next(filter(None, map(shutil.which, BINARIES)), None)
    if binary is None:
        pytest.skip("no Alertmanager binary (apt-get install prometheus-alertmanager)")
    path, url = captured
    manager = Alertmanager(binary, tmp_path / "alertmanager", url)
    try:
        manager.wait_ready()
        started = datetime.now(UTC) - timedelta(minutes=20)
        alert = {"labels": {"alertname": "HighErrorRate", "service": "api",
                            "severity": "critical", "instance": "api-1"},
                 "annotations": {"summary": "Error rate above 5%"},
                 "startsAt": started.isoformat()}
        manager.post([alert])
        wait_until(lambda: path.exists() and path.read_text().count("\n") >= 1,
                   timeout=DELIVERY_TIMEOUT, what=lambda: f"a firing webhook:\n{manager.log()}")
        manager.post([{**alert, "endsAt": (datetime.now(UTC)
                                           - timedelta(seconds=1)).isoformat()}])
        wait_until(lambda: '"resolved"' in path.read_text().splitlines()[-1],
                   timeout=DELIVERY_TIMEOUT, what=lambda: f"a resolved webhook:\n{manager.log()}")
    finally:
        manager.close()
    config = tmp_path / "config"
    config.mkdir()
    (config / "router.yaml").write_text(CONFIG)
    replayed = router("replay", "--config", str(config), str(path), "--format", "json")
    assert replayed.returncode == 0, replayed.stderr
    report = json.loads(replayed.stdout)
    incidents = report["config"]["incidents"]
    assert (report["from"], incidents["opened"], incidents["still_open"]) == (
        started.strftime("%Y-%m-%dT%H:%M:%SZ"), 1, 0)
    assert report["config"]["escalations_beyond_level_1"] == 1, \
        "open 20 minutes: past level 1's 15"
