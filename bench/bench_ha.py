"""High availability on PostgreSQL (issue 18 item 6): one node vs SQLite, two and three
nodes, and how long a dead node's work waits.

A plain script (`python bench/bench_ha.py`, or `make bench`). It starts one PostgreSQL
cluster of its own in a temporary directory (as tests/postgres_server.py does, as
`nobody` under root, but with `fsync` and `synchronous_commit` left on: SQLite's store
commits with synchronous=FULL, so both pay for durable commits) and a fresh database per
run. Every router is bench_ingest's `router-live` set-up (every new alert paged to a webhook
sink, bench/ha_sink.py, which counts pages by their `Idempotency-Key`).

1. `single`: one router on SQLite vs one on PostgreSQL, the router (and the database)
   pinned to core 0, wrk and the sink on core 1; case a (new alerts, one per request) and
   case c (repeats of 1,000 alerts opened in the warm-up); `--rounds` rounds, the set-ups
   alternating, medians. CPU per alert is the router's and, on PostgreSQL, the server's
   processes' (the postmaster and its children, from /proc): the honest cost includes both.
2. `nodes`: two and three routers on one database, nothing pinned; one wrk whose threads
   each keep their connections to one node (the Lua `setup` sets `thread.addr`, nodes taken
   round robin), so each node gets the same share of the connections. Reported: total
   alerts/s, p99, incidents stored (once each: distinct dedup keys), pages at the sink, pages
   sent twice (same Idempotency-Key), and the CPU split (each router, PostgreSQL, the sink,
   wrk).
3. `takeover`: two nodes, the sink holding its answers (pages in flight); 100 new alerts,
   and once every page is claimed, `kill -9` of node A. Reported: from the death until the
   last of A's claimed notifications is delivered by B (≈ what remained of A's lease), and
   the repeats (A's pages that had reached the sink unanswered). Then an escalation timer:
   an incident opened on A whose level-1 delay ends; A killed half a second before; the
   time from the deadline until B escalates it.

The script refuses to report on a busy machine (as bench_ingest.py) unless `--allow-busy`,
and stops its routers, sink and cluster on any exit.

    .venv/bin/python bench/bench_ha.py [--parts single,nodes,takeover] [--cases a,c]
        [--duration 10] [--warmup 3] [--connections 48] [--rounds 3] [--leases 5,60]
        [--escalate-after 20] [--py-spy DIR] [--statements] [--pg-setting NAME=VALUE ...]
        [--allow-busy] [--busy-threshold 0.1]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import resource
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench_ingest import POOL, drain, machine_busy, start_py_spy
from ingest_load import alert, lua
from ingest_systems import (
    CLIENT_CORE,
    ROOT,
    ROUTER_CONFIG,
    SERVER_CORE,
    cpu_seconds,
    free_port,
    get,
)

sys.path.insert(0, str(ROOT))
from tests.postgres_server import UNPRIVILEGED, USER, server_programs

PATH = "/api/v2/alerts"
SINK = Path(__file__).resolve().parent / "ha_sink.py"
ALL_CORES = f"0-{(os.cpu_count() or 1) - 1}"


def post(port: int, path: str, body: bytes = b"", timeout: float = 60) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("POST", path, body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


class Postgres:
    """A throwaway cluster (fsync on), a database per run, its processes' CPU time."""

    def __init__(self, directory: Path, statements: bool = False,
                 settings: tuple[str, ...] = ()) -> None:
        programs = server_programs()
        if programs is None:
            sys.exit("bench_ha: PostgreSQL is not installed (apt-get install postgresql)")
        self.programs, self.directory, self.port = programs, directory, free_port()
        self.run_as = UNPRIVILEGED if os.geteuid() == 0 else None
        self.numbers = iter(range(1, 10_000))
        directory.mkdir(parents=True)
        if self.run_as:
            os.chown(directory, *_ids(self.run_as))
        self._run("initdb", "-D", str(directory / "data"), "-A", "trust", "-U", USER,
                  "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        options = (f"-k {directory} -c listen_addresses=127.0.0.1 -p {self.port} "
                   "-c max_connections=200 -c shared_buffers=128MB"
                   + (" -c shared_preload_libraries=pg_stat_statements" if statements else "")
                   + "".join(f" -c {setting}" for setting in settings))
        self._run("pg_ctl", "start", "-D", str(directory / "data"), "-l",
                  str(directory / "server.log"), "-w", "-t", "60", "-o", options)
        self.pid = int((directory / "data" / "postmaster.pid").read_text().split()[0])

    def _run(self, program: str, *arguments: str) -> None:
        user = {"user": self.run_as, "group": _ids(self.run_as)[1],
                "extra_groups": []} if self.run_as else {}
        subprocess.run([str(self.programs / program), *arguments], check=True,
                       capture_output=True, text=True, cwd=self.directory,
                       env={**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"},
                       **user)  # type: ignore[call-overload]

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def database(self) -> str:
        """A new empty database's URL."""
        import psycopg

        name = f"r_{next(self.numbers)}"
        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def pids(self) -> list[int]:
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError):
                if int(stat.read_text().rpartition(")")[2].split()[1]) == self.pid:
                    children.append(int(stat.parent.name))
        return [self.pid, *children]

    def cpu(self) -> dict[int, float]:
        """CPU seconds of the postmaster and each of its children, by pid."""
        found = {}
        for pid in self.pids():
            with contextlib.suppress(OSError):
                found[pid] = cpu_seconds(pid)
        return found

    def pin(self, cores: str) -> None:
        """Move the cluster's processes (and so the backends it forks next) to `cores`."""
        for pid in self.pids():
            with contextlib.suppress(OSError):
                os.sched_setaffinity(pid, _cores(cores))

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run("pg_ctl", "stop", "-D", str(self.directory / "data"), "-m", "immediate",
                      "-w")


