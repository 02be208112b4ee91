"""How long an analysis takes to read an incident's past (issue 21 item 3): the incidents of
its dedup key and of its label set in the last 30 days, with the median times to acknowledge
and resolve and who resolved the latest ones with their notes, from a store holding 100,000
past incidents (target: a few milliseconds).

The store is filled with plain SQL (as retention's bench does): incidents over the last 60
days, spread over `--keys` dedup keys and label sets, each resolved (most acknowledged first)
with a `resolved` timeline entry and a note on one in ten, and one hot key that fired
`--hot` times in the window. Prints a table for docs/benchmarks.md. Run with
`python bench/bench_past_incidents.py`.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import trio

from router.store import Store

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def fill(path: Path, *, incidents: int, keys: int, hot: int) -> None:
    rng = random.Random(21)
    connection = sqlite3.connect(path)
    incident_rows, timeline_rows = [], []
    for number in range(1, incidents + 1):
        key = "hot" if number <= hot else f"key{rng.randrange(keys)}"
        labels = json.dumps({"alertname": key, "host": "db1"}, separators=(",", ":"),
                            sort_keys=True)
        days = rng.uniform(0, 29) if key == "hot" else rng.uniform(0, 60)
        opened = (NOW - timedelta(days=days)).timestamp()
        acknowledged = opened + rng.uniform(60, 900) if rng.random() < 0.8 else None
        resolved = opened + rng.uniform(600, 7200)
        incident_rows.append((number, key, "db", key, "critical", "resolved", "test", None, 1,
                              None, 1, None, opened, resolved, acknowledged,
                              "ann" if acknowledged else None, resolved, labels, "[]", 0))
        timeline_rows.append((number, resolved, "ben", "resolved", "{}", None))
        if number % 10 == 0:
            timeline_rows.append((number, resolved, "ben", "note",
                                  json.dumps({"text": f"restarted pool {number}"}), None))
    with connection:
        connection.executemany(
            "INSERT INTO incidents VALUES (" + ", ".join("?" * 20) + ")", incident_rows)
        connection.executemany(
            "INSERT INTO timeline (incident_number, at, actor, action, details, more) "
            "VALUES (?, ?, ?, ?, ?, ?)", timeline_rows)
        connection.execute("UPDATE counters SET value = ? WHERE name = 'incident'",
                           (incidents,))
    connection.execute("ANALYZE")
    connection.close()


async def measure(path: Path, rounds: int) -> list[tuple[str, float, float, int]]:
    store = await Store.open(path)
    since = NOW - timedelta(days=30)
    found = []
    try:
        for name, key in (("hot key", "hot"), ("typical key", "key7")):
            labels = {"alertname": key, "host": "db1"}
            both: list[float] = []
            inside: list[float] = []
            count = 0

            def query(reader: object, key: str = key, labels: dict[str, str] = labels
                      ) -> tuple[int, float]:
                start = time.perf_counter()
                by_key = reader.analysis.past_by_key(key, since, 10**9)  # type: ignore[attr-defined]
                reader.analysis.past_by_labels(labels, since, 10**9)  # type: ignore[attr-defined]
                return by_key.count, time.perf_counter() - start

            for _ in range(rounds):
                start = time.perf_counter()
                count, spent = await store.read(query)
                both.append(time.perf_counter() - start)
                inside.append(spent)
            found.append((name, statistics.median(inside) * 1000,
                          statistics.median(both) * 1000, count))
    finally:
        await store.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--keys", type=int, default=2_000)
    parser.add_argument("--hot", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=50)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "router.db"

        async def create() -> None:
            await (await Store.open(path)).close()
        trio.run(create)
        fill(path, incidents=options.incidents, keys=options.keys, hot=options.hot)
        rows = trio.run(measure, path, options.rounds)
    print(f"{options.incidents:,} past incidents, {options.keys:,} keys, median of "
          f"{options.rounds} rounds (by key and by label set together):\n")
    print("| case | incidents in 30 days | query (store thread) | with the thread hop |")
    print("| --- | --- | --- | --- |")
    for name, inside, both, count in rows:
        print(f"| {name} | {count:,} | {inside:.2f} ms | {both:.2f} ms |")


if __name__ == "__main__":
    main()
