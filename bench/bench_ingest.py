"""Alert ingest: router vs Alertmanager 0.25, side by side, same requests, same machine.

A plain script (`python bench/bench_ingest.py`, or `make bench`). Each system in turn runs
alone, pinned to core 0 (`taskset -c 0`); wrk runs on core 1 with 50 connections. Both get
the same `POST /api/v2/alerts` bodies (Alertmanager's own API, which router also speaks), built
by wrk Lua scripts:

- a. new alerts, one per request: every alert carries a label value never sent before, so
  each opens an incident in router and adds an alert in Alertmanager;
- b. new alerts, 100 per request;
- c. repeats, one per request: a pool of 1,000 alerts (opened during the warm-up) re-sent
  round robin, as Prometheus re-sends firing alerts; each attaches to its open incident.

router runs as shipped: `router run` on a generated config (services, routes, a rota, an
escalation policy, log channels), its store in a temporary directory on disk, SQLite WAL with
synchronous=FULL, so every answer follows an fsync. Alertmanager keeps alerts in memory.
Each case starts the system afresh, warms up, then measures for a fixed time; the server's
CPU time per alert is printed too (from /proc: it holds up when the core is shared). Then
the RSS per open incident: VmRSS after N new alerts minus VmRSS after a warm-up, over N.

    .venv/bin/python bench/bench_ingest.py [--duration 10] [--warmup 3] [--connections 50]
        [--systems router,alertmanager] [--cases a,b,c] [--rss 10000,50000]
        [--group-by 'alertname, service'] [--py-spy DIR [--py-spy-gil]]
        [--router-source CHECKOUT] [--keep]

The figures and how to read them are in docs/benchmarks.md.

Needs wrk (apt-get install wrk), prometheus-alertmanager (apt-get install
prometheus-alertmanager) and taskset (util-linux). Prints markdown tables.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PATH = "/api/v2/alerts"
POOL = 1000  # distinct alerts re-sent in case c
SERVER_CORE, CLIENT_CORE = "0", "1"
STARTS_AT = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")

# One Prometheus-like alert; %s is the instance label, the only label that varies.
ALERT = (
    '{"labels":{"alertname":"HighLatency","job":"api","service":"api","severity":"warning",'
    '"instance":"%s"},"annotations":{"summary":"p99 latency over 500ms",'
    '"description":"The API answers slowly on this instance."},'
    f'"startsAt":"{STARTS_AT}","generatorURL":"http://prometheus:9090/graph?g0.expr=latency"}}'
)

LUA = """
local batch, tag, pool = {batch}, "{tag}", {pool}
local template = '{alert}'
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end
local counter = 0
function request()
  local alerts = {{}}
  for position = 1, batch do
    counter = counter + 1
    local instance
    if pool > 0 then
      instance = "repeat-" .. ((counter * 7919 + thread_number) % pool)
    else
      instance = tag .. "-" .. thread_number .. "-" .. counter
    end
    alerts[position] = string.format(template, instance)
  end
  return wrk.format("POST", "{path}", {{["Content-Type"] = "application/json"}},
                    "[" .. table.concat(alerts, ",") .. "]")
end
"""


@dataclass(frozen=True)
class Case:
    key: str
    title: str
    batch: int
    repeat: bool


CASES = {
    "a": Case("a", "new alerts, 1 per request", 1, False),
    "b": Case("b", "new alerts, 100 per request", 100, False),
    "c": Case("c", "repeat alerts, 1 per request", 1, True),
}


@dataclass(frozen=True)
class Result:
    alerts_per_second: float
    p99_ms: float
    alerts: int  # completed during the measured run
    errors: str
    cpu: float = 0.0  # the server's CPU seconds per wall second during the run
    main_cpu: float = 0.0  # the same for its first thread only


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
  - {id: api, name: API, escalation_policy: default, channels: [log]}
  - {id: database, name: Database, escalation_policy: default, channels: [log]}
  - {id: web, name: Web, escalation_policy: default, channels: [log]}
routes:
  - {name: database, match: ['team=~"db|storage"'], service: database,
     channels: [log-critical]}
  - {name: staging, match: [env=staging], service: web, severity: {critical: warning}}
  - {name: critical, match: [severity=critical], service: api, channels: [log-critical],
     continue: true}
  - {name: api, match: [job=api], service: api}
  - {name: everything else, service: web}
"""