def _ids(user: str) -> tuple[int, int]:
    import pwd

    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid


def _cores(text: str) -> set[int]:
    first, _, last = text.partition("-")
    return set(range(int(first), int(last or first) + 1))


def cpu_since(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


class Sink:
    """bench/ha_sink.py on the client core."""

    def __init__(self, cores: str = CLIENT_CORE) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(["taskset", "-c", cores, sys.executable, str(SINK),
                                         str(self.port)], stdout=subprocess.PIPE)
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != b"ready":
            raise RuntimeError("the sink did not start")

    def state(self) -> dict[str, Any]:
        return dict(json.loads(get(self.port, "/arrivals", timeout=60)[1]))

    def arrivals(self) -> tuple[int, dict[str, float]]:
        answer = self.state()
        return int(answer["posts"]), dict(answer["alerts"])

    def hold(self, holding: bool) -> None:
        post(self.port, "/hold" if holding else "/release")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait()


ESCALATION = """
escalation_policies:
  - id: default
    name: Default
    levels:
      - {targets: [{rota: primary}], delay: %s}
      - {targets: [{channel: sink}], delay: 30m}
services:"""


class Node:
    """`router run` with the live set-up's config, on SQLite or on `url` as `node_id`."""

    def __init__(self, directory: Path, sink: Sink, url: str | None, node_id: str,
                 cores: str, lease: float = 60, escalate_after: float | None = None) -> None:
        self.directory, self.url, self.node_id, self.cores = directory, url, node_id, cores
        self.port = free_port()
        hook = f"- {{id: sink, type: webhook, url: 'http://127.0.0.1:{sink.port}/hook'}}"
        config = ROUTER_CONFIG % {"hook": hook, "page": "sink"}
        config = config.replace("  timezone: Europe/Berlin\npeople",
                                f"  timezone: Europe/Berlin\n  delivery: {{lease: {lease:g}s}}"
                                "\npeople", 1)
        if escalate_after is not None:
            config = re.sub(r"\nescalation_policies:.*?\nservices:",
                            ESCALATION % f"{escalate_after:g}s", config, count=1, flags=re.S)
        self.config = config
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def launch(self) -> None:
        (self.directory / "config").mkdir(parents=True, exist_ok=True)
        (self.directory / "config" / "router.yaml").write_text(self.config)
        store = ["--store", self.url, "--node-id", self.node_id] if self.url else []
        log = (self.directory / "log").open("ab")
        self.process = subprocess.Popen(
            ["taskset", "-c", self.cores, sys.executable, "-m", "router", "run", "--config",
             str(self.directory / "config"), "--state", str(self.directory / "state"),
             "--listen", f"127.0.0.1:{self.port}", *store],
            stdout=log, stderr=log, cwd=self.directory,
            env={**os.environ, "PYTHONPATH": str(ROOT)})

    def ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"{self.node_id} exited: {self.log_tail()}")
            with contextlib.suppress(OSError):
                if get(self.port, "/readyz", timeout=1)[0] == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"{self.node_id} did not get ready: {self.log_tail()}")

    def log_tail(self) -> str:
        return (self.directory / "log").read_text(errors="replace")[-2000:]

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()


