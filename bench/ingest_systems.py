"""The systems bench_ingest.py compares, each started afresh pinned to one core, and the
sink their pages go to.

- `router`: `router run` as shipped, its pages to two log channels (they cost a log line);
- `router-live`: the same, with the services' channel a webhook to the sink: every new
  alert is paged to it;
- `alertmanager`: Alertmanager 0.25 with `group_by: ['...']` (a group per alert) and
  `group_wait: 1h`: notifying deferred, so it measures acceptance only;
- `alertmanager-live`: the same with `group_wait: 0s`: one webhook POST per new alert to
  the sink.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER_CORE, CLIENT_CORE = "0", "1"
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
LOAD = Path(__file__).resolve().parent / "ingest_load.py"  # the sink


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and all its threads."""
    return _cpu(Path(f"/proc/{pid}/stat"))


def main_thread_cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process's first thread (router: the trio thread)."""
    return _cpu(Path(f"/proc/{pid}/task/{pid}/stat"))


def _cpu(stat: Path) -> float:
    fields = stat.read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def get(port: int, path: str, timeout: float = 10) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


class Sink:
    """The webhook receiver of the live set-ups (bench/ingest_load.py), on the client core."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            ["taskset", "-c", CLIENT_CORE, sys.executable, str(LOAD), "sink", str(self.port)],
            stdout=subprocess.PIPE)
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != b"ready":
            raise RuntimeError("the sink did not start")

    def arrivals(self) -> tuple[int, dict[str, float]]:
        """(POSTs received, first arrival time of each alert by its instance label)."""
        _, body = get(self.port, "/arrivals", timeout=60)
        answer = json.loads(body)
        return int(answer["posts"]), dict(answer["alerts"])

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait()


class System:
    name = ""
    live = False  # pages every new alert to a sink

    def __init__(self, directory: Path, sink: Sink | None = None) -> None:
        self.directory = directory
        self.port = free_port()
        self.sink = sink
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def command(self) -> list[str]:
        raise NotImplementedError

    def ready_path(self) -> str:
        raise NotImplementedError

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        log = (self.directory / "log").open("ab")
        self.process = subprocess.Popen(["taskset", "-c", SERVER_CORE, *self.command()],
                                        stdout=log, stderr=log, cwd=self.directory)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log_tail()}")
            with contextlib.suppress(OSError):
                if get(self.port, self.ready_path(), timeout=1)[0] == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not get ready: {self.log_tail()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log_tail(self) -> str:
        return (self.directory / "log").read_text(errors="replace")[-2000:]

    def check(self) -> str:
        """What the system says it did (read before it stops), for the anchor line."""
        return ""

    def stored(self) -> int | None:
        """How many distinct alerts (router: incidents) the stopped system kept, if known."""
        return None


ROUTER_CONFIG = """
settings:
  timezone: Europe/Berlin
people:
  - id: alice
    name: Alice
    timezone: Europe/Berlin
    contact_methods: [{type: email, address: alice@example.com}]
  - id: bob
    name: Bob
    timezone: Europe/Berlin
    contact_methods: [{type: email, address: bob@example.com}]
  - id: carol
    name: Carol
    timezone: America/New_York
    contact_methods: [{type: email, address: carol@example.com}]
channels:
  - {id: log, type: log, level: info}
  - {id: log-critical, type: log, level: warning}
  %(hook)s
rotas:
  - id: primary
    name: Primary
    timezone: Europe/Berlin
    layers:
      - {members: [alice, bob, carol], every: 1w, handoff: "09:00", handoff_day: mon,
         start: 2026-01-05}
escalation_policies:
  - id: default
    name: Default
    levels:
      - {targets: [{rota: primary}], delay: 15m}
      - {targets: [{person: carol}, {channel: log-critical}], delay: 30m}
services:
  - {id: api, name: API, escalation_policy: default, channels: [%(page)s]}
  - {id: database, name: Database, escalation_policy: default, channels: [%(page)s]}
  - {id: web, name: Web, escalation_policy: default, channels: [%(page)s]}