ALERTMANAGER_CONFIG = """
route:
  receiver: webhook
  group_by: [{group_by}]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - name: webhook
    webhook_configs:
      - url: http://127.0.0.1:{port}/hook
        send_resolved: true
"""


class System:
    name = ""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
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
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                connection.request("GET", self.ready_path())
                if connection.getresponse().status == 200:
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

    def count(self) -> int | None:
        """How many distinct alerts (router: incidents) the system holds, if it can tell."""
        return None


class Router(System):
    name = "router"
    source = ROOT  # the checkout whose `router` package runs

    def command(self) -> list[str]:
        config = self.directory / "config"
        config.mkdir(exist_ok=True)
        (config / "router.yaml").write_text(ROUTER_CONFIG)
        return [sys.executable, "-m", "router", "run", "--config", str(config),
                "--state", str(self.directory / "state"), "--listen", f"127.0.0.1:{self.port}"]

    def start(self) -> None:
        os.environ["PYTHONPATH"] = str(self.source)
        super().start()

    def ready_path(self) -> str:
        return "/readyz"

    def count(self) -> int | None:
        with contextlib.closing(sqlite3.connect(self.directory / "state" / "router.db")) as db:
            return int(db.execute("SELECT count(*) FROM incidents").fetchone()[0])


class Alertmanager(System):
    name = "Alertmanager"
    group_by = "alertname, service"

    def command(self) -> list[str]:
        assert ALERTMANAGER, "prometheus-alertmanager is not installed"
        config = self.directory / "alertmanager.yml"
        # Nobody listens on the webhook's port: notifications fail and are retried, as
        # with a receiver that is down, and cost Alertmanager what they cost.
        config.write_text(ALERTMANAGER_CONFIG.format(port=free_port(), group_by=self.group_by))
        return [ALERTMANAGER, f"--config.file={config}",
                f"--storage.path={self.directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address="]

    def ready_path(self) -> str:
        return "/-/ready"


def lua(case: Case, tag: str) -> str:
    return LUA.format(batch=case.batch, tag=tag, pool=POOL if case.repeat else 0,
                      alert=ALERT, path=PATH)


def wrk(port: int, script: str, seconds: float, connections: int) -> Result:
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as file:
        file.write(script)
        file.flush()
        command = ["taskset", "-c", CLIENT_CORE, "wrk", "-t2", f"-c{connections}",
                   f"-d{seconds:g}s", "--latency", "--timeout", "10s", "-s", file.name,
                   f"http://127.0.0.1:{port}{PATH}"]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", output)
    assert rate and total and p99, output
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    errors = "; ".join(line.strip() for line in output.splitlines()
                       if "Non-2xx" in line or "Socket errors" in line)
    return Result(float(rate.group(1)), float(p99.group(1)) * scale, int(total.group(1)),
                  errors)


def run_case(system: System, case: Case, arguments: argparse.Namespace) -> Result:
    batch = case.batch
    system.start()
    spy = None
    try:
        warm = wrk(system.port, lua(case, "warm"), arguments.warmup, arguments.connections)
        if arguments.py_spy and system.name == "router":
            spy = start_py_spy(system.pid, Path(arguments.py_spy) / f"ingest-{case.key}.txt",
                               arguments.duration, arguments.py_spy_gil)
        began, cpu_before = time.monotonic(), cpu_seconds(system.pid)
        main_before = main_thread_cpu_seconds(system.pid)
        result = wrk(system.port, lua(case, case.key), arguments.duration, arguments.connections)
        elapsed = time.monotonic() - began
        cpu = (cpu_seconds(system.pid) - cpu_before) / elapsed
        main_cpu = (main_thread_cpu_seconds(system.pid) - main_before) / elapsed
        if spy is not None:
            spy.wait(timeout=120)
    finally:
        system.stop()
    alerts = Result(result.alerts_per_second * batch, result.p99_ms, result.alerts * batch,
                    result.errors, cpu, main_cpu)
    stored = system.count()
    sent = (warm.alerts + result.alerts) * batch
    if stored is not None:
        expected = POOL if case.repeat else sent
        check = "ok" if stored >= min(expected, sent) else "MISSING"
        print(f"  {system.name} {case.key}: {stored:,} incidents stored after {sent:,} alerts "
              f"answered ({check})", flush=True)
    if alerts.errors:
        print(f"  {system.name} {case.key}: wrk saw errors: {alerts.errors}", flush=True)
    return alerts


