"""How long `router export alerts` takes to read its rows (issue 15: the export in batches).

A plain script (`python bench/bench_export.py`). It fills a real store on disk (WAL, router's
migrations) with `--rows` alert rows, one a second, then reads them all through
`received_alerts`, as the export does, and prints the rows and the seconds. The store is
kept in `--store DIR` when given (filled once), so one store can be read by two checkouts:
`PYTHONPATH=CHECKOUT` runs another checkout's router (`git archive REV router schemas | tar
-x -C DIR`), for the read before and after a change.

    .venv/bin/python bench/bench_export.py [--rows 100000] [--store DIR]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import trio

from router.store import DATABASE_NAME, Store
from router.store.history import received_alerts

START = datetime(2026, 11, 1, tzinfo=UTC)


def fill(path: Path, rows: int) -> None:
    """`rows` alert rows, one a second from START, written in one transaction."""
    async def create() -> None:
        await (await Store.open(path)).close()

    trio.run(create)
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        writer.execute("BEGIN")
        writer.executemany(
            "INSERT INTO alerts (received_at, source, status, dedup_key, summary, severity, "
            "labels, annotations, identity) VALUES (?, 'native', 'firing', ?, 'Disk full', "
            "'warning', ?, '{}', ?)",
            ((START.timestamp() + number, f"key-{number}",
              json.dumps({"alertname": "DiskFull", "n": str(number)}), str(number))
             for number in range(rows)))
        writer.execute("COMMIT")
    finally:
        writer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--store", type=Path, help="keep the store here (filled once)")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        directory = arguments.store or Path(scratch)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / DATABASE_NAME
        if not path.exists():
            fill(path, arguments.rows)
        started = time.perf_counter()
        read = sum(1 for _ in received_alerts(path, START - timedelta(days=1),
                                              START + timedelta(days=3650)))
        print(f"{read} rows read in {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