@contextlib.contextmanager
def cluster_of(nodes: list[Node]) -> Iterator[list[Node]]:
    """The nodes started (the first alone: it migrates the database), stopped at the end."""
    try:
        nodes[0].launch()
        nodes[0].ready()
        for node in nodes[1:]:
            node.launch()
        for node in nodes[1:]:
            node.ready()
        yield nodes
    finally:
        for node in nodes:
            node.stop()


SPREAD = """
local ports = {PORTS}
local first_setup = setup
function setup(thread)
  first_setup(thread)
  local port = ports[((threads - 1) % #ports) + 1]
  thread.addr = wrk.lookup("127.0.0.1", tostring(port))[1]
end
"""
"""Appended to bench_ingest's Lua: each wrk thread keeps its connections to one node, the
nodes taken round robin (`threads` is the template's count of threads set up so far)."""


def run_wrk(ports: list[int], script: str, seconds: float, connections: int,
            cores: str) -> tuple[float, float, int, str, float]:
    """wrk, its threads' connections spread over `ports` round robin:
    (requests/s, p99 ms, requests, errors, wrk's CPU seconds)."""
    threads = 2 * len(ports) if len(ports) > 1 else 2
    spread = SPREAD.replace("PORTS", ", ".join(map(str, ports)))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as file:
        file.write(script + spread)
        file.flush()
        command = ["taskset", "-c", cores, "wrk", f"-t{threads}", f"-c{connections}",
                   f"-d{seconds:g}s", "--latency", "--timeout", "10s", "-s", file.name,
                   f"http://127.0.0.1:{ports[0]}{PATH}"]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", output)
    assert rate and total and p99, output
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    errors = "; ".join(line.strip() for line in output.splitlines()
                       if "Non-2xx" in line or "Socket errors" in line)
    used = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return (float(rate.group(1)), float(p99.group(1)) * scale, int(total.group(1)), errors,
            used)


def counts(url: str | None, directory: Path) -> dict[str, int]:
    """Incidents, distinct dedup keys, alerts and outbox states of a run's store."""
    queries = {"incidents": "SELECT count(*) FROM incidents",
               "keys": "SELECT count(DISTINCT dedup_key) FROM incidents",
               "alerts": "SELECT count(*) FROM alerts",
               "pending": "SELECT count(*) FROM outbox WHERE state = 'pending'",
               "delivered": "SELECT count(*) FROM outbox WHERE state = 'delivered'",
               "attempts": "SELECT count(*) FROM deliveries"}
    if url is None:
        with contextlib.closing(sqlite3.connect(directory / "state" / "router.db")) as db:
            return {name: int(db.execute(sql).fetchone()[0]) for name, sql in queries.items()}
    import psycopg

    with psycopg.connect(url) as db:
        return {name: int(db.execute(sql).fetchone()[0])  # type: ignore[index]
                for name, sql in queries.items()}


