"""A SQLite store copied into an empty PostgreSQL database (store/transfer.py, `router store
migrate-to`): a real SQLite file with a history made through the Engine, the session's
throwaway PostgreSQL (tests/postgres_server.py)."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import psycopg
import pytest

from router.alerts.model import IncidentState
from router.clock import FixedClock
from router.config import load_config
from router.engine import Engine
from router.errors import StoreError
from router.store import IncidentDetail, Store, interface, migrations, postgres, transfer
from tests.store.histories import NOW, alert, make_history

LATER = datetime(2027, 1, 1, tzinfo=UTC)


def sqlite_tables(path: Path) -> list[str]:
    """The store's tables as SQLite's schema lists them: what must be copied."""
    with sqlite3.connect(path) as connection:
        return sorted(row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite_%'"))


def counts(url_or_path: str | Path, tables: list[str]) -> dict[str, int]:
    if isinstance(url_or_path, Path):
        with sqlite3.connect(url_or_path) as lite:
            return {table: count(lite, table) for table in tables}
    with psycopg.connect(url_or_path) as database:
        return {table: count(database, table) for table in tables}


def detail_of(number: int) -> Callable[[interface.Reader], IncidentDetail | None]:
    return lambda reader: reader.detail(number)


def count(connection: Any, table: str) -> int:
    return int(connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])


async def test_every_table_is_copied_and_counted(tmp_path: Path, postgres_url: str) -> None:
    path = await make_history(tmp_path / "state")
    tables = sqlite_tables(path)
    copied = transfer.copy_store(path, postgres_url, batch=3)  # batches of 3: many of them
    assert sorted(copied.rows) == tables
    source = counts(path, tables)
    assert copied.rows == source
    assert {table: count for table, count in source.items() if count} .keys() >= {
        "incidents", "alerts", "timeline", "outbox", "deliveries", "timers", "silences",
        "overrides", "heartbeats", "jobs", "job_runs", "counters"}
    in_postgres = counts(postgres_url, tables)
    # `counters`: SQLite's rows, and PostgreSQL's own data_version (store/migrations.py)
    assert in_postgres == {**source, "counters": source["counters"] + 1}
    assert copied.incidents_verified == source["incidents"] == 6


async def test_every_incident_reads_back_equal_through_the_store(tmp_path: Path,
                                                                 postgres_url: str) -> None:
    path = await make_history(tmp_path / "state")
    transfer.copy_store(path, postgres_url)
    lite, copy = await Store.open(path), await postgres.Store.open(postgres_url)
    try:
        for number in range(1, 7):
            detail = detail_of(number)
            assert await copy.read(detail) == await lite.read(detail)
        listed = await copy.read(lambda reader: reader.incidents(limit=100))
        assert listed == await lite.read(lambda reader: reader.incidents(limit=100))
        assert [incident.state for incident in listed].count(IncidentState.RESOLVED) == 2
        assert await copy.read(lambda reader: reader.silences()) == \
            await lite.read(lambda reader: reader.silences())
        assert await copy.read(lambda reader: reader.pending_notifications()) == \
            await lite.read(lambda reader: reader.pending_notifications())
        assert await copy.read(lambda reader: reader.due_timers(
            LATER, 100)) == await lite.read(lambda reader: reader.due_timers(
                LATER, 100))
        assert await copy.read(lambda reader: reader.overrides.listed()) == \
            await lite.read(lambda reader: reader.overrides.listed())
    finally:
        await lite.close()
        await copy.close()


async def test_the_next_incident_continues_the_numbers(tmp_path: Path,
                                                       postgres_url: str) -> None:
    """The next incident opened through the PostgreSQL store gets the highest number + 1,
    and its rows (alerts, timeline, outbox: numbered by PostgreSQL) collide with none."""
    path = await make_history(tmp_path / "state")
    copied = transfer.copy_store(path, postgres_url)
    assert copied.next_incident == 7
    store, ids = await postgres.Store.open(postgres_url), itertools.count(1)
    try:
        engine = Engine(load_config([tmp_path / "state" / "config.yaml"]),
                        cast(Store, store),  # typed on SQLite's until the opener lands
                        FixedClock(NOW + timedelta(hours=1)), new_id=lambda: f"after-{next(ids)}")
        [accepted] = await engine.ingest([alert("After", host="db9")])
        detail = await engine.incident("INC7")
    finally:
        await store.close()
    assert (accepted.incident_id, accepted.action) == ("INC7", "opened")
    assert detail is not None and detail.alerts[0]["labels"]["alertname"] == "After"


async def test_numbers_continue_past_pruned_incidents(tmp_path: Path,
                                                      postgres_url: str) -> None:
    """Retention may have removed the newest incidents: the counter still holds their
    numbers, and PostgreSQL's sequence continues after it, never reusing one."""
    path = await make_history(tmp_path / "state")
    with sqlite3.connect(path) as lite:
        lite.execute("UPDATE counters SET value = 40 WHERE name = 'incident'")
    assert transfer.copy_store(path, postgres_url).next_incident == 41


