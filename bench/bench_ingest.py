"""Alert ingest: router vs Alertmanager 0.25, side by side, same requests, same machine.

A plain script (`python bench/bench_ingest.py`, or `make bench`). Each set-up in turn runs
alone, pinned to core 0 (`taskset -c 0`); the load (wrk, or the fixed-rate generator) and the
webhook sink run on core 1. Every set-up gets the same `POST /api/v2/alerts` bodies
(Alertmanager's own API, which router also speaks), with `startsAt` the time of the request.
Set-ups (bench/ingest_systems.py): `router` (pages to log channels: acceptance),
`router-live` (every new alert paged through a webhook channel to the sink),
`alertmanager` (`group_by: ['...']`, `group_wait: 1h`: notifying deferred, acceptance only)
and `alertmanager-live` (`group_wait: 0s`: one webhook POST per new alert to the sink).

Acceptance cases, wrk with 50 connections as fast as the server answers:
- a. new alerts, one per request: each opens an incident in router, a group in Alertmanager;
- b. new alerts, 100 per request;
- c. repeats, one per request: a pool of 1,000 alerts (opened during the warm-up) re-sent
  round robin, as Prometheus re-sends firing alerts; each attaches to its open incident.
Each is run `--rounds` times, the set-ups alternating, and the median reported.

End to end (case e, live set-ups only): new alerts, one per request, offered at a fixed rate
(bench/ingest_load.py); a rate passes when every alert is answered 2xx, every one reaches
the sink, the p99 from an alert's 2xx to its arrival at the sink is under 1 s and the server
kept up with the schedule. The rate is searched: doubled from `--rate` until it fails, then
halved back between the last pass and the first failure, `--rate-steps` runs in all.

The server's CPU time per alert (from /proc) is printed too: it holds up when the core is
shared. The script refuses to report (exit 2) when the machine was busy before the run
(`--busy-threshold`, share of all CPUs' time over 2 s), unless `--allow-busy`.

    .venv/bin/python bench/bench_ingest.py [--duration 10] [--warmup 3] [--connections 50]
        [--systems router,router-live,alertmanager,alertmanager-live] [--cases a,b,c,e]
        [--rounds 3] [--rate 1000] [--rate-steps 5] [--rss 10000,50000]
        [--py-spy DIR [--py-spy-gil]] [--router-source CHECKOUT] [--keep]
        [--allow-busy] [--busy-threshold 0.1]

The figures and how to read them are in docs/benchmarks.md. Needs wrk, taskset and
prometheus-alertmanager (apt-get install wrk prometheus-alertmanager). Prints markdown tables.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ingest_load import LOAD_PATH, alert, lua
from ingest_systems import (
    ALERTMANAGER,
    CLIENT_CORE,
    KINDS,
    SERVER_CORE,
    TITLES,
    Router,
    Sink,
    System,
    cpu_seconds,
    main_thread_cpu_seconds,
    rss_kib,
)
from ingest_systems import free_port as free_port  # bench_timers.py imports it from here

PATH = "/api/v2/alerts"
POOL = 1000  # distinct alerts re-sent in case c
DRAIN = 10.0  # seconds the live set-ups get after the load to page what they accepted


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

    @property
    def cpu_per_alert(self) -> float:
        """The server's CPU time per alert in microseconds (robust to sharing the core)."""
        return self.cpu / self.alerts_per_second * 1e6 if self.alerts_per_second else 0.0


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


@contextlib.contextmanager
def running(kind: type[System], directory: Path) -> Iterator[System]:
    """The set-up started afresh (with its sink if it is live), stopped at the end."""
    sink = Sink() if kind.live else None
    system = kind(directory, sink)
    try:
        system.start()
        yield system
    finally:
        system.stop()
        if sink is not None:
            sink.stop()


def drain(sink: Sink, expected: int, limit: float = DRAIN) -> tuple[int, int, float]:
    """Wait until at least `expected` alerts reached the sink and no more came for a second
    (wrk does not count the requests still open when it stops: more may be on their way),
    or `limit` seconds; (POSTs, alerts, seconds waited)."""
    began, last, steady_since = time.monotonic(), -1, time.monotonic()
    while True:
        posts, arrivals = sink.arrivals()
        now = time.monotonic()
        if len(arrivals) != last:
            last, steady_since = len(arrivals), now
        if (last >= expected and now - steady_since >= 1.0) or now - began >= limit:
            return posts, last, now - began
        time.sleep(0.25)


