"""Escalation timers: memory, lateness under load and restart time of the real daemon
(issue 6 item 8), and the bare-trio reference beside it.

A plain script (`python bench/bench_timers.py`, or `make bench`). router runs as shipped:
`router run --log-format json` pinned to core 0 (`taskset -c 0`), its store in a temporary
directory on disk, SQLite WAL with synchronous=FULL (every answer and every fired timer
follows a commit and its fsync). The bench process (the HTTP clients) pins itself to core 1.
One daemon state is carried through three phases:

1. Memory: N alerts (default 100,000), 100 per `POST /api/v2/alerts` over 8 connections as
   fast as the daemon takes them, each opening an incident whose policy's first level waits
   1 h, so N escalation deadlines are pending and none fires. Then VmRSS and VmHWM of the
   whole daemon (all its threads) from /proc, and the RSS growth per incident over the RSS
   of the freshly started daemon; again once the deliverer has sent every page.
2. Restart: a few more incidents (default 1,000) on a policy whose first level waits 15 s,
   then SIGTERM; once their deadlines have passed with the daemon down, start it again on the
   same store (N + 1,000 timers pending, 1,000 of them overdue) and time from the process's
   start until `GET /readyz` answers 200, until the first overdue timer has fired (its log
   line) and until the last has. The first start, on an empty store, is the baseline.
3. Lateness: on the restarted daemon, a paced client sends 500 new alerts/s (one per request,
   16 connections, each request at its planned instant, not flat out; `--load repeat` re-sends
   1,000 open incidents' alerts instead, `--batch` puts several in a request, as Prometheus
   does; `--rate 0` sends none) for DELAY + 60 s, while
   a second paced client opens 100 incidents/s for the first 60 s on a policy whose first
   level waits DELAY (60 s): from DELAY on, 100 timers fall due each second, for 60 s, while
   the 500 alerts/s go on. Lateness is read from the daemon's own "timer fired" log lines,
   two figures each: `wake_ms`, its clock's time when the scheduler handed the timer to the
   engine, minus the deadline (what the issue's bare-trio reference measures, and what the
   goal is judged on), and `late_ms`, once the escalation's transaction has committed: the
   scheduler's wake-up, the escalation and the group commit with its fsync, the time until
   the escalation is durable and its pages are queued.

    .venv/bin/python bench/bench_timers.py [--incidents 100000] [--overdue 1000]
        [--rate 500] [--batch 1] [--load new|repeat] [--fire-rate 100] [--fire-seconds 60]
        [--delay 60] [--py-spy DIR [--py-spy-gil]] [--quick] [--keep]
        [--router-source CHECKOUT]
    .venv/bin/python bench/bench_timers.py --reference [--timers 100000] [--seconds 60]

`--quick`: 5,000 incidents, 200 overdue, 10 s of firing after a 10 s delay. `--reference`:
the issue's bare-trio figures on this machine: a child process pinned to core 0 holds the
timers (deadlines spread evenly at random over SECONDS) either in one heap-driven task or as
one sleeping task each, and reports the RSS per timer and how late each one woke.

The figures and how to read them are in docs/benchmarks.md. Needs taskset (util-linux).
"""

from __future__ import annotations

import argparse
import array
import contextlib
import heapq
import http.client
import json
import math
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import h11
import trio
import trio.testing

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_ingest import (  # the sibling script's /proc and machine helpers
    cpu_seconds,
    free_port,
    machine_busy,
    main_thread_cpu_seconds,
    rss_kib,
    start_py_spy,
)

ROOT = Path(__file__).resolve().parent.parent
PATH = "/api/v2/alerts"
SERVER_CORE, CLIENT_CORE = "0", "1"
REPEAT_POOL = 1000  # distinct alerts re-sent with --load repeat

