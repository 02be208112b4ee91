"""How soon a failed job run's webhook target hears of it (issue 19 item 2: "within 5
seconds", p99).

A plain script (`python bench/bench_job_alerts.py`). router runs as shipped: `router run`
as a child process on a temporary state directory (SQLite WAL, synchronous=FULL), with a
webhook channel `job-hooks`, a job `backup` on service `database`, and one webhook alert
target on the job pointing at a receiver in this process (a threaded HTTP server answering
200). The bench reports RUNS failed runs, one at a time at RATE per second, each as
`POST /v1/jobs/backup/runs` ({run_id, status: failed, exit_code: 3, ...}) as `router exec`
does, and times each from just before its report was sent until the receiver had the POST
naming that run id. Every run also opens or joins the service's incident, so the daemon does
what a real failure costs it, not the webhook alone.

    .venv/bin/python bench/bench_job_alerts.py [--runs 300] [--rate 10]

Prints the count, min, median, p90, p99 and max in milliseconds, and whether p99 is
within 5 s. The figure is in the report of the session that added it; re-run it here.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONFIG = """
settings:
  timezone: UTC
channels:
  - {id: log, type: log, level: debug}
  - {id: job-hooks, type: webhook, url: "http://127.0.0.1:9/unused"}
escalation_policies:
  - {id: ops, levels: [{targets: [{channel: log}], delay: 1h}]}
services:
  - {id: database, escalation_policy: ops, channels: [log]}
routes:
  - service: database
jobs:
  - {id: backup, service: database, timeout: 1h}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Receiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.arrived: dict[str, float] = {}
        self.changed = threading.Condition()

    def wait_for(self, run_id: str, timeout: float) -> float | None:
        with self.changed:
            self.changed.wait_for(lambda: run_id in self.arrived, timeout)
            return self.arrived.get(run_id)


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        at = time.monotonic()
        run_id = json.loads(body)["incident"]["labels"]["run_id"]
        server = self.server
        assert isinstance(server, Receiver)
        with server.changed:
            server.arrived.setdefault(run_id, at)
            server.changed.notify_all()
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *arguments: Any) -> None:
        pass


def request(port: int, method: str, path: str, body: object, token: str = "") -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    connection.request(method, path, json.dumps(body), headers)
    answer = connection.getresponse()
    answer.read()
    connection.close()
    return answer.status


def start_router(directory: Path, port: int) -> subprocess.Popen[bytes]:
    (directory / "config").mkdir()
    (directory / "config" / "router.yaml").write_text(CONFIG)
    log = (directory / "log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "router", "run", "--config", str(directory / "config"),
         "--state", str(directory / "state"), "--listen", f"127.0.0.1:{port}"],
        stdout=log, stderr=log, cwd=directory, env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError((directory / "log").read_text()[-2000:])
        with contextlib.suppress(OSError):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/readyz")
            if connection.getresponse().status == 200:
                return process
        time.sleep(0.01)
    raise RuntimeError("router did not get ready")


def measure(runs: int, rate: float) -> list[float]:
    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory(prefix="bench-job-alerts-") as temporary:
        directory, port = Path(temporary), free_port()
        process = start_router(directory, port)
        try:
            token = (directory / "state" / "admin.token").read_text().strip()
            url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
            assert request(port, "POST", "/v1/jobs/backup/alerts", {
                "alert_type": "webhook", "target": url}, token) == 201
            latencies = []
            for number in range(runs):
                run_id = f"run-{number}"
                began = time.monotonic()
                status = request(port, "POST", "/v1/jobs/backup/runs", {
                    "run_id": run_id, "status": "failed", "exit_code": 3, "duration": 12.5,
                    "output": "pg_dump: error: could not write: No space left on device\n"})
                assert status == 201, status
                arrived = receiver.wait_for(run_id, 30)
                if arrived is None:
                    raise RuntimeError(f"{run_id}: no POST within 30 s")
                latencies.append((arrived - began) * 1000)
                time.sleep(max(0.0, began + 1 / rate - time.monotonic()))
        finally:
            process.terminate()
            process.wait(timeout=30)
            receiver.shutdown()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--rate", type=float, default=10.0, help="failed runs per second")
    arguments = parser.parse_args()
    latencies = sorted(measure(arguments.runs, arguments.rate))

    def quantile(share: float) -> float:
        return latencies[min(len(latencies) - 1, int(share * len(latencies)))]

    p99 = quantile(0.99)
    print(f"{len(latencies)} failed runs at {arguments.rate:g}/s: report -> webhook POST "
          f"min {latencies[0]:.1f} ms, median {statistics.median(latencies):.1f} ms, "
          f"p90 {quantile(0.90):.1f} ms, p99 {p99:.1f} ms, max {latencies[-1]:.1f} ms; "
          f"p99 within 5 s: {'yes' if p99 < 5000 else 'NO'}")


if __name__ == "__main__":
    main()