def run_case(kind: type[System], case: Case, directory: Path,
             arguments: argparse.Namespace) -> Result:
    batch = case.batch
    pool = POOL if case.repeat else 0
    with running(kind, directory) as system:
        warm = wrk(system.port, lua(batch, "warm", pool), arguments.warmup,
                   arguments.connections)
        spy = None
        if arguments.py_spy and isinstance(system, Router):
            spy = start_py_spy(system.pid, Path(arguments.py_spy) / f"{kind.name}-{case.key}.txt",
                               arguments.duration, arguments.py_spy_gil)
        began, cpu_before = time.monotonic(), cpu_seconds(system.pid)
        main_before = main_thread_cpu_seconds(system.pid)
        result = wrk(system.port, lua(batch, case.key, pool), arguments.duration,
                     arguments.connections)
        elapsed = time.monotonic() - began
        cpu = (cpu_seconds(system.pid) - cpu_before) / elapsed
        main_cpu = (main_thread_cpu_seconds(system.pid) - main_before) / elapsed
        if spy is not None:
            spy.wait(timeout=120)
        sent = (warm.alerts + result.alerts) * batch
        if system.sink is not None:
            posts, arrived, waited = drain(system.sink, POOL if case.repeat else sent)
            print(f"  {kind.name} {case.key}: the sink got {arrived:,} distinct alerts in "
                  f"{posts:,} POSTs, {waited:.1f} s after the load, of "
                  f"{POOL if case.repeat else sent:,} distinct alerts answered", flush=True)
        if check := system.check():
            print(f"  {kind.name} {case.key}: {check}", flush=True)
    stored = system.stored()
    if stored is not None:
        expected = min(POOL if case.repeat else sent, sent)
        print(f"  {kind.name} {case.key}: {stored:,} incidents stored after {sent:,} alerts "
              f"answered ({'ok' if stored >= expected else 'MISSING'})", flush=True)
    if isinstance(system, Router):
        print(f"  {kind.name} {case.key}: outbox {system.outbox()}", flush=True)
    if result.errors:
        print(f"  {kind.name} {case.key}: wrk saw errors: {result.errors}", flush=True)
    if result.p99_ms > arguments.duration * 1000 / 5 or not result.alerts:
        print(f"  {kind.name} {case.key}: requests take a large part of the run (p99 "
              f"{result.p99_ms:,.0f} ms): wrk counts only those answered within it, so the "
              "rate is low; use a longer --duration", flush=True)
    return Result(result.alerts_per_second * batch, result.p99_ms, result.alerts * batch,
                  result.errors, cpu, main_cpu)


@dataclass
class Offered:
    """One fixed-rate run of case e."""

    rate: float
    passed: bool
    p99_ms: float  # alert's 2xx -> its arrival at the sink
    cpu_per_alert: float
    note: str


def offer(kind: type[System], rate: float, directory: Path, seconds: float) -> Offered:
    with running(kind, directory) as system:
        assert system.sink is not None
        began, cpu_before = time.monotonic(), cpu_seconds(system.pid)
        command = ["taskset", "-c", CLIENT_CORE, sys.executable, LOAD_PATH, "offer",
                   str(system.port), f"{rate:g}", f"{seconds:g}", f"e{rate:g}"]
        answer = json.loads(subprocess.run(command, capture_output=True, text=True,
                                           check=True).stdout)
        accepted = answer["accepted"]
        drain(system.sink, len(accepted), limit=5.0)
        cpu = cpu_seconds(system.pid) - cpu_before
        elapsed = time.monotonic() - began
        _, arrivals = system.sink.arrivals()
    delays = sorted(arrivals.get(instance, float("inf")) - answered
                    for instance, answered in accepted)
    p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))] if delays else float("inf")
    missing = sum(1 for delay in delays if delay == float("inf"))
    passed = (answer["failed"] == 0 and missing == 0 and p99 < 1.0
              and answer["late_s"] < 1.0)
    note = (f"{len(accepted):,} of {answer['sent']:,} answered 2xx, {missing:,} missing at "
            f"the sink, schedule up to {answer['late_s']:.2f} s late, p99 2xx->sink "
            f"{p99 * 1000:,.0f} ms, server CPU {cpu / elapsed:.0%} of a core")
    print(f"  {kind.name} e at {rate:,.0f}/s: {'pass' if passed else 'FAIL'}: {note}",
          flush=True)
    return Offered(rate, passed, p99 * 1000, cpu / max(1, len(accepted)) * 1e6, note)


