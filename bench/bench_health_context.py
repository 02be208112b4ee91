"""How long health context (`attach_checks`) holds an alert's first page: the time from
`Engine.ingest` being called until it returns, when the first page is in the outbox (the
deliverer sends it at once after), on a real store, with real psutil figures and a real
command through the daemon's check runner.

Scenarios: no checks attached (the baseline); disk and memory attached, their last runs
fresh (used as they are); the same run now (runs older than their interval); and a
command that hangs, attached with a 1s timeout (it is killed at its timeout, so the page
waits about that long and no more). Prints a table for docs/sources.md. Run with
`python bench/bench_health_context.py [--rounds N]`.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import trio

from router.alerts.model import Alert, Severity
from router.clock import SystemClock
from router.config import load_config
from router.engine import Engine
from router.notify.transport import Transport
from router.probes.runner import CheckRunner
from router.store import Store

CONFIG = """
channels:
  - {{id: log, type: log}}
services:
  - {{id: plain, channels: [log]}}
  - {{id: fresh, channels: [log], attach_checks: [disk, memory]}}
  - {{id: stale, channels: [log], attach_checks: [disk_now, memory_now]}}
  - {{id: hung, channels: [log], attach_checks: [hang]}}
checks:
  - {{id: disk, type: disk, paths: [/], interval: 1h}}
  - {{id: memory, type: memory, swap: {{critical: 90}}, interval: 1h}}
  - {{id: disk_now, type: disk, paths: [/], inodes: {{critical: 95}}, interval: 1s}}
  - {{id: memory_now, type: memory, interval: 1s}}
  - {{id: hang, type: command, command: [{hang}], timeout: 1s, interval: 1s}}
"""


async def measure(engine: Engine, service: str, rounds: int, pause: float) -> list[float]:
    """Milliseconds each ingest of a new alert for `service` took."""
    taken = []
    for index in range(rounds):
        alert = Alert(summary="bench", source="native", severity=Severity.CRITICAL,
                      service=service, labels={"alertname": f"{service}{index}"})
        started = time.perf_counter()
        await engine.ingest([alert])
        taken.append((time.perf_counter() - started) * 1000)
        await trio.sleep(pause)
    return taken


async def bench(directory: Path, rounds: int) -> list[tuple[str, list[float]]]:
    hang = directory / "check_hang"
    hang.write_text("#!/bin/sh\nsleep 60\n")
    hang.chmod(0o755)
    (directory / "router.yaml").write_text(CONFIG.format(hang=hang))
    store = await Store.open(directory / "router.db")
    try:
        engine = Engine(load_config([directory / "router.yaml"]), store, SystemClock())
        engine.health.measure = CheckRunner(engine, Transport()).run_once
        await measure(engine, "fresh", 1, 0)  # the fresh scenario's runs, not timed
        results = [
            ("no checks attached", await measure(engine, "plain", rounds * 4, 0)),
            ("disk + memory, fresh runs", await measure(engine, "fresh", rounds * 4, 0)),
            ("disk + memory, run now", await measure(engine, "stale", rounds, 1.05)),
            ("command hung, timeout 1s", await measure(engine, "hung", max(3, rounds // 3),
                                                       1.05)),
        ]
        return results
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        results = trio.run(bench, Path(directory), arguments.rounds)
    print("| attached | alerts | median ms | p95 ms | max ms |")
    print("| --- | --- | --- | --- | --- |")
    for name, taken in results:
        ordered = sorted(taken)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        print(f"| {name} | {len(taken)} | {statistics.median(taken):.1f} | {p95:.1f} | "
              f"{max(taken):.1f} |")


if __name__ == "__main__":
    main()