CONFIG = """
settings:
  timezone: UTC
channels:
  - {{id: pages, type: log, level: info}}
escalation_policies:
  - id: hold
    name: Escalates after an hour
    levels:
      - {{targets: [{{channel: pages}}], delay: 1h}}
      - {{targets: [{{channel: pages}}], delay: 1h}}
  - id: soon
    name: Escalates while the load runs
    levels:
      - {{targets: [{{channel: pages}}], delay: {delay}s}}
      - {{targets: [{{channel: pages}}], delay: 1h}}
  - id: overdue
    name: Falls due while the daemon is down
    levels:
      - {{targets: [{{channel: pages}}], delay: {overdue_delay}s}}
      - {{targets: [{{channel: pages}}], delay: 1h}}
services:
  - {{id: api, name: API, escalation_policy: hold}}
  - {{id: timed, name: Timed, escalation_policy: soon}}
  - {{id: restart, name: Restart, escalation_policy: overdue}}
routes:
  - {{name: timed, match: [service=timed], service: timed}}
  - {{name: restart, match: [service=restart], service: restart}}
  - {{name: everything else, service: api}}
"""


def alert(service: str, instance: str) -> dict[str, Any]:
    """A Prometheus-shaped alert (as bench_ingest sends) whose `instance` makes it new."""
    return {"labels": {"alertname": "HighLatency", "job": "api", "service": service,
                       "severity": "critical", "instance": instance},
            "annotations": {"summary": "p99 latency over 500ms",
                            "description": "The API answers slowly on this instance."},
            "generatorURL": "http://prometheus:9090/graph?g0.expr=latency"}


