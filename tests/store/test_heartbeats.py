"""Heartbeats in the store: the round trip through the views, the deadline read from the
heartbeat's timer, the migration, and the views as the interface's Protocols."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

from router.store import DATABASE_NAME, Reader, Store, Transaction, interface
from router.store.heartbeats import TIMER_PREFIX
from router.store.migrations import MIGRATIONS
from router.store.values import HeartbeatRecord

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


async def test_a_heartbeat_round_trips_with_its_timer_as_deadline(store: interface.Store) -> None:
    record = HeartbeatRecord(id="backup", state="up", watched_since=NOW,
                             last_ping_at=NOW + timedelta(minutes=1), last_signal="failure",
                             last_exit_code=3, last_message="disk full ü",
                             started_at=NOW, last_success_at=NOW, pings=2)

    def write(transaction: Transaction) -> None:
        transaction.heartbeats.save(record)
        transaction.heartbeats.save(dataclasses.replace(record, id="watchdog", state="new"))
        transaction.set_timer(0, TIMER_PREFIX + "backup", NOW + timedelta(hours=1))

    await store.write(write)
    found = await store.read(lambda reader: reader.heartbeats.get("backup"))
    assert found == dataclasses.replace(record, deadline=NOW + timedelta(hours=1))
    listed = await store.read(lambda reader: reader.heartbeats.listed())
    assert [(item.id, item.state, item.deadline) for item in listed] == [
        ("backup", "up", NOW + timedelta(hours=1)), ("watchdog", "new", None)]
    assert await store.read(lambda reader: reader.heartbeats.get("nope")) is None

    def replace_and_remove(transaction: Transaction) -> None:
        transaction.heartbeats.save(dataclasses.replace(record, state="missed", pings=3))
        transaction.heartbeats.remove("watchdog")
        transaction.delete_timer(0, TIMER_PREFIX + "backup")

    await store.write(replace_and_remove)
    listed = await store.read(lambda reader: reader.heartbeats.listed())
    assert [(item.id, item.state, item.pings, item.deadline) for item in listed] == [
        ("backup", "missed", 3, None)]


async def test_the_views_are_the_interface_s_protocols(store: interface.Store) -> None:
    def views(reader: Reader) -> object:
        return reader.heartbeats

    read = await store.read(views)
    written = await store.write(views)
    assert isinstance(read, interface.HeartbeatsReader)
    assert not isinstance(read, interface.HeartbeatsWriter)
    assert isinstance(written, interface.HeartbeatsWriter)


async def test_the_table_comes_with_the_newest_migration(tmp_path: Path) -> None:
    """SQLite's schema (PRAGMAs): the PostgreSQL store's migrations are tests/store/
    test_postgres.py's."""
    store = await Store.open(tmp_path / DATABASE_NAME)

    def version(reader: Reader) -> tuple[int, list[str]]:
        number = reader.connection.execute("PRAGMA user_version").fetchone()[0]
        columns = [row[1] for row in reader.connection.execute(
            "PRAGMA table_info(heartbeats)")]
        return number, columns

    number, columns = await store.read(version)
    await store.close()
    assert number == len(MIGRATIONS)
    assert columns[:3] == ["id", "state", "watched_since"]