@dataclass
class Search:
    tried: list[Offered] = field(default_factory=list)

    @property
    def best(self) -> Offered | None:
        return max((run for run in self.tried if run.passed), key=lambda run: run.rate,
                   default=None)


def search(kind: type[System], directory: Path, arguments: argparse.Namespace) -> Search:
    """Double from `--rate` until a run fails, then bisect; `--rate-steps` runs."""
    found, rate = Search(), float(arguments.rate)
    passed, failed = 0.0, 0.0
    for step in range(arguments.rate_steps):
        run = offer(kind, rate, directory / f"{kind.name}-e{step}", arguments.duration)
        found.tried.append(run)
        if run.passed:
            passed = rate
        else:
            failed = rate
        rate = (rate * 2 if not failed else (passed + failed) / 2 if passed else rate / 2)
        rate = max(50.0, round(rate / 50) * 50)
    return found


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
    bodies = ["[" + ",".join(alert(f"{tag}-{start + offset}") for offset in range(100)) + "]"
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


def measure_rss(kind: type[System], directory: Path,
                steps: list[int]) -> list[tuple[int, float, float]]:
    """(N, RSS growth per alert in bytes, VmRSS in MiB) after N new alerts, each opening an
    incident in router; growth is over the RSS after a 1,000-alert warm-up."""
    with running(kind, directory) as system:
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
        print(f"  {kind.name}: VmRSS {base / 1024:.1f} MiB after the warm-up, "
              f"{rows[-1][2]:.1f} MiB after {sent:,} more alerts", flush=True)
        return rows


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


def machine_busy(seconds: float = 2.0) -> float:
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


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10,
                        help="measured seconds per case and per fixed-rate run")
    parser.add_argument("--warmup", type=float, default=3, help="warm-up seconds per case")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--systems", default=",".join(KINDS),
                        help="set-ups, of %(default)s")
    parser.add_argument("--cases", default="a,b,c,e")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of each acceptance case (median reported)")
    parser.add_argument("--rate", type=float, default=1000,
                        help="case e: the first offered rate, alerts/s")
    parser.add_argument("--rate-steps", type=int, default=5, help="case e: runs per set-up")
    parser.add_argument("--rss", default="10000,50000",
                        help="new-alert counts for the RSS rows; empty to skip")
    parser.add_argument("--py-spy", help="record py-spy stacks of router (collapsed, "
                        "flamegraph.pl input) per case into this directory")
    parser.add_argument("--py-spy-gil", action="store_true",
                        help="only samples of the thread holding the GIL")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories")
    parser.add_argument("--router-source", type=Path, default=Router.source,
                        help="run the router package of this checkout (for before/after)")
    parser.add_argument("--allow-busy", action="store_true",
                        help="report even when the machine was busy before the run")
    parser.add_argument("--busy-threshold", type=float, default=0.10,
                        help="busy share of all CPUs that refuses a report (%(default)s)")
    return parser.parse_args()


def main() -> None:
    arguments = parse()
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            sys.exit(f"bench_ingest: {tool} is not installed")
    systems = arguments.systems.split(",")
    cases = arguments.cases.split(",")
    unknown = [name for name in systems if name not in KINDS] + [
        key for key in cases if key not in (*CASES, "e")]
    if unknown:
        sys.exit(f"bench_ingest: unknown set-up or case: {', '.join(unknown)}")
    if any(name.startswith("alertmanager") for name in systems) and ALERTMANAGER is None:
        sys.exit("bench_ingest: prometheus-alertmanager is not installed")
    Router.source = arguments.router_source.resolve()
    print(f"machine: {machine()}")
    print(f"servers pinned to core {SERVER_CORE}, load and sink on core {CLIENT_CORE}, "
          f"{arguments.connections} connections, {arguments.warmup:g} s warm-up, "
          f"{arguments.duration:g} s measured, {arguments.rounds} rounds")
    busy = machine_busy()
    print(f"machine busy before the run: {busy:.0%} of its CPU time", flush=True)
    if busy > arguments.busy_threshold:
        if not arguments.allow_busy:
            print(f"bench_ingest: the machine is busy ({busy:.0%} > "
                  f"{arguments.busy_threshold:.0%}): figures would be low and noisy; "
                  "run it on an idle machine, or pass --allow-busy", file=sys.stderr)
            sys.exit(2)
        print("  (--allow-busy: other work is running, figures will be low and noisy)")
    with workspace(arguments.keep) as directory:
        results = accept(systems, [key for key in cases if key in CASES], directory, arguments)
        searches = {name: search(KINDS[name], directory, arguments) for name in systems
                    if "e" in cases and KINDS[name].live}
        steps = [int(step) for step in arguments.rss.split(",") if step]
        rss = {name: measure_rss(KINDS[name], directory / f"{name}-rss", steps)
               for name in systems if steps and not KINDS[name].live}
    print()
    if results:
        print(table(results, systems, [key for key in cases if key in CASES]))
    if searches:
        print()
        print(search_table(searches))
    if rss:
        print()
        print(rss_table(rss, list(rss)))


