"""The CPU the durable write of ingest costs per alert, with no HTTP (issue 15 item 2).

A plain script (`python bench/bench_store_write.py`). Each measurement runs in a child
process on the `router` package of a checkout (this one, `--router-source CHECKOUT`, or
`--before REV`: that revision's `router/` exported with `git archive`), so the store before
and after a change run the same bench:

- a real store in a temporary directory on disk (WAL, synchronous=FULL, as the daemon runs)
  and the real Engine on bench_ingest.py's config (a rota, a two-level policy, log channels);
- the alerts bench_ingest.py sends (Alertmanager-like, only `instance` varies), already
  decoded, handed to `Engine.ingest` by CONCURRENCY tasks at once, so commits group as
  they do under a loaded server;
- cases: a. new alerts, one per ingest; b. new alerts, 100 per ingest; c. repeats of 1,000
  open incidents' alerts, one per ingest.

Figures, per alert, the least of the runs (CPU time only grows when other processes share
the cores): `store` the store's own CPU: every call the units made on their Transaction,
recorded and made again on a fresh store with no engine, in units grouped as before (the
calls, the savepoints, the held-back rows, the commit); `cpu` the whole process's CPU in
the engine's run; `commit thread` its store worker thread (the units, which include the
engine's decisions, the SQL and the commit); `in units` the part of that spent inside the
units; `trio` the rest (the trio thread: scheduling, the write queue); alerts/s the median
(wall time, for orientation). `--profile N` prints the N functions of the store's replay
that cost the most CPU of their own (cProfile).

    .venv/bin/python bench/bench_store_write.py [--alerts 3000] [--runs 3] [--cases a b c]
        [--before REV] [--router-source CHECKOUT] [--profile 25] [--store URL]

`--store postgresql://USER@HOST:PORT/DB` measures the PostgreSQL store instead (issue 18):
each measurement creates two databases of its own through that URL (its user must be
allowed to CREATE DATABASE) and drops them after; `store` then includes the round trips to
the server, which SQLite does not make.

The figures and how to read them are in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import children  # the sibling module: children on a checkout, exported revisions

ROOT = Path(__file__).resolve().parent.parent
CONCURRENCY = 50
STORE = "ROUTER_BENCH_STORE"  # the environment variable that hands the child `--store`
POOL = 1000  # open incidents whose alerts case c repeats

CONFIG = """
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