async def test_a_second_copy_is_refused_and_writes_nothing(tmp_path: Path,
                                                            postgres_url: str) -> None:
    path = await make_history(tmp_path / "state")
    tables = sqlite_tables(path)
    transfer.copy_store(path, postgres_url)
    before = counts(postgres_url, tables)
    with pytest.raises(transfer.Refused, match="^the database is not empty: its alerts "
                       r"table holds 12 rows \(a router has used it"):
        transfer.copy_store(path, postgres_url)
    assert counts(postgres_url, tables) == before


async def test_a_database_at_another_version_is_refused(tmp_path: Path,
                                                        postgres_url: str) -> None:
    path = await make_history(tmp_path / "state")
    with psycopg.connect(postgres_url, autocommit=True) as database:
        database.execute("CREATE TABLE schema_version (version BIGINT NOT NULL)")
        database.execute("INSERT INTO schema_version VALUES (3)")
    with pytest.raises(transfer.Refused, match=(
            "^the database holds router's schema at version 3, this router's is "
            f"{len(migrations.MIGRATIONS)}: copy into an empty database$")):
        transfer.copy_store(path, postgres_url)


async def test_a_database_with_other_tables_is_refused(tmp_path: Path,
                                                       postgres_url: str) -> None:
    path = await make_history(tmp_path / "state")
    with psycopg.connect(postgres_url, autocommit=True) as database:
        database.execute("CREATE TABLE invoices (id INT)")
    with pytest.raises(transfer.Refused, match=r"^the database holds 1 tables that are not "
                       r"router's \(invoices\): copy into an empty database$"):
        transfer.copy_store(path, postgres_url)


async def test_a_failure_half_way_writes_no_row(tmp_path: Path, postgres_url: str) -> None:
    """A row PostgreSQL refuses (here: text with a NUL, which SQLite keeps) rolls the whole
    copy back; the schema stays empty, so the copy can run again once the row is mended."""
    path = await make_history(tmp_path / "state")
    tables = sqlite_tables(path)
    with sqlite3.connect(path) as lite:
        lite.execute("UPDATE timeline SET details = ? WHERE id = "
                     "(SELECT max(id) FROM timeline)", ('"\x00"',))
    with pytest.raises(StoreError, match=r"^.*\(nothing was written\)$") as failed:
        transfer.copy_store(path, postgres_url)
    assert "\n" not in str(failed.value)
    assert set(counts(postgres_url, tables).values()) <= {0, 2}  # counters' own rows only
    with sqlite3.connect(path) as lite:
        lite.execute("UPDATE timeline SET details = '\"\"' WHERE id = "
                     "(SELECT max(id) FROM timeline)")
    assert transfer.copy_store(path, postgres_url).incidents_verified == 6


async def test_a_store_of_an_older_version_is_refused(tmp_path: Path,
                                                      postgres_url: str) -> None:
    path = await make_history(tmp_path / "state")
    with sqlite3.connect(path) as lite:
        lite.execute("PRAGMA user_version = 3")
    with pytest.raises(StoreError, match="is at schema version 3, this router's is"):
        transfer.copy_store(path, postgres_url)


async def test_only_the_seeded_tables_hold_rows_after_migrating(postgres_url: str) -> None:
    """transfer.SEEDED names the tables the migrations fill: a new migration that fills
    another must be named there (or the emptiness check would refuse every database)."""
    store = await postgres.Store.open(postgres_url)
    await store.close()
    with psycopg.connect(postgres_url) as database:
        tables = [row[0] for row in database.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_name <> 'schema_version'")]
        filled = sorted(table for table in tables if count(database, table))
    assert filled == sorted(transfer.SEEDED)