def run_load(nodes: list[Node], sink: Sink, postgres: Postgres | None, case: str,
             arguments: argparse.Namespace, cores: str) -> dict[str, Any]:
    """Warm up, then measure one case over the nodes; the figures and the checks."""
    ports = [node.port for node in nodes]
    pool = POOL if case == "c" else 0
    if pool:  # open the pool's incidents first: the warm-up alone is too short on PG
        for start in range(0, pool, 100):
            body = ",".join(alert(f"repeat-{number}") for number in range(start, start + 100))
            assert post(ports[start // 100 % len(ports)], PATH, f"[{body}]".encode()) == 200
    warm = run_wrk(ports, lua(1, "warm", pool), arguments.warmup, arguments.connections, cores)
    began = time.monotonic()
    router_before = [cpu_seconds(node.pid) for node in nodes]
    sink_before = cpu_seconds(sink.process.pid)
    pg_before = postgres.cpu() if postgres else {}
    if postgres and arguments.statements:
        reset_statements(nodes[0].url)
    spy = None
    if arguments.py_spy:
        name = f"{'postgresql' if nodes[0].url else 'sqlite'}-{len(nodes)}-{case}.txt"
        spy = start_py_spy(nodes[0].pid, Path(arguments.py_spy) / name, arguments.duration,
                           gil=False)
    rate, p99, requests, errors, wrk_cpu = run_wrk(
        ports, lua(1, case, pool), arguments.duration, arguments.connections, cores)
    elapsed = time.monotonic() - began
    if spy is not None:
        spy.wait(timeout=120)
    routers = [(cpu_seconds(node.pid) - before) / elapsed
               for node, before in zip(nodes, router_before, strict=True)]
    database = cpu_since(pg_before, postgres.cpu()) / elapsed if postgres else 0.0
    sink_cpu = (cpu_seconds(sink.process.pid) - sink_before) / elapsed
    sent = warm[2] + requests
    statements = (top_statements(nodes[0].url, rate * arguments.duration)
                  if postgres and arguments.statements else "")
    # wrk leaves out the requests still open when it stopped: page what was stored
    expected = POOL if pool else counts(nodes[0].url, nodes[0].directory)["incidents"]
    posts, arrived, waited = drain(sink, expected, limit=30)
    keys = sink.state()["keys"]
    return {"rate": rate, "p99": p99, "answered": sent, "errors": errors,
            "routers": routers, "postgres": database, "sink": sink_cpu,
            "wrk": wrk_cpu / elapsed, "expected": expected, "arrived": arrived,
            "posts": posts, "twice": sum(1 for times in keys.values() if len(times) > 1),
            "waited": waited, "statements": statements}


def reset_statements(url: str | None) -> None:
    import psycopg

    with psycopg.connect(url or "", autocommit=True) as db:
        db.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        db.execute("SELECT pg_stat_statements_reset()")
        db.execute("SELECT pg_stat_reset()")


def top_statements(url: str | None, alerts: float) -> str:
    """The database's statements since the reset, most time first: calls and server time
    per alert (a call is a round trip, but for `script`'s several statements in one)."""
    rows = query(url or "", "SELECT calls, total_exec_time, rows, query FROM "
                 "pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE "
                 "datname = current_database()) ORDER BY total_exec_time DESC")
    commits = query(url or "", "SELECT xact_commit FROM pg_stat_database WHERE "
                    "datname = current_database()")[0][0]
    calls = sum(row[0] for row in rows)
    lines = [f"    {len(rows)} statements, {calls / alerts:.1f} calls per alert, "
             f"{sum(row[1] for row in rows) * 1000 / alerts:,.0f} us server time per alert, "
             f"{commits / alerts:.3f} commits per alert (all sessions)"]
    lines += [f"    {row[0] / alerts:6.2f}/alert {row[1] * 1000 / alerts:7.1f} us/alert "
              f"{row[1] * 1000 / max(1, row[0]):7.1f} us/call  "
              f"{' '.join(row[3].split())[:110]}" for row in rows[:25]]
    return "\n".join(lines)


def single(postgres: Postgres, directory: Path, arguments: argparse.Namespace
           ) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """One router on SQLite vs one on PostgreSQL, server side on core 0."""
    postgres.pin(SERVER_CORE)
    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for case in arguments.cases.split(","):
        for round_number in range(arguments.rounds):
            order = ["sqlite", "postgresql"][::1 if round_number % 2 == 0 else -1]
            for store in order:
                place = directory / f"single-{store}-{case}-{round_number}"
                url = postgres.database() if store == "postgresql" else None
                sink = Sink()
                try:
                    node = Node(place, sink, url, "one", SERVER_CORE)
                    with cluster_of([node]):
                        figures = run_load([node], sink, postgres if url else None, case,
                                           arguments, CLIENT_CORE)
                finally:
                    sink.stop()
                figures["stored"] = counts(url, place)
                results.setdefault((store, case), []).append(figures)
                report(f"single {store} {case} round {round_number + 1}", figures)
    return results


def nodes_run(postgres: Postgres, directory: Path, arguments: argparse.Namespace
              ) -> dict[int, list[dict[str, Any]]]:
    """Two and three routers on one database, nothing pinned, case a."""
    postgres.pin(ALL_CORES)
    results: dict[int, list[dict[str, Any]]] = {}
    for round_number in range(arguments.rounds):
        for count in ((2, 3) if round_number % 2 == 0 else (3, 2)):
            place = directory / f"nodes{count}-{round_number}"
            url = postgres.database()
            sink = Sink(ALL_CORES)
            try:
                nodes = [Node(place / f"n{index}", sink, url, f"n{index}", ALL_CORES)
                         for index in range(count)]
                with cluster_of(nodes):
                    figures = run_load(nodes, sink, postgres, "a", arguments, ALL_CORES)
            finally:
                sink.stop()
            figures["stored"] = counts(url, place)
            results.setdefault(count, []).append(figures)
            report(f"{count} nodes round {round_number + 1}", figures)
    return results


def report(title: str, figures: dict[str, Any]) -> None:
    stored = figures["stored"]
    print(f"  {title}: {figures['rate']:,.0f} alerts/s, p99 {figures['p99']:.1f} ms, routers "
          f"{' + '.join(f'{cpu:.0%}' for cpu in figures['routers'])} of a core, postgres "
          f"{figures['postgres']:.0%}, sink {figures['sink']:.0%}, wrk {figures['wrk']:.0%}; "
          f"{figures['answered']:,} answered, {stored['incidents']:,} incidents "
          f"({stored['keys']:,} keys, {stored['alerts']:,} alerts), {figures['arrived']:,} "
          f"alerts at the sink of {figures['expected']:,} expected in {figures['posts']:,} "
          f"POSTs, {figures['twice']} sent twice, outbox pending {stored['pending']:,}"
          + (f"; wrk errors: {figures['errors']}" if figures["errors"] else ""), flush=True)
    if figures["statements"]:
        print(figures["statements"], flush=True)


def query(url: str, sql: str, *parameters: object) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(url) as db:
        return list(db.execute(sql, parameters).fetchall())  # type: ignore[arg-type]


def takeover(postgres: Postgres, directory: Path, lease: float) -> dict[str, Any]:
    """Kill -9 a node holding claimed, unanswered pages; how long until B delivers them."""
    url = postgres.database()
    sink = Sink(ALL_CORES)
    try:
        sink.hold(True)
        nodes = [Node(directory / f"takeover-{lease:g}" / name, sink, url, name, ALL_CORES,
                      lease=lease) for name in ("a", "b")]
        with cluster_of(nodes):
            for index, node in enumerate(nodes):
                body = "[" + ",".join(alert(f"t{lease:g}-{index}-{number}")
                                      for number in range(50)) + "]"
                assert post(node.port, PATH, body.encode()) == 200
            deadline = time.monotonic() + min(lease / 2, 10)
            while time.monotonic() < deadline:
                claims = dict(query(url, "SELECT claimed_by, count(*) FROM outbox WHERE "
                                         "state = 'pending' GROUP BY claimed_by"))
                if claims.get(None, 0) == 0 and claims.get("a"):
                    break
                time.sleep(0.05)
            held_by_a = query(url, "SELECT id, lease_until FROM outbox WHERE claimed_by = 'a' "
                                   "AND state = 'pending'")
            at_sink = set(sink.state()["held"])
            died = time.time()
            nodes[0].kill()
            sink.hold(False)
            ids = [row[0] for row in held_by_a]
            done = None
            while time.time() < died + lease + 60:
                left = query(url, "SELECT count(*) FROM outbox WHERE id = ANY(%s) AND "
                                  "state = 'pending'", ids)[0][0]
                if left == 0:
                    done = time.time()
                    break
                time.sleep(0.05)
            keys = sink.state()["keys"]
            arrivals = [max(keys.get(key, [0.0])) for key in ids]
    finally:
        sink.stop()
    twice = {key for key, times in keys.items() if len(times) > 1}
    return {"lease": lease, "claimed_by_a": len(ids), "claims": claims,
            "in_flight_at_a": len(at_sink & set(ids)),
            "lease_left": max((row[1] for row in held_by_a), default=died) - died,
            "delivered_after": (done - died) if done else None,
            "last_page_after": max(arrivals, default=died) - died,
            "twice": len(twice), "twice_of_a": len(twice & set(ids)),
            "missing": sum(1 for key in ids if key not in keys)}


def escalation(postgres: Postgres, directory: Path, after: float) -> dict[str, Any]:
    """An incident opened on A, A killed just before its escalation is due; B escalates."""
    url = postgres.database()
    sink = Sink(ALL_CORES)
    try:
        nodes = [Node(directory / "escalate" / name, sink, url, name, ALL_CORES,
                      escalate_after=after) for name in ("a", "b")]
        with cluster_of(nodes):
            assert post(nodes[0].port, PATH, f"[{alert('escalate-me')}]".encode()) == 200
            rows = query(url, "SELECT incident_number, due_at FROM timers WHERE kind = "
                              "'escalate'")
            number, due = rows[0]
            time.sleep(max(0.0, due - 0.5 - time.time()))
            nodes[0].kill()
            died = time.time()
            escalated = None
            while time.time() < due + 60:
                found = query(url, "SELECT at, actor FROM timeline WHERE incident_number = %s "
                                   "AND action = 'escalated'", number)
                if found:
                    escalated = found[0]
                    break
                time.sleep(0.05)
            keys = sink.state()["keys"]
    finally:
        sink.stop()
    pages = sorted(time_ for times in keys.values() for time_ in times)
    return {"due_minus_death": due - died,
            "escalated_after_due": escalated[0] - due if escalated else None,
            "page_after_due": pages[-1] - due if len(pages) > 1 else None}


def rounds(runs: list[dict[str, Any]]) -> str:
    return " / ".join(f"{run['rate']:,.0f}" for run in runs)


def seconds(value: float | None) -> str:
    return "never (60 s)" if value is None else f"{value:.2f} s"


def single_table(results: dict[tuple[str, str], list[dict[str, Any]]]) -> str:
    lines = ["| case | store | alerts/s | p99 ms | router CPU us/alert | PostgreSQL CPU "
             "us/alert | together us/alert | alerts/s per round |", "|" + " --- |" * 8]
    titles = {"a": "a. new alerts, 1 per request", "c": "c. repeat alerts, 1 per request"}
    for (store, case), runs in results.items():
        router = statistics.median(run["routers"][0] / run["rate"] * 1e6 for run in runs)
        database = statistics.median(run["postgres"] / run["rate"] * 1e6 for run in runs)
        both = statistics.median((run["routers"][0] + run["postgres"]) / run["rate"] * 1e6
                                 for run in runs)
        lines.append(
            f"| {titles[case]} | {store} | {statistics.median(r['rate'] for r in runs):,.0f} | "
            f"{statistics.median(r['p99'] for r in runs):,.1f} | {router:,.0f} | "
            f"{database:,.0f} | {both:,.0f} | "
            f"{rounds(runs)} |")
    return "\n".join(lines)


def nodes_table(results: dict[int, list[dict[str, Any]]]) -> str:
    lines = ["| routers | alerts/s | p99 ms | CPU share: routers / PostgreSQL / sink / wrk "
             "(cores) | answered | incidents (distinct keys) | alerts at the sink | pages "
             "sent twice | alerts/s per round |", "|" + " --- |" * 9]
    for count in sorted(results):
        runs = results[count]
        mid = sorted(runs, key=lambda run: run["rate"])[len(runs) // 2]
        split = (f"{' + '.join(f'{cpu:.2f}' for cpu in mid['routers'])} / "
                 f"{mid['postgres']:.2f} / {mid['sink']:.2f} / {mid['wrk']:.2f}")
        lines.append(
            f"| {count} | {mid['rate']:,.0f} | "
            f"{statistics.median(r['p99'] for r in runs):,.1f} | {split} | "
            f"{mid['answered']:,} | {mid['stored']['incidents']:,} ({mid['stored']['keys']:,}) "
            f"| {mid['arrived']:,} | {sum(r['twice'] for r in runs)} (all rounds) | "
            f"{rounds(runs)} |")
    return "\n".join(lines)


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="single,nodes,takeover")
    parser.add_argument("--duration", type=float, default=10, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=3, help="warm-up seconds per run")
    parser.add_argument("--connections", type=int, default=48)
    parser.add_argument("--rounds", type=int, default=3, help="rounds, medians reported")
    parser.add_argument("--leases", default="5,60", help="takeover: leases in seconds")
    parser.add_argument("--escalate-after", type=float, default=20,
                        help="takeover: the level-1 delay of the escalation timer, seconds")
    parser.add_argument("--py-spy", help="record py-spy stacks (collapsed, flamegraph.pl "
                        "input) of the first router of each run into this directory")
    parser.add_argument("--cases", default="a,c", help="single: the cases, of a,c")
    parser.add_argument("--pg-setting", action="append", default=[], metavar="NAME=VALUE",
                        help="a server setting for the cluster (-c), repeatable")
    parser.add_argument("--statements", action="store_true",
                        help="load pg_stat_statements and print each PostgreSQL run's "
                        "statements per alert (costs the server a little)")
    parser.add_argument("--allow-busy", action="store_true",
                        help="report even when the machine was busy before the run")
    parser.add_argument("--busy-threshold", type=float, default=0.10,
                        help="busy share of all CPUs that refuses a report (%(default)s)")
    return parser.parse_args()


def main() -> None:
    arguments = parse()
    parts = arguments.parts.split(",")
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            sys.exit(f"bench_ha: {tool} is not installed")
    busy = machine_busy()
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} CPUs, busy before the run: {busy:.0%} of its CPU time, "
          f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}", flush=True)
    if busy > arguments.busy_threshold:
        if not arguments.allow_busy:
            print(f"bench_ha: the machine is busy ({busy:.0%} > {arguments.busy_threshold:.0%})"
                  ": run it on an idle machine, or pass --allow-busy", file=sys.stderr)
            sys.exit(2)
        print("  (--allow-busy: other work is running, figures will be low and noisy)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    directory = Path(tempfile.mkdtemp(prefix="bench-ha-", dir=os.environ.get("TMPDIR")))
    postgres = None
    try:
        directory.chmod(0o755)  # the cluster's owner (nobody under root) reaches pg/
        postgres = Postgres(directory / "pg", arguments.statements,
                            tuple(arguments.pg_setting))
        measured(postgres, directory, parts, arguments)
    finally:
        if postgres is not None:
            postgres.stop()
        shutil.rmtree(directory, ignore_errors=True)


def measured(postgres: Postgres, directory: Path, parts: list[str],
             arguments: argparse.Namespace) -> None:
    tables = []
    if "single" in parts:
        tables.append(single_table(single(postgres, directory, arguments)))
    if "nodes" in parts:
        tables.append(nodes_table(nodes_run(postgres, directory, arguments)))
    if "takeover" in parts:
        rows = ["| lease | notifications A had claimed | of them at the sink unanswered | "
                "A's lease left at its death s | all of A's delivered by B after s | "
                "pages sent twice (of A's) | missing |", "|" + " --- |" * 7]
        for lease in (float(text) for text in arguments.leases.split(",")):
            found = takeover(postgres, directory, lease)
            print(f"  takeover, lease {lease:g} s: {found}", flush=True)
            after = found["delivered_after"]
            rows.append(f"| {lease:g} s | {found['claimed_by_a']} | {found['in_flight_at_a']} "
                        f"| {found['lease_left']:.1f} | "
                        f"{'not within lease + 60 s' if after is None else f'{after:.1f}'} | "
                        f"{found['twice']} ({found['twice_of_a']}) | {found['missing']} |")
        tables.append("\n".join(rows))
        found = escalation(postgres, directory, arguments.escalate_after)
        print(f"  escalation: {found}", flush=True)
        tables.append(f"escalation timer ({arguments.escalate_after:g} s level-1 delay), its "
                      f"node killed {found['due_minus_death']:.1f} s before the deadline: "
                      f"escalated by the other node {seconds(found['escalated_after_due'])} "
                      f"after it (timeline), its page at the sink "
                      f"{seconds(found['page_after_due'])} after it")
    print()
    print("\n\n".join(tables))


if __name__ == "__main__":
    main()