def accept(systems: list[str], cases: list[str], directory: Path,
           arguments: argparse.Namespace) -> dict[tuple[str, str], list[Result]]:
    """Each case `--rounds` times, the set-ups in alternating order."""
    results: dict[tuple[str, str], list[Result]] = {}
    for key in cases:
        for round_number in range(arguments.rounds):
            order = systems if round_number % 2 == 0 else systems[::-1]
            for name in order:
                result = run_case(KINDS[name], CASES[key],
                                  directory / f"{name}-{key}-{round_number}", arguments)
                results.setdefault((name, key), []).append(result)
                split = ""
                if name.startswith("router") and result.alerts_per_second:
                    trio_thread = result.main_cpu / result.alerts_per_second * 1e6
                    split = (f" ({trio_thread:,.0f} us in the trio thread, "
                             f"{result.cpu_per_alert - trio_thread:,.0f} us in others)")
                print(f"  {name} {key} round {round_number + 1}: "
                      f"{result.alerts_per_second:,.0f} alerts/s, p99 {result.p99_ms:.1f} ms, "
                      f"server CPU {result.cpu:.0%} of a core, "
                      f"{result.cpu_per_alert:,.0f} us per alert{split}", flush=True)
    return results


def median(results: list[Result]) -> tuple[float, float, float]:
    """Medians of (alerts/s, p99 ms, CPU us per alert) over the rounds."""
    return (statistics.median(result.alerts_per_second for result in results),
            statistics.median(result.p99_ms for result in results),
            statistics.median(result.cpu_per_alert for result in results))


PAIRS = (("router", "alertmanager"), ("router-live", "alertmanager-live"))


def table(results: dict[tuple[str, str], list[Result]], systems: list[str],
          cases: list[str]) -> str:
    pairs = [pair for pair in PAIRS if set(pair) <= set(systems)]
    header = ["case", "set-up", "alerts/s", "p99 ms", "CPU us/alert", "alerts/s per round",
              *(f"{TITLES[one]} / {TITLES[other]}" for one, other in pairs)]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for key in cases:
        for name in systems:
            rate, p99, cpu = median(results[name, key])
            rounds = " / ".join(f"{result.alerts_per_second:,.0f}"
                                for result in results[name, key])
            row = [f"{key}. {CASES[key].title}", TITLES[name], f"{rate:,.0f}", f"{p99:,.1f}",
                   f"{cpu:,.0f}", rounds]
            for one, other in pairs:
                row.append(f"{median(results[one, key])[0] / median(results[other, key])[0]:.2f}"
                           if name == one else "")
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def search_table(searches: dict[str, Search]) -> str:
    header = ["e. end to end, new alerts 1 per request", "highest rate passed, alerts/s",
              "p99 2xx -> sink ms", "CPU us/alert", "rates tried (pass/FAIL)"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for name, found in searches.items():
        best = found.best
        tried = ", ".join(f"{run.rate:,.0f} {'pass' if run.passed else 'FAIL'}"
                          for run in found.tried)
        lines.append("| " + " | ".join([
            TITLES[name], f"{best.rate:,.0f}" if best else "none",
            f"{best.p99_ms:,.0f}" if best else "", f"{best.cpu_per_alert:,.0f}" if best else "",
            tried]) + " |")
    return "\n".join(lines)


def rss_table(rss: dict[str, list[tuple[int, float, float]]], systems: list[str]) -> str:
    header = ["new alerts N", *(f"{TITLES[name]} RSS growth / N" for name in systems),
              *(f"{TITLES[name]} VmRSS" for name in systems)]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for position, (step, _, _) in enumerate(rss[systems[0]]):
        row = [f"{step:,}"]
        row += [f"{rss[name][position][1]:,.0f} B" for name in systems]
        row += [f"{rss[name][position][2]:,.1f} MiB" for name in systems]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