def start_py_spy(pid: int, output: Path, seconds: float, gil: bool) -> subprocess.Popen[bytes]:
    """py-spy sampling `pid` for `seconds`: collapsed stacks (flamegraph.pl input), one
    root per thread; with `gil`, only samples of the thread holding the GIL."""
    output.parent.mkdir(parents=True, exist_ok=True)
    command = [shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy"),
               "record", "--format", "raw", "--pid", str(pid), "--rate", "200", "--threads",
               "--duration", str(max(1, int(seconds))), "-o", str(output)]
    return subprocess.Popen([*command, *(["--gil"] if gil else [])],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def post_new_alerts(port: int, count: int, tag: str, connections: int = 8) -> None:
    """Send `count` new alerts in 100-alert requests over a few keep-alive connections."""
    bodies = ["[" + ",".join(ALERT % f"{tag}-{start + offset}" for offset in range(100)) + "]"
              for start in range(0, count, 100)]

    def send(share: list[str]) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for body in share:
            connection.request("POST", PATH, body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            assert response.status == 200, response.status
        connection.close()

    with ThreadPoolExecutor(connections) as pool:
        list(pool.map(send, [bodies[index::connections] for index in range(connections)]))


def measure_rss(system: System, steps: list[int]) -> list[tuple[int, float, float]]:
    """(N, RSS growth per alert in bytes, VmRSS in MiB) after N new alerts, each opening an
    incident in router; growth is over the RSS after a 1,000-alert warm-up."""
    system.start()
    try:
        post_new_alerts(system.port, 1000, "warm")
        time.sleep(1)
        base = rss_kib(system.pid)
        sent, rows = 0, []
        for step in steps:
            post_new_alerts(system.port, step - sent, f"rss{step}")
            sent = step
            time.sleep(1)
            now = rss_kib(system.pid)
            rows.append((step, (now - base) * 1024 / step, now / 1024))
        print(f"  {system.name}: VmRSS {base / 1024:.1f} MiB after the warm-up, "
              f"{rows[-1][2]:.1f} MiB after {sent:,} more alerts", flush=True)
        return rows
    finally:
        system.stop()


@contextlib.contextmanager
def workspace(keep: bool) -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="bench-ingest-", dir=os.environ.get("TMPDIR")))
    try:
        yield directory
    finally:
        if keep:
            print(f"kept {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)


def machine_busy(seconds: float = 1.0) -> float:
    """The share of all CPUs' time spent not idle over `seconds`, from /proc/stat."""
    def sample() -> tuple[int, int]:
        fields = [int(field) for field in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        return sum(fields), fields[3] + fields[4]  # all, idle + iowait
    (total_before, idle_before), _ = sample(), time.sleep(seconds)
    total, idle = sample()
    return 1 - (idle - idle_before) / max(1, total - total_before)


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), "unknown CPU")
    answer = subprocess.run([ALERTMANAGER or "false", "--version"], capture_output=True,
                            text=True)
    version = (answer.stdout or answer.stderr).split("\n")[0]
    return (f"{os.cpu_count()} CPUs, {model}; Python {sys.version.split()[0]}, SQLite "
            f"{sqlite3.sqlite_version}; {version.strip()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10, help="measured seconds per case")
    parser.add_argument("--warmup", type=float, default=3, help="warm-up seconds per case")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--systems", default="router,alertmanager")
    parser.add_argument("--cases", default="a,b,c")
    parser.add_argument("--rss", default="10000,50000",
                        help="new-alert counts for the RSS rows; empty to skip")
    parser.add_argument("--group-by", default=Alertmanager.group_by,
                        help="Alertmanager's route group_by (default: %(default)s)")
    parser.add_argument("--py-spy", help="record py-spy stacks of router (collapsed, "
                        "flamegraph.pl input) per case into this directory")
    parser.add_argument("--py-spy-gil", action="store_true",
                        help="only samples of the thread holding the GIL")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories")
    parser.add_argument("--router-source", type=Path, default=ROOT,
                        help="run the router package of this checkout (for before/after)")
    arguments = parser.parse_args()
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            sys.exit(f"bench_ingest: {tool} is not installed")
    systems = arguments.systems.split(",")
    cases = arguments.cases.split(",")
    if "alertmanager" in systems and ALERTMANAGER is None:
        sys.exit("bench_ingest: prometheus-alertmanager is not installed")
    Alertmanager.group_by = arguments.group_by
    Router.source = arguments.router_source.resolve()
    kinds: dict[str, type[System]] = {"router": Router, "alertmanager": Alertmanager}
    print(f"machine: {machine()}")
    print(f"servers pinned to core {SERVER_CORE}, wrk on core {CLIENT_CORE}, "
          f"{arguments.connections} connections, {arguments.warmup:g} s warm-up, "
          f"{arguments.duration:g} s measured; Alertmanager group_by [{arguments.group_by}]")
    busy = machine_busy()
    print(f"machine busy before the run: {busy:.0%} of its CPU time"
          + (" (other work is running: figures will be low and noisy)" if busy > 0.1 else ""),
          flush=True)
    results: dict[tuple[str, str], Result] = {}
    rss: dict[str, list[tuple[int, float, float]]] = {}
    with workspace(arguments.keep) as directory:
        for key in cases:
            for name in systems:
                system = kinds[name](directory / f"{name}-{key}")
                result = results[name, key] = run_case(system, CASES[key], arguments)
                split = ""
                if name == "router" and result.alerts_per_second:
                    trio_thread = result.main_cpu / result.alerts_per_second * 1e6
                    split = (f" ({trio_thread:,.0f} us in the trio thread, "
                             f"{cpu_per_alert(result) - trio_thread:,.0f} us in store threads)")
                print(f"  {system.name} {key}: {result.alerts_per_second:,.0f} alerts/s, "
                      f"p99 {result.p99_ms:.1f} ms, server CPU {result.cpu:.0%} of a core, "
                      f"{cpu_per_alert(result):,.0f} us per alert{split}", flush=True)
        steps = [int(step) for step in arguments.rss.split(",") if step]
        for name in systems if steps else ():
            rss[name] = measure_rss(kinds[name](directory / f"{name}-rss"), steps)
    print()
    print(table(results, systems, cases))
    if rss:
        print()
        print(rss_table(rss, systems))


NAMES = {"router": "router", "alertmanager": "Alertmanager 0.25"}


def table(results: dict[tuple[str, str], Result], systems: list[str], cases: list[str]) -> str:
    both = systems == ["router", "alertmanager"]
    header = ["case", *(f"{NAMES[name]} alerts/s" for name in systems)]
    header += ["router / Alertmanager"] if both else []
    header += [f"{NAMES[name]} p99 ms" for name in systems]
    header += [f"{NAMES[name]} CPU us/alert" for name in systems]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for key in cases:
        row = [f"{key}. {CASES[key].title}"]
        row += [f"{results[name, key].alerts_per_second:,.0f}" for name in systems]
        if both:
            ratio = (results["router", key].alerts_per_second
                     / results["alertmanager", key].alerts_per_second)
            row.append(f"{ratio:.2f}")
        row += [f"{results[name, key].p99_ms:,.1f}" for name in systems]
        row += [f"{cpu_per_alert(results[name, key]):,.0f}" for name in systems]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def cpu_per_alert(result: Result) -> float:
    """The server's CPU time per alert in microseconds (robust to sharing the core)."""
    return result.cpu / result.alerts_per_second * 1e6 if result.alerts_per_second else 0.0


def rss_table(rss: dict[str, list[tuple[int, float, float]]], systems: list[str]) -> str:
    header = ["new alerts N", *(f"{NAMES[name]} RSS growth / N" for name in systems),
              *(f"{NAMES[name]} VmRSS" for name in systems)]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for position, (step, _, _) in enumerate(rss[systems[0]]):
        row = [f"{step:,}"]
        row += [f"{rss[name][position][1]:,.0f} B" for name in systems]
        row += [f"{rss[name][position][2]:,.1f} MiB" for name in systems]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