def child(case: str, count: int, profile: int) -> dict[str, Any]:
    """One measurement, on whichever `router` package PYTHONPATH put first."""
    import cProfile
    import io
    import pstats

    import trio

    import router
    from router.alerts.model import Alert, Severity
    from router.clock import SystemClock
    from router.config import load_config
    from router.engine import Engine
    from router.store import Store, postgres

    url = os.environ.get(STORE)

    @contextlib.contextmanager
    def databases() -> Any:
        """Two new PostgreSQL databases (the run's and the replay's), dropped after."""
        import psycopg
        names = [f"bench_{os.getpid()}_{which}" for which in ("run", "replay")]
        with psycopg.connect(url, autocommit=True) as admin:  # type: ignore[arg-type]
            for name in names:
                admin.execute(f"CREATE DATABASE {name}")
            try:
                yield [admin.info.dsn + f" dbname={name}" for name in names]
            finally:
                for name in names:
                    admin.execute(f"DROP DATABASE {name} WITH (FORCE)")

    async def opened(directory: Path, name: str) -> Any:
        if url is None:
            return await Store.open(directory / f"{name}.db")
        return await postgres.Store.open(pg_urls[0 if name == "router" else 1])

    pg_urls: list[str] = []

    def alert(instance: str) -> Alert:
        labels = {"alertname": "HighLatency", "job": "api", "service": "api",
                  "severity": "warning", "instance": instance}
        return Alert(summary="p99 latency over 500ms", source="alertmanager",
                     severity=Severity.WARNING, labels=labels,
                     annotations={"summary": "p99 latency over 500ms",
                                  "description": "The API answers slowly on this instance."},
                     dedup_key=f"fp-{instance}")

    spent = {"commit": 0.0, "work": 0.0}
    profiler = cProfile.Profile(time.thread_time)  # CPU, not waits (the fsync)

    def patch_commit(store: Any, profile: bool) -> None:
        """Time `store`'s commits: its group commit calls `_commit` (store/group_commit.py);
        a router from before that (`--before`) calls its own attribute."""
        owner = getattr(store, "_group", store)
        owner._commit = timed_commit(store._commit, profile)

    def timed_commit(commit: Any, profiled: bool) -> Any:
        def run(units: Any) -> Any:
            started = time.thread_time()
            if profiled:
                profiler.enable()
            try:
                return commit(units)
            finally:
                if profiled:
                    profiler.disable()
                spent["commit"] += time.thread_time() - started
        return run

    Call = tuple[str, tuple[Any, ...], dict[str, Any]]

    class Recording:
        """The transaction as a unit sees it, noting each call the unit makes on it."""

        def __init__(self, transaction: Any, calls: list[Call]) -> None:
            object.__setattr__(self, "_transaction", transaction)
            object.__setattr__(self, "_calls", calls)

        def __setattr__(self, name: str, value: Any) -> None:
            self._calls.append(("__setattr__", (name, value), {}))
            setattr(self._transaction, name, value)

        def __getattr__(self, name: str) -> Any:
            found = getattr(self._transaction, name)
            if not callable(found):
                return found

            def call(*arguments: Any, **keywords: Any) -> Any:
                self._calls.append((name, arguments, keywords))
                return found(*arguments, **keywords)
            return call

    def recorded_write(write: Any, units: list[list[Call]]) -> Any:
        async def run(work: Any) -> Any:
            calls: list[Call] = []
            units.append(calls)

            def timed(transaction: Any) -> Any:
                calls.clear()  # a unit given back to the queue runs again
                started = time.thread_time()
                try:
                    return work(Recording(transaction, calls))
                finally:
                    spent["work"] += time.thread_time() - started
            return await write(timed)
        return run

    def replayed(calls: list[Call]) -> Any:
        def unit(transaction: Any) -> None:
            for name, arguments, keywords in calls:
                if name == "__setattr__":
                    setattr(transaction, *arguments)
                else:
                    getattr(transaction, name)(*arguments, **keywords)
        return unit

    async def drive(run: Any, items: list[Any], concurrency: int) -> None:
        queue = list(reversed(items))

        async def worker() -> None:
            while queue:
                await run(queue.pop())
        async with trio.open_nursery() as nursery:
            for _ in range(concurrency):
                nursery.start_soon(worker)

    async def main(directory: Path) -> dict[str, Any]:
        (directory / "config").mkdir()
        (directory / "config" / "router.yaml").write_text(CONFIG)
        config = load_config([directory / "config"])
        store = await opened(directory, "router")
        engine = Engine(config, store, SystemClock())
        before: list[list[Call]] = []  # case c's pool, opened before the measured run
        units: list[list[Call]] = []
        store.write = recorded_write(store.write, before)  # type: ignore[method-assign]
        if case == "c":
            pool = [alert(f"repeat-{index}") for index in range(POOL)]
            await drive(engine.ingest, [pool[start:start + 100]
                                        for start in range(0, POOL, 100)], 1)
            batches = [[pool[(index * 7919) % POOL]] for index in range(count)]
        elif case == "b":
            batches = [[alert(f"new-{start + index}") for index in range(100)]
                       for start in range(0, count, 100)]
        else:
            batches = [[alert(f"new-{index}")] for index in range(count)]
        spent["work"] = 0.0
        patch_commit(store, False)
        store.write = recorded_write(type(store).write.__get__(store), units)  # type: ignore[method-assign]
        concurrency = CONCURRENCY if case != "b" else 5
        cpu, wall = time.process_time(), time.perf_counter()
        await drive(engine.ingest, batches, concurrency)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        await store.close()
        commit, work = spent["commit"], spent["work"]
        # The same calls again on a fresh store, with no engine: the store's own CPU.
        replay = await opened(directory, "replay")
        await drive(replay.write, [replayed(calls) for calls in before], 1)
        spent["commit"] = 0.0
        patch_commit(replay, bool(profile))
        await drive(replay.write, [replayed(calls) for calls in units], concurrency)
        await replay.close()
        alerts = sum(len(batch) for batch in batches)
        result = {"router": str(Path(router.__file__).parent), "case": case, "alerts": alerts,
                  "alerts_per_second": round(alerts / wall),
                  "cpu_us": round(cpu / alerts * 1e6, 1),
                  "commit_us": round(commit / alerts * 1e6, 1),
                  "work_us": round(work / alerts * 1e6, 1),
                  "store_us": round(spent["commit"] / alerts * 1e6, 1),
                  "trio_us": round((cpu - commit) / alerts * 1e6, 1)}
        if profile:
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(profile)
            result["profile"] = text.getvalue()
        return result

    with tempfile.TemporaryDirectory(prefix="bench-store-write-") as directory, \
            (databases() if url else contextlib.nullcontext([])) as made:
        pg_urls.extend(made)
        return trio.run(main, Path(directory))


def measure(source: Path, case: str, count: int, profile: int) -> dict[str, Any]:
    return children.measure(__file__, source, case, count, profile)


def report(sources: dict[str, Path], arguments: argparse.Namespace) -> None:
    """Each case, the sources' runs alternated (so a busy moment of the machine costs each
    the same), then the figures of each."""
    for case in arguments.cases:
        results: dict[str, list[dict[str, Any]]] = {label: [] for label in sources}
        for _ in range(arguments.runs):
            for label, source in sources.items():
                results[label].append(measure(source, case, arguments.alerts,
                                              arguments.profile))
        for label, runs in results.items():
            print(line(label, case, runs), flush=True)
            if arguments.profile:
                print(runs[-1]["profile"], flush=True)


def line(label: str, case: str, results: list[dict[str, Any]]) -> str:
    def least(name: str) -> float:
        return float(min(result[name] for result in results))
    rate = statistics.median(result["alerts_per_second"] for result in results)
    return (f"{label:>7}  case {case}  µs/alert: store {least('store_us'):6.1f}  cpu "
            f"{least('cpu_us'):6.1f}  commit thread {least('commit_us'):6.1f} (in units "
            f"{least('work_us'):6.1f})  trio {least('trio_us'):6.1f}  |  {rate:7.0f} alerts/s")


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cases", nargs="+", default=["a", "b", "c"], choices="abc")
    parser.add_argument("--profile", type=int, default=0, metavar="N")
    parser.add_argument("--router-source", type=Path, default=ROOT)
    parser.add_argument("--before", metavar="REV",
                        help="also measure this git revision's router/")
    parser.add_argument("--store", metavar="URL",
                        help="measure the PostgreSQL store through this server instead")
    arguments = parser.parse_args()
    if arguments.store:
        os.environ[STORE] = arguments.store
    print(f"{arguments.alerts:,} alerts a case, {CONCURRENCY} at once; {arguments.runs} runs "
          f"each; python {sys.version.split()[0]}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-store-write-source-") as directory:
        sources = {"router": arguments.router_source.resolve()}
        if arguments.before:
            sources = {"before": children.exported(arguments.before, Path(directory)),
                       "after": arguments.router_source.resolve()}
        report(sources, arguments)


if __name__ == "__main__":
    main()
