"""The store's size under a day of fuzzed alerts in fast-forward (issue 13 item 7).

A plain script (`python bench/bench_store_size.py`, or `make bench`). The real engine and a
real store on disk (WAL; synchronous=NORMAL, since only the size is measured), on a clock
the bench moves on by a minute at a time, so a simulated day takes minutes:

- every 5 minutes (`--resend`), each alert still firing is sent again (as Alertmanager
  re-sends a group every `group_interval`); every minute new alerts start firing (random
  names, instances and extra labels, a tenth of them with an oversized `description`
  annotation of 4-64 KB), and alerts that have fired their time (1 minute to 3 hours) are
  resolved; a few alerts arrive resolved with no incident open (a resolve re-sent after its
  incident closed);
- every minute, a stand-in deliverer takes each due notification and records an attempt
  (`outbox.due` and `outbox.record`, as the deliverer does): 1 in 5 fails once and is
  retried a minute later with an error text, as a flaky receiver would;
- every hour, the daemon's retention pass (`Retention.prune_once`) with `settings.retention`
  (default here 6h, so that a day shows the bound; the shipped default is 90d), then the
  store's size (database + WAL) and rows per table are sampled. `prune ms` is the whole
  pass; `unit ms` its longest transaction, the most an ingest beside it waits for it.

`--no-prune` runs the same day without the retention pass, for the growth it prevents;
`PYTHONPATH=CHECKOUT` runs another checkout's router (one from before retention and repeat
counting runs with `--no-prune`: `git archive REV router schemas | tar -x -C DIR`). At
the end, the bytes each table and index take (SQLite's dbstat): what makes the store big.

    .venv/bin/python bench/bench_store_size.py [--hours 24] [--retention 6h] [--new 10]
        [--resend 5] [--seed 13] [--no-prune]

The figures and how to read them are in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import trio

import router
from router.alerts.model import Alert, Severity, Status
from router.clock import FixedClock
from router.config import load_config
from router.config.values import parse_positive_duration
from router.engine import Engine
from router.store import Store, Transaction
from router.store.outbox import Attempt

START = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
CONFIG = """{settings}
channels:
  - {{id: log, type: log}}
  - {{id: hook, type: webhook, url: "http://127.0.0.1:9/hook"}}
escalation_policies:
  - id: default
    levels:
      - {{targets: [{{channel: hook}}], delay: 30m}}
      - {{targets: [{{channel: log}}], delay: 1h}}
services:
  - {{id: api, escalation_policy: default, channels: [log]}}
routes:
  - service: api
"""
TABLES = ("incidents", "alerts", "timeline", "outbox", "deliveries")
NAMES = ("DiskFull", "HighLatency", "InstanceDown", "ErrorRate", "QueueBacklog",
         "CertificateExpiry", "MemoryLow", "ReplicationLag")


@dataclass(slots=True)
class Firing:
    labels: dict[str, str]
    annotations: dict[str, str]
    until: datetime


class Fuzz:
    """The alerts of a day: what fires now, what starts and what ends each minute."""

    def __init__(self, seed: int, new_per_minute: int) -> None:
        self.random = random.Random(seed)
        self.new_per_minute = new_per_minute
        self.firing: list[Firing] = []
        self.arrivals = 0

    def minute(self, now: datetime, resend: bool) -> list[Alert]:
        ending = [alert for alert in self.firing if alert.until <= now]
        self.firing = [alert for alert in self.firing if alert.until > now]
        starting = [self._new(now) for _ in range(
            self.random.randint(0, 2 * self.new_per_minute))]
        self.firing += starting
        sent = [self._alert(alert, Status.FIRING)
                for alert in (self.firing if resend else starting)]
        sent += [self._alert(alert, Status.RESOLVED) for alert in ending]
        if self.random.random() < 0.2:  # a resolve for an incident long closed
            sent.append(self._alert(self._new(now), Status.RESOLVED))
        self.arrivals += len(sent)
        return sent

    def _new(self, now: datetime) -> Firing:
        pick = self.random
        labels = {"alertname": pick.choice(NAMES), "instance": f"host{pick.randrange(200)}",
                  "job": pick.choice(("node", "api", "db"))}
        if pick.random() < 0.3:
            labels[f"extra{pick.randrange(5)}"] = f"{pick.getrandbits(64):016x}"
        annotations = {"summary": f"{labels['alertname']} on {labels['instance']}"}
        if pick.random() < 0.1:
            annotations["description"] = "x" * pick.randrange(4096, 65536)
        lasting = timedelta(minutes=pick.choice((1, 5, 15, 60, 180)))
        return Firing(labels, annotations, now + lasting)

    @staticmethod
    def _alert(alert: Firing, status: Status) -> Alert:
        return Alert(summary=alert.annotations["summary"], source="alertmanager",
                     severity=Severity.CRITICAL, status=status, labels=alert.labels,
                     annotations=alert.annotations)


class TimedStore:
    """The store as the retention pass uses it, timing each of its transactions: an ingest
    that arrives meanwhile waits for one of them at most."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.longest = 0.0

    async def write(self, work: Any) -> Any:
        began = time.perf_counter()
        try:
            return await self.store.write(work)
        finally:
            self.longest = max(self.longest, time.perf_counter() - began)