routes:
  - {name: database, match: ['team=~"db|storage"'], service: database,
     channels: [log-critical]}
  - {name: staging, match: [env=staging], service: web, severity: {critical: warning}}
  - {name: critical, match: [severity=critical], service: api, channels: [log-critical],
     continue: true}
  - {name: api, match: [job=api], service: api}
  - {name: everything else, service: web}
"""


class Router(System):
    name = "router"
    source = ROOT  # the checkout whose `router` package runs

    def config(self) -> str:
        return ROUTER_CONFIG % {"hook": "", "page": "log"}

    def command(self) -> list[str]:
        config = self.directory / "config"
        config.mkdir(exist_ok=True)
        (config / "router.yaml").write_text(self.config())
        return [sys.executable, "-m", "router", "run", "--config", str(config),
                "--state", str(self.directory / "state"), "--listen", f"127.0.0.1:{self.port}"]

    def start(self) -> None:
        os.environ["PYTHONPATH"] = str(self.source)
        super().start()

    def ready_path(self) -> str:
        return "/readyz"

    def stored(self) -> int | None:
        with contextlib.closing(sqlite3.connect(self.directory / "state" / "router.db")) as db:
            return int(db.execute("SELECT count(*) FROM incidents").fetchone()[0])

    def outbox(self) -> dict[str, int]:
        """The outbox by state, read from the stopped daemon's store."""
        with contextlib.closing(sqlite3.connect(self.directory / "state" / "router.db")) as db:
            return dict(db.execute("SELECT channel || ' ' || state, count(*) FROM outbox "
                                   "GROUP BY channel, state").fetchall())


class RouterLive(Router):
    name = "router-live"
    live = True

    def config(self) -> str:
        assert self.sink is not None
        hook = (f"- {{id: sink, type: webhook, url: "
                f"'http://127.0.0.1:{self.sink.port}/hook'}}")
        return ROUTER_CONFIG % {"hook": hook, "page": "sink"}


ALERTMANAGER_CONFIG = """
route:
  receiver: webhook
  group_by: ['...']
  group_wait: {group_wait}
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - name: webhook
    webhook_configs:
      - url: http://127.0.0.1:{port}/hook
        send_resolved: true
"""
METRIC = re.compile(r"^(alertmanager_(?:alerts_received_total|notifications_total|"
                    r"notifications_failed_total)\S*)\s+([\d.e+]+)$", re.MULTILINE)


class Alertmanager(System):
    name = "alertmanager"
    group_wait = "1h"  # notifying deferred: acceptance only

    def command(self) -> list[str]:
        assert ALERTMANAGER, "prometheus-alertmanager is not installed"
        config = self.directory / "alertmanager.yml"
        # Deferred: the webhook's port is closed, but no group is due within the run.
        port = self.sink.port if self.sink is not None else free_port()
        config.write_text(ALERTMANAGER_CONFIG.format(port=port, group_wait=self.group_wait))
        return [ALERTMANAGER, f"--config.file={config}",
                f"--storage.path={self.directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address="]

    def ready_path(self) -> str:
        return "/-/ready"

    def check(self) -> str:
        """Its own counters: alerts received, notifications sent and failed."""
        _, body = get(self.port, "/metrics")
        found = {name: float(value) for name, value in METRIC.findall(body.decode())}
        received = sum(value for name, value in found.items()
                       if name.startswith("alertmanager_alerts_received_total"))
        sent = sum(value for name, value in found.items()
                   if name.startswith("alertmanager_notifications_total")
                   and 'integration="webhook"' in name)
        failed = sum(value for name, value in found.items()
                     if name.startswith("alertmanager_notifications_failed_total")
                     and 'integration="webhook"' in name)
        return (f"alertmanager_alerts_received_total {received:,.0f}, webhook "
                f"notifications_total {sent:,.0f}, failed {failed:,.0f}")


class AlertmanagerLive(Alertmanager):
    name = "alertmanager-live"
    live = True
    group_wait = "0s"


KINDS: dict[str, type[System]] = {
    kind.name: kind for kind in (Router, RouterLive, Alertmanager, AlertmanagerLive)}
TITLES = {"router": "router", "router-live": "router live",
          "alertmanager": "Alertmanager deferred", "alertmanager-live": "Alertmanager live"}
