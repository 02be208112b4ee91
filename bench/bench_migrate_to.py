"""How long `router store migrate-to` takes to copy a store into PostgreSQL (issue 18 item 1).

A plain script (`python bench/bench_migrate_to.py`). It fills a real SQLite store (router's
migrations, WAL) with `--alerts` alert rows in incidents of `--per-incident` alerts each,
every incident with a timeline row per 10 alerts, three notifications (two delivered, one
pending) and their delivery attempts, an escalation timer while open; then copies it with
store/transfer.py's `copy_store` (the command's work: one transaction, verified by counts
and by reading every incident back) and prints the rows and the seconds. PostgreSQL is
`--url` when given, else a throwaway cluster started as the tests start theirs
(tests/postgres_server.py: fsync off, so the figure is the copy's, not the disk's).

    .venv/bin/python bench/bench_migrate_to.py [--alerts 100000] [--per-incident 100]
        [--url postgresql://...] [--batch 1000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from router.store import DATABASE_NAME, Store, transfer

START = 1_795_000_000.0  # 2026-11-18, in Unix seconds as the store keeps instants


def fill(path: Path, alerts: int, per_incident: int) -> None:
    """The store at `path`, created by router and filled in one transaction."""
    async def create() -> None:
        await (await Store.open(path)).close()

    trio.run(create)
    incidents = max(1, alerts // per_incident)
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        writer.execute("BEGIN")
        writer.executemany(
            "INSERT INTO incidents (number, dedup_key, service, summary, severity, state, "
            "source, escalation_policy, level, assigned_to, alert_count, opened_at, "
            "updated_at, resolved_at, labels, firing) VALUES (?, ?, 'api', 'Disk full', "
            "'critical', ?, 'native', 'default', 1, 'alice', ?, ?, ?, ?, ?, '[]')",
            ((number, f"key-{number}", "resolved" if number % 4 else "triggered",
              per_incident, START + number * 60, START + number * 60 + 600,
              START + number * 60 + 600 if number % 4 else None,
              json.dumps({"alertname": "DiskFull", "n": str(number)}))
             for number in range(1, incidents + 1)))
        writer.execute("UPDATE counters SET value = ? WHERE name = 'incident'", (incidents,))
        writer.executemany(
            "INSERT INTO alerts (incident_number, received_at, source, status, dedup_key, "
            "summary, severity, labels, annotations, identity) VALUES (?, ?, 'native', "
            "'firing', ?, 'Disk full on db1', 'critical', ?, '{\"runbook\": \"r\"}', ?)",
            ((row // per_incident + 1, START + row, f"key-{row // per_incident + 1}",
              json.dumps({"alertname": "DiskFull", "host": f"db{row}"}), str(row))
             for row in range(incidents * per_incident)))
        writer.executemany(
            "INSERT INTO timeline (incident_number, at, actor, action, details) "
            "VALUES (?, ?, 'router', 'alert', '\"Disk full on db1\"')",
            ((row // 10 // (per_incident // 10 or 1) + 1, START + row)
             for row in range(0, incidents * per_incident, 10)))
        writer.executemany(
            "INSERT INTO outbox (id, incident_number, channel, target, address, event, "
            "created_at, due_at, attempts, state, finished_at) VALUES (?, ?, 'mail', "
            "'person:alice', 'alice@example.com', 'trigger', ?, ?, ?, ?, ?)",
            ((f"n{number}-{kind}", number, START + number * 60, START + number * 60,
              1 if kind else 0, "delivered" if kind else "pending",
              START + number * 60 + 1 if kind else None)
             for number in range(1, incidents + 1) for kind in range(3)))
        writer.execute(
            "INSERT INTO deliveries (notification_id, incident_number, channel, target, "
            "event, attempt, attempted_at, outcome, status_code, latency_ms) "
            "SELECT id, incident_number, channel, target, event, 1, due_at + 1, "
            "'delivered', 250, 12.5 FROM outbox WHERE state = 'delivered'")
        writer.execute(
            "INSERT INTO timers (incident_number, kind, due_at) SELECT number, 'escalate', "
            "opened_at + 900 FROM incidents WHERE state != 'resolved'")
        writer.execute("COMMIT")
    finally:
        writer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--per-incident", type=int, default=100)
    parser.add_argument("--batch", type=int, default=transfer.BATCH)
    parser.add_argument("--url", help="an empty PostgreSQL database (default: a throwaway "
                                      "cluster's)")
    arguments = parser.parse_args()
    cluster = None
    if arguments.url is None:
        from tests.postgres_server import start_cluster

        cluster = start_cluster()
    try:
        url = arguments.url or cluster.create_database()  # type: ignore[union-attr]
        with tempfile.TemporaryDirectory() as scratch:
            path = Path(scratch) / DATABASE_NAME
            fill(path, arguments.alerts, arguments.per_incident)
            started = time.perf_counter()
            copied = transfer.copy_store(path, url, batch=arguments.batch)
            seconds = time.perf_counter() - started
    finally:
        if cluster is not None:
            cluster.stop()
            shutil.rmtree(cluster.directory, ignore_errors=True)
    rows = sum(copied.rows.values())
    print(", ".join(f"{table} {count:,}" for table, count in copied.rows.items() if count))
    print(f"{rows:,} rows ({copied.rows['alerts']:,} alerts, {copied.incidents_verified:,} "
          f"incidents read back) copied and verified in {seconds:.2f} s "
          f"({rows / seconds:,.0f} rows/s)")


if __name__ == "__main__":
    main()