def deliver(transaction: Transaction, now: datetime, pick: random.Random) -> int:
    """What the deliverer would do this minute: every due notification is tried once."""
    tried = 0
    for channel in ("log", "hook"):
        for item in transaction.outbox.due(channel, now, 10_000):
            failing = item.attempts == 0 and pick.random() < 0.2
            transaction.outbox.record(Attempt(
                notification_id=item.notification.id,
                incident_number=item.notification.incident_number, channel=channel,
                target=item.notification.target, event=item.notification.event,
                attempt=item.attempts + 1, attempted_at=now,
                outcome="retry" if failing else "delivered", status_code=503 if failing
                else 200, latency_ms=1.0,
                error="http://127.0.0.1:9/hook: answered 503 Service Unavailable"
                if failing else None), now + timedelta(minutes=1) if failing else None)
            tried += 1
    return tried


async def day(directory: Path, arguments: argparse.Namespace) -> None:
    (directory / "config.yaml").write_text(CONFIG.format(
        settings="" if arguments.no_prune else f"settings: {{retention: {arguments.retention}}}"))
    store = await Store.open(directory / "router.db", synchronous="NORMAL")
    clock = FixedClock(START)
    engine = Engine(load_config([directory / "config.yaml"]), store, clock)
    timed = TimedStore(store)
    if not arguments.no_prune:  # (a router from before retention runs only --no-prune)
        from router.engine.retention import Retention
        # the real pass, on the engine's clock and config, its transactions timed
        pruning = Retention(SimpleNamespace(store=timed, clock=clock,  # type: ignore[arg-type]
                                            snapshot=engine.snapshot))
    fuzz = Fuzz(arguments.seed, arguments.new)
    pick = random.Random(arguments.seed + 1)
    print(f"{arguments.hours} h, {arguments.new} new alerts a minute on average, firing ones "
          f"re-sent every {arguments.resend} min, retention "
          f"{'off' if arguments.no_prune else arguments.retention}, seed {arguments.seed}; "
          f"router from {Path(router.__file__).parent}")
    print(f"{'hour':>4} {'arrivals':>9} {'firing':>6} {'incidents':>9} {'alerts':>7} "
          f"{'timeline':>8} {'outbox':>7} {'deliveries':>10} {'db MiB':>7} {'wal MiB':>7} "
          f"{'prune ms':>8} {'unit ms':>7}", flush=True)
    started, largest = time.perf_counter(), 0
    for minute in range(arguments.hours * 60):
        now = clock.moment = START + timedelta(minutes=minute)
        await engine.ingest(fuzz.minute(now, resend=minute % arguments.resend == 0))
        await store.write(functools.partial(deliver, now=now, pick=pick))
        if (minute + 1) % 60:
            continue
        clock.moment = now + timedelta(seconds=59)
        began, timed.longest = time.perf_counter(), 0.0
        if not arguments.no_prune:
            await pruning.prune_once()
        prune_ms = (time.perf_counter() - began) * 1000
        rows = await store.read(lambda reader: {table: reader.connection.execute(
            f"SELECT count(*) FROM {table}").fetchone()[0] for table in TABLES})
        database, wal = (os.stat(directory / name).st_size
                         for name in ("router.db", "router.db-wal"))
        largest = max(largest, database + wal)
        print(f"{(minute + 1) // 60:>4} {fuzz.arrivals:>9,} {len(fuzz.firing):>6} "
              f"{rows['incidents']:>9,} {rows['alerts']:>7,} {rows['timeline']:>8,} "
              f"{rows['outbox']:>7,} {rows['deliveries']:>10,} "
              f"{database / 2**20:>7.1f} {wal / 2**20:>7.1f} "
              f"{prune_ms:>8.0f} {timed.longest * 1000:>7.0f}", flush=True)
    breakdown = await store.read(lambda reader: reader.connection.execute(
        "SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC").fetchall())
    await store.close()
    print("bytes by table and index at the end: " + ", ".join(
        f"{name} {size / 2**20:.1f} MiB" for name, size in breakdown if size >= 2**20 / 10))
    print(f"largest database + WAL: {largest / 2**20:.1f} MiB; {fuzz.arrivals:,} arrivals in "
          f"{time.perf_counter() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--retention", default="6h")
    parser.add_argument("--new", type=int, default=10,
                        help="new alerts a minute on average")
    parser.add_argument("--resend", type=int, default=5, metavar="MINUTES",
                        help="every firing alert is sent again this often")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--no-prune", action="store_true")
    arguments = parser.parse_args()
    parse_positive_duration(arguments.retention)
    with tempfile.TemporaryDirectory(prefix="bench-store-size-") as directory:
        trio.run(day, Path(directory), arguments)


if __name__ == "__main__":
    main()
