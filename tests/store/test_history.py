"""The export's read of the `alerts` table (router/store/history.py) beside a writer, on a
real SQLite store in WAL mode: it reads in batches, each its own short read transaction, so a
slow consumer never stops the daemon checkpointing its WAL, and no row is lost or doubled.

The last test reads the same history from PostgreSQL (`--store URL`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trio

from router.store import DATABASE_NAME, Store
from router.store.history import received_alerts

START = datetime(2026, 11, 1, tzinfo=UTC)
ROWS = 2500
"""More than one batch (1,000), with ties on received_at across each boundary."""


def moment(number: int) -> float:
    """Seven rows share each second, so only the id orders them."""
    return (START + timedelta(seconds=number // 7)).timestamp()


def insert(writer: sqlite3.Connection, number: int, at: float) -> None:
    writer.execute(
        "INSERT INTO alerts (received_at, source, status, dedup_key, summary, severity, "
        "labels, annotations, identity) VALUES (?, 'native', 'firing', ?, 'Disk full', "
        "'critical', ?, '{}', ?)",
        (at, f"key-{number}", json.dumps({"n": str(number)}), str(number)))


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """The daemon's stand-in: a writer holding the store open in WAL mode (its `-wal` file
    beside it), which filled it with ROWS alerts, committed and not yet checkpointed."""
    async def create() -> None:
        await (await Store.open(tmp_path / DATABASE_NAME)).close()

    trio.run(create)
    connection = sqlite3.connect(tmp_path / DATABASE_NAME, timeout=0, isolation_level=None)
    assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    connection.execute("BEGIN")
    for number in range(ROWS):
        insert(connection, number, moment(number))
    connection.execute("COMMIT")
    yield connection
    connection.close()


def numbers(path: Path) -> Iterator[int]:
    for received in received_alerts(path, START, START + timedelta(days=1)):
        yield int(received.labels["n"])


def test_a_slow_consumer_does_not_block_a_checkpoint(writer: sqlite3.Connection,
                                                     tmp_path: Path) -> None:
    path = tmp_path / DATABASE_NAME
    assert path.with_name(f"{DATABASE_NAME}-wal").exists()
    export = numbers(path)
    seen = [next(export)]
    insert(writer, ROWS, moment(ROWS - 1))  # the daemon writes meanwhile
    busy, _, _ = writer.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    assert busy == 0
    assert path.with_name(f"{DATABASE_NAME}-wal").stat().st_size == 0
    for number in export:
        seen.append(number)
        if len(seen) % 1000 == 999:  # mid-batch and at a boundary, the reader holds nothing
            assert writer.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
    assert seen == list(range(ROWS)), "no row lost, doubled, reordered, or received later"


def test_rows_are_in_received_then_id_order_across_batches(writer: sqlite3.Connection,
                                                           tmp_path: Path) -> None:
    # Inserted latest first: ids run against received_at, so the order is received_at's.
    writer.execute("DELETE FROM alerts")
    writer.execute("BEGIN")
    for number in reversed(range(ROWS)):
        insert(writer, number, moment(number))
    writer.execute("COMMIT")
    exported = list(numbers(tmp_path / DATABASE_NAME))
    expected = sorted(range(ROWS), key=lambda number: (moment(number), -number))
    assert exported == expected


def test_rows_changed_during_the_export_are_read_as_their_batch_finds_them(
        writer: sqlite3.Connection, tmp_path: Path) -> None:
    """docs/replay.md: a repeat counted meanwhile shows on a row not yet read; a row pruned
    meanwhile is skipped, the rest are read as before."""
    export = received_alerts(tmp_path / DATABASE_NAME, START, START + timedelta(days=1))
    assert next(export).labels["n"] == "0"
    writer.execute("UPDATE alerts SET count = 5 WHERE identity = '1500'")
    writer.execute("DELETE FROM alerts WHERE identity = '2000'")
    rest = {int(received.labels["n"]): received.count for received in export}
    assert sorted(rest) == [number for number in range(1, ROWS) if number != 2000]
    assert rest[1500] == 5


def test_postgresql_reads_the_same_rows_in_the_same_order_batch_by_batch(
        tmp_path: Path, postgres_url: str) -> None:
    """A history copied to PostgreSQL (store/transfer.py) reads back as from its SQLite file,
    five rows to a batch (ties on received_at across the boundaries)."""
    from router.store import transfer
    from router.store.history import received_alerts_at
    from tests.store.histories import NOW as HISTORY_NOW
    from tests.store.histories import make_history
    path = trio.run(make_history, tmp_path / "history")
    transfer.copy_store(path, postgres_url)
    since, until = HISTORY_NOW - timedelta(days=400), HISTORY_NOW + timedelta(days=400)
    from_sqlite = list(received_alerts(path, since, until, batch=5))
    assert len(from_sqlite) == 12
    assert list(received_alerts_at(postgres_url, since, until, batch=5)) == from_sqlite