def body(service: str, instances: list[str]) -> bytes:
    return json.dumps([alert(service, instance) for instance in instances]).encode()


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile of `values` (sorted or not); nan when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def core_busy_seconds(core: str) -> float:
    """Seconds core `core` spent not idle since boot, whoever ran (from /proc/stat)."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{core} "):
            ticks = [int(field) for field in line.split()[1:]]
            return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
    raise RuntimeError(f"no cpu{core} in /proc/stat")


def vm_kib(pid: int, name: str) -> int:
    """A /proc/PID/status figure in KiB: VmRSS, VmHWM (the peak RSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {name} for {pid}")


# The daemon

class Daemon:
    """`router run` on one state directory, started and stopped as often as asked."""

    source = ROOT  # the checkout whose `router` package runs

    def __init__(self, directory: Path, config: str) -> None:
        self.directory = directory
        (directory / "config").mkdir(parents=True, exist_ok=True)
        (directory / "config" / "router.yaml").write_text(config)
        self.log = directory / "log"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0  # wall clock (time.time) just before the process was made

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> float:
        """Start the daemon; seconds from the process's start until /readyz answered 200."""
        command = ["taskset", "-c", SERVER_CORE, sys.executable, "-m", "router", "run",
                   "--config", str(self.directory / "config"),
                   "--state", str(self.directory / "state"),
                   "--listen", f"127.0.0.1:{self.port}", "--log-format", "json"]
        environment = {**os.environ, "PYTHONPATH": str(self.source)}
        with self.log.open("ab") as log:
            self.started_at, began = time.time(), time.monotonic()
            self.process = subprocess.Popen(command, stdout=log, stderr=log, cwd=self.directory,
                                            env=environment)
        while time.monotonic() < began + 60:
            if self.process.poll() is not None:
                raise RuntimeError(f"router exited: {self.log_tail()}")
            with contextlib.suppress(OSError):
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                connection.request("GET", "/readyz")
                if connection.getresponse().status == 200:
                    return time.monotonic() - began
            time.sleep(0.005)
        raise RuntimeError(f"router did not get ready: {self.log_tail()}")

    def stop(self) -> float:
        """SIGTERM; seconds until the process had exited."""
        if self.process is None or self.process.poll() is not None:
            return 0.0
        began = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise RuntimeError(f"router did not stop on SIGTERM: {self.log_tail()}") from None
        return time.monotonic() - began

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:]

    def log_size(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    def fired(self, since: int = 0) -> list[dict[str, Any]]:
        """The "timer fired" log lines written after byte `since` of the log."""
        lines = []
        with self.log.open("rb") as log:
            log.seek(since)
            for raw in log:
                if b'"timer fired' not in raw:
                    continue
                with contextlib.suppress(ValueError):
                    lines.append(json.loads(raw))
        return lines

    def query(self, sql: str, *values: object) -> int:
        """One number from the store, read beside the daemon (WAL lets both in)."""
        with contextlib.closing(sqlite3.connect(self.directory / "state" / "router.db",
                                                timeout=30)) as db:
            return int(db.execute(sql, values).fetchone()[0])

    def wait_for(self, what: str, done: Callable[[], bool], timeout: float) -> float:
        """Poll `done` every 50 ms; seconds it took."""
        began = time.monotonic()
        while not done():
            if time.monotonic() > began + timeout:
                raise RuntimeError(f"timed out waiting for {what}: {self.log_tail()}")
            time.sleep(0.05)
        return time.monotonic() - began


def post_alerts(port: int, count: int, tag: str, service: str, connections: int = 8) -> None:
    """`count` new alerts of `service`, 100 per request, over a few keep-alive connections,
    as fast as the daemon answers."""
    bodies = [body(service, [f"{tag}-{number}" for number in range(start, min(start + 100,
                                                                                  count))])
              for start in range(0, count, 100)]

    def send(share: list[bytes]) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        for payload in share:
            connection.request("POST", PATH, payload, {"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"POST {PATH} answered {response.status}")
        connection.close()

    with ThreadPoolExecutor(connections) as pool:
        list(pool.map(send, [bodies[index::connections] for index in range(connections)]))


# 1. Memory

@dataclass(frozen=True)
class Memory:
    incidents: int
    timers: int
    load_seconds: float
    base_kib: int
    loaded_kib: int
    drained_kib: int
    hwm_kib: int

    def growth(self, kib: int) -> float:
        """RSS growth per incident in bytes over the freshly started daemon's."""
        return (kib - self.base_kib) * 1024 / self.incidents


def memory_phase(daemon: Daemon, incidents: int) -> Memory:
    time.sleep(1)  # let the start settle
    base = rss_kib(daemon.pid)
    began = time.monotonic()
    post_alerts(daemon.port, incidents, "held", "api")
    load_seconds = time.monotonic() - began
    time.sleep(1)
    loaded = rss_kib(daemon.pid)
    daemon.wait_for("every page to be delivered", lambda: daemon.query(
        "SELECT count(*) FROM outbox WHERE state = 'pending'") == 0, timeout=600)
    time.sleep(1)
    # Each alert also has its expiry timer (`expire:...`, issue 16 item 2), due much later.
    timers = daemon.query("SELECT count(*) FROM timers WHERE kind NOT LIKE 'expire:%'")
    if timers != incidents:
        raise RuntimeError(f"{timers:,} timers pending after {incidents:,} incidents")
    return Memory(incidents, timers, load_seconds, base, loaded, rss_kib(daemon.pid),
                  vm_kib(daemon.pid, "VmHWM"))


# 2. Restart

@dataclass(frozen=True)
class Restart:
    first_ready: float  # empty store
    stop_seconds: float
    pending: int
    overdue: int
    ready: float
    first_fired: float
    last_fired: float
    rss_kib: int
    hwm_kib: int


def restart_phase(daemon: Daemon, overdue: int, overdue_delay: float,
                  first_ready: float) -> Restart:
    post_alerts(daemon.port, overdue, "overdue", "restart")
    opened = time.time()
    stop_seconds = daemon.stop()
    pending = daemon.query("SELECT count(*) FROM timers")
    waiting = daemon.query("SELECT count(*) FROM timers WHERE due_at < ?",
                           opened + overdue_delay + 1)
    if waiting != overdue:
        raise RuntimeError(f"{waiting:,} of {overdue:,} short timers pending at stop: "
                           "the stop took longer than the delay")
    time.sleep(max(0.0, opened + overdue_delay + 1 - time.time()))
    since = daemon.log_size()
    ready = daemon.start()
    daemon.wait_for("the overdue timers", lambda: len(daemon.fired(since)) >= overdue,
                    timeout=120)
    times = sorted(datetime.fromisoformat(line["time"]).timestamp()
                   for line in daemon.fired(since))
    return Restart(first_ready, stop_seconds, pending, overdue, ready,
                   times[0] - daemon.started_at, times[-1] - daemon.started_at,
                   rss_kib(daemon.pid), vm_kib(daemon.pid, "VmHWM"))


# 3. Lateness under load

@dataclass
class Stream:
    """One paced client: request `number` is due at start + number / rate."""

    name: str
    rate: float
    seconds: float
    make_body: Callable[[int], bytes]
    connections: int
    lags: list[float] = field(default_factory=list)  # (sent - planned) per request, seconds
    sent_at: list[float] = field(default_factory=list)  # trio time each request was sent
    latencies: list[float] = field(default_factory=list)
    failed: int = 0


async def exchange(stream: trio.SocketStream, connection: h11.Connection,
                   payload: bytes) -> int:
    """One POST on a keep-alive connection; the answer's status."""
    headers = [("Host", "127.0.0.1"), ("Content-Type", "application/json"),
               ("Content-Length", str(len(payload)))]
    await stream.send_all(connection.send(h11.Request(method="POST", target=PATH,
                                                      headers=headers))
                          + connection.send(h11.Data(data=payload))
                          + connection.send(h11.EndOfMessage()))
    status = 0
    while True:
        event = connection.next_event()
        if event is h11.NEED_DATA:
            connection.receive_data(await stream.receive_some(65536))
        elif isinstance(event, h11.Response):
            status = event.status_code
        elif isinstance(event, h11.EndOfMessage):
            connection.start_next_cycle()
            return status
        elif isinstance(event, h11.ConnectionClosed):
            raise ConnectionError("router closed the connection")


async def run_stream(port: int, plan: Stream, start: float) -> None:
    numbers = iter(range(int(plan.rate * plan.seconds)))  # shared by the workers

    async def worker() -> None:
        async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
            connection = h11.Connection(h11.CLIENT)
            for number in numbers:
                planned = start + number / plan.rate
                await trio.sleep_until(planned)
                sent = trio.current_time()
                status = await exchange(stream, connection, plan.make_body(number))
                plan.lags.append(sent - planned)
                plan.sent_at.append(sent)
                plan.latencies.append(trio.current_time() - sent)
                plan.failed += status != 200

    async with trio.open_nursery() as nursery:
        for _ in range(plan.connections):
            nursery.start_soon(worker)


@dataclass(frozen=True)
class Lateness:
    expected: int
    wake_ms: list[float]  # deadline -> the scheduler handed the timer to the engine
    late_ms: list[float]  # deadline -> the escalation's transaction was durable
    outcomes: dict[str, int]
    load: Stream
    timed: Stream
    window: tuple[float, float]  # trio times when the timers were due
    cpu: float  # the daemon's CPU seconds per second over the window (all threads)
    main_cpu: float  # the same for its trio thread
    others: float  # CPU seconds per second other processes took on the daemon's core
    rss_kib: int
    hwm_kib: int

    def load_rate(self, batch: int) -> float:
        """Alerts/s the load client sent during the window."""
        first, last = self.window
        sent = sum(first <= sent < last for sent in self.load.sent_at)
        return sent * batch / (last - first)


def lateness_phase(daemon: Daemon, arguments: argparse.Namespace) -> Lateness:
    batch = arguments.batch

    def make_load(number: int) -> bytes:
        alerts = range(number * batch, (number + 1) * batch)
        if arguments.load == "repeat":
            return body("api", [f"repeat-{count % REPEAT_POOL}" for count in alerts])
        return body("api", [f"load-{count}" for count in alerts])

    if arguments.load == "repeat":
        post_alerts(daemon.port, REPEAT_POOL, "repeat", "api")
    load = Stream("load", arguments.rate / batch, arguments.delay + arguments.fire_seconds + 2,
                  make_load, connections=16 if batch == 1 else 4)
    timed = Stream("timed", arguments.fire_rate, arguments.fire_seconds,
                   lambda number: body("timed", [f"timed-{number}"]), connections=4)
    since = daemon.log_size()
    cpu: list[float] = []

    async def drive() -> tuple[float, float]:
        start = trio.current_time() + 0.5
        window = (start + arguments.delay, start + arguments.delay + arguments.fire_seconds)

        async def sample() -> None:
            spy = None
            await trio.sleep_until(window[0])
            if arguments.py_spy:
                spy = start_py_spy(daemon.pid, Path(arguments.py_spy) / "timers-lateness.txt",
                                   arguments.fire_seconds, arguments.py_spy_gil)
            cpu.extend((cpu_seconds(daemon.pid), main_thread_cpu_seconds(daemon.pid),
                        core_busy_seconds(SERVER_CORE)))
            await trio.sleep_until(window[1])
            cpu.extend((cpu_seconds(daemon.pid), main_thread_cpu_seconds(daemon.pid),
                        core_busy_seconds(SERVER_CORE)))
            if spy is not None:
                await trio.to_thread.run_sync(spy.wait)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(run_stream, daemon.port, load, start)
            nursery.start_soon(run_stream, daemon.port, timed, start)
            nursery.start_soon(sample)
        return window

    window = trio.run(drive)
    expected = len(timed.sent_at)
    daemon.wait_for("the timers", lambda: sum(
        line.get("timer") == "escalate" for line in daemon.fired(since)) >= expected, 60)
    fired = [line for line in daemon.fired(since) if line.get("timer") == "escalate"]
    outcomes: dict[str, int] = {}
    for line in fired:
        outcomes[line["outcome"]] = outcomes.get(line["outcome"], 0) + 1
    seconds = window[1] - window[0]
    daemon_cpu, main_cpu, core_busy = ((after - before) / seconds
                                       for before, after in zip(cpu[:3], cpu[3:], strict=True))
    return Lateness(expected, [float(line.get("wake_ms", math.nan)) for line in fired],
                    [float(line["late_ms"]) for line in fired], outcomes, load,
                    timed, window, daemon_cpu, main_cpu, max(0.0, core_busy - daemon_cpu),
                    rss_kib(daemon.pid), vm_kib(daemon.pid, "VmHWM"))


# 4. The bare-trio reference

REFERENCE_LEAD = 5.0
"""Seconds between the start signal and the first deadline: time for every task to go to
sleep first (100,000 tasks take about 2 s here), so no timer is late because of set-up."""


def reference_child(variant: str, timers: int, seconds: float) -> None:
    """Child process: hold `timers` timers the `variant` way, print a JSON line of figures.

    Every timer is made (a task, or an entry of the heap) and parked first; then one start
    signal; deadlines are REFERENCE_LEAD plus an offset spread evenly at random over
    `seconds` from it. RSS is read once every timer sleeps on its deadline."""
    late = array.array("d", bytes(8 * timers))  # allocated before the baseline
    fired = 0

    async def main() -> dict[str, float]:
        nonlocal fired
        rng = random.Random(6)
        offsets = array.array("d", (rng.uniform(0.0, seconds) for _ in range(timers)))
        go, start = trio.Event(), [0.0]
        await trio.sleep(0.2)
        base = rss_kib(os.getpid())

        async def sleeper(offset: float) -> None:
            nonlocal fired
            await go.wait()
            deadline = start[0] + offset
            await trio.sleep_until(deadline)
            late[fired] = trio.current_time() - deadline
            fired += 1

        async def scheduler() -> None:
            nonlocal fired
            await go.wait()
            heap = [(start[0] + offsets[number], number) for number in range(timers)]
            heapq.heapify(heap)
            while heap:
                await trio.sleep_until(heap[0][0])
                now = trio.current_time()
                while heap and heap[0][0] <= now:
                    deadline, _ = heapq.heappop(heap)
                    late[fired] = now - deadline
                    fired += 1

        began = time.perf_counter()
        async with trio.open_nursery() as nursery:
            if variant == "heap":
                nursery.start_soon(scheduler)
            else:
                for number in range(timers):
                    nursery.start_soon(sleeper, offsets[number])
            await trio.testing.wait_all_tasks_blocked()
            start[0] = trio.current_time() + REFERENCE_LEAD
            go.set()
            await trio.testing.wait_all_tasks_blocked()  # every timer sleeps on its deadline
            setup = time.perf_counter() - began
            asleep_before_first_deadline = trio.current_time() < start[0]
            held = rss_kib(os.getpid())
        return {"bytes_per_timer": (held - base) * 1024 / timers, "setup_s": setup,
                "fired": fired, "asleep_in_time": asleep_before_first_deadline}

    figures = trio.run(main)
    lateness = sorted(late[:fired])
    figures.update({f"p{int(share * 100)}_ms": percentile(lateness, share) * 1000
                    for share in (0.5, 0.99)})
    figures["max_ms"] = lateness[-1] * 1000
    print(json.dumps(figures), flush=True)


def reference(timers: int, seconds: float) -> dict[str, dict[str, float]]:
    results = {}
    for variant in ("heap", "tasks"):
        command = ["taskset", "-c", SERVER_CORE, sys.executable, __file__,
                   "--reference-child", variant, "--timers", str(timers),
                   "--seconds", str(seconds)]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        results[variant] = json.loads(output.strip().splitlines()[-1])
        print(f"  {variant}: {results[variant]}", flush=True)
    return results


# Reports

def mib(kib: int) -> str:
    return f"{kib / 1024:,.1f} MiB"


def met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def memory_table(memory: Memory) -> str:
    rows = [("freshly started", memory.base_kib, None),
            (f"{memory.incidents:,} incidents opened ({memory.incidents / memory.load_seconds:,.0f}"
             " alerts/s)", memory.loaded_kib, memory.growth(memory.loaded_kib)),
            ("every page delivered", memory.drained_kib, memory.growth(memory.drained_kib))]
    lines = ["| daemon | VmRSS | growth / incident |", "| --- | --- | --- |"]
    lines += [f"| {what} | {mib(kib)} | {'' if growth is None else f'{growth:,.0f} B'} |"
              for what, kib, growth in rows]
    lines.append(f"| peak (VmHWM) | {mib(memory.hwm_kib)} | |")
    goal = max(memory.hwm_kib, memory.drained_kib) < 200 * 1024
    return "\n".join(lines) + (f"\n\n{memory.timers:,} escalation timers pending. Goal: the "
                               f"whole daemon under 200 MB with {memory.incidents:,} open "
                               f"incidents: {met(goal)}.")


def restart_table(restart: Restart) -> str:
    lines = ["| start | ready (/readyz 200) | first overdue timer fired | last fired |",
             "| --- | --- | --- | --- |",
             f"| empty store | {restart.first_ready:.2f} s | | |",
             f"| {restart.pending:,} timers pending, {restart.overdue:,} overdue | "
             f"{restart.ready:.2f} s | {restart.first_fired:.2f} s | "
             f"{restart.last_fired:.2f} s |"]
    return "\n".join(lines) + (
        f"\n\nTimes from the process's start (SIGTERM took {restart.stop_seconds:.2f} s). "
        f"After the restart: VmRSS {mib(restart.rss_kib)}, VmHWM {mib(restart.hwm_kib)}. "
        f"Goal: ready in under 5 s with {restart.pending:,} timers pending: "
        f"{met(restart.ready < 5)}.")


def lateness_table(result: Lateness, arguments: argparse.Namespace) -> str:
    lines = ["| timers fired, lateness until | p50 | p99 | max | over 10 ms |",
             "| --- | --- | --- | --- | --- |"]
    for what, late in (("handed to the engine (`wake_ms`)", result.wake_ms),
                       ("escalation durable (`late_ms`)", result.late_ms)):
        lines.append(f"| {what} | {percentile(late, 0.5):.1f} ms | "
                     f"{percentile(late, 0.99):.1f} ms | {max(late, default=math.nan):.1f} ms "
                     f"| {sum(value > 10 for value in late):,} |")
    lines += ["", f"{len(result.late_ms):,} timers fired of {result.expected:,} expected: "
              + ", ".join(f"{name} {count:,}" for name, count in sorted(result.outcomes.items()))
              + "."]
    load, timed = result.load, result.timed
    lines += [
        "",
        f"While they fell due: load {result.load_rate(arguments.batch):,.0f} alerts/s "
        f"({arguments.load} alerts, {arguments.batch} per request; planned "
        f"{arguments.rate:g}/s), request p99 "
        f"{percentile(load.latencies, 0.99) * 1000:,.1f} ms, {load.failed} failed, "
        f"p99 start lag {percentile(load.lags, 0.99) * 1000:,.1f} ms; daemon CPU "
        f"{result.cpu:.0%} of a core ({result.main_cpu:.0%} in the trio thread), other "
        f"processes {result.others:.0%} of that core; "
        f"VmRSS {mib(result.rss_kib)}, VmHWM {mib(result.hwm_kib)}. The timed incidents were "
        f"opened at {len(timed.sent_at) / arguments.fire_seconds:,.0f}/s (request p99 "
        f"{percentile(timed.latencies, 0.99) * 1000:,.1f} ms, {timed.failed} failed).",
        "",
        f"Goal: timers fire with p99 lateness under 10 ms while the daemon ingests "
        f"{arguments.rate:g} alerts/s: "
        f"{met(percentile(result.wake_ms, 0.99) < 10 and len(result.wake_ms) == result.expected)}"
        f" (p99 {percentile(result.wake_ms, 0.99):.1f} ms until the scheduler hands a timer "
        f"over; {percentile(result.late_ms, 0.99):.1f} ms until its escalation is durable)."]
    return "\n".join(lines)


def reference_table(results: dict[str, dict[str, float]], timers: int, seconds: float) -> str:
    names = {"heap": "one heap-driven task", "tasks": "one sleeping task per timer"}
    lines = [f"| {timers:,} timers over {seconds:g} s | RSS / timer | set-up | p50 late | "
             "p99 late | max late |", "| --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {names[variant]} | {figures['bytes_per_timer']:,.0f} B | "
              f"{figures['setup_s']:.2f} s | {figures['p50_ms']:.2f} ms | "
              f"{figures['p99_ms']:.2f} ms | {figures['max_ms']:.2f} ms |"
              for variant, figures in results.items()]
    return "\n".join(lines)


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), "unknown CPU")
    return (f"{os.cpu_count()} CPUs, {model}; Python {sys.version.split()[0]}, SQLite "
            f"{sqlite3.sqlite_version}, trio {trio.__version__}")


@contextlib.contextmanager
def workspace(keep: bool) -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="bench-timers-", dir=os.environ.get("TMPDIR")))
    try:
        yield directory
    finally:
        if keep:
            print(f"kept {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)


def arguments_parsed() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=100_000,
                        help="incidents opened with a pending deadline (default %(default)s)")
    parser.add_argument("--overdue", type=int, default=1000,
                        help="timers that fall due while the daemon is down")
    parser.add_argument("--overdue-delay", type=float, default=15,
                        help="their policy's delay in seconds")
    parser.add_argument("--rate", type=float, default=500, help="load: alerts per second")
    parser.add_argument("--batch", type=int, default=1,
                        help="load: alerts per request (Prometheus sends up to 256 in one)")
    parser.add_argument("--load", choices=("new", "repeat"), default="new",
                        help="load alerts: each opens an incident, or re-sends one of 1,000")
    parser.add_argument("--fire-rate", type=float, default=100,
                        help="timers falling due per second")
    parser.add_argument("--fire-seconds", type=float, default=60,
                        help="for how long timers fall due")
    parser.add_argument("--delay", type=float, default=60,
                        help="the timed policy's first delay in seconds")
    parser.add_argument("--py-spy", help="record py-spy stacks of the daemon (collapsed) "
                        "while the timers fall due, into this directory")
    parser.add_argument("--py-spy-gil", action="store_true",
                        help="only samples of the thread holding the GIL")
    parser.add_argument("--quick", action="store_true",
                        help="a fast sanity run: 5,000 incidents, 10 s of firing")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--router-source", type=Path, default=ROOT,
                        help="run the router package of this checkout (for before/after)")
    parser.add_argument("--reference", action="store_true",
                        help="only the bare-trio reference (heap task vs task per timer)")
    parser.add_argument("--timers", type=int, default=100_000, help="reference: timers")
    parser.add_argument("--seconds", type=float, default=60,
                        help="reference: deadlines spread over this many seconds")
    parser.add_argument("--reference-child", choices=("heap", "tasks"), help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.incidents, arguments.overdue, arguments.overdue_delay = 5000, 200, 5
        arguments.fire_seconds = arguments.delay = 10
        arguments.timers, arguments.seconds = 5000, 10
    return arguments


def main() -> None:
    arguments = arguments_parsed()
    if arguments.reference_child:
        reference_child(arguments.reference_child, arguments.timers, arguments.seconds)
        return
    if shutil.which("taskset") is None:
        sys.exit("bench_timers: taskset is not installed")
    print(f"machine: {machine()}")
    busy = machine_busy()
    print(f"machine busy before the run: {busy:.0%} of its CPU time"
          + (" (other work is running: figures will be noisy)" if busy > 0.1 else ""),
          flush=True)
    if arguments.reference:
        results = reference(arguments.timers, arguments.seconds)
        print()
        print(reference_table(results, arguments.timers, arguments.seconds))
        return
    Daemon.source = arguments.router_source.resolve()
    os.sched_setaffinity(0, {int(CLIENT_CORE)})  # the clients, off the daemon's core
    print(f"router pinned to core {SERVER_CORE}, clients on core {CLIENT_CORE}; "
          f"{arguments.incidents:,} incidents, {arguments.overdue:,} overdue at restart; "
          f"{arguments.rate:g} {arguments.load} alerts/s ({arguments.batch} per request) "
          f"while {arguments.fire_rate:g} "
          f"timers/s fall due for {arguments.fire_seconds:g} s", flush=True)
    with workspace(arguments.keep) as directory:
        daemon = Daemon(directory, CONFIG.format(delay=int(arguments.delay),
                                                 overdue_delay=int(arguments.overdue_delay)))
        try:
            first_ready = daemon.start()
            memory = memory_phase(daemon, arguments.incidents)
            print(f"  memory: {mib(memory.drained_kib)} with {memory.timers:,} timers",
                  flush=True)
            restart = restart_phase(daemon, arguments.overdue, arguments.overdue_delay,
                                    first_ready)
            print(f"  restart: ready in {restart.ready:.2f} s", flush=True)
            lateness = lateness_phase(daemon, arguments)
            print(f"  lateness: p99 {percentile(lateness.wake_ms, 0.99):.1f} ms handed over, "
                  f"{percentile(lateness.late_ms, 0.99):.1f} ms durable", flush=True)
        finally:
            daemon.stop()
    print()
    print(memory_table(memory))
    print()
    print(restart_table(restart))
    print()
    print(lateness_table(lateness, arguments))


if __name__ == "__main__":
    main()
