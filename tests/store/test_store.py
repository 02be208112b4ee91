"""The store on both backends: durability across reopen, group commit, unit isolation; and
SQLite's migrations."""

from __future__ import annotations

import dataclasses
import random
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import trio
import trio.lowlevel

from router.alerts.model import Incident, IncidentState, Severity, TimelineEntry
from router.errors import StoreError, StoreUnavailable
from router.store import Store, Transaction, interface
from router.store.migrations import MIGRATIONS
from tests.store.conftest import Backend

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def an_incident(number: int, dedup_key: str = "key") -> Incident:
    return Incident(number=number, dedup_key=dedup_key, service="api", summary="disk full",
                    severity=Severity.CRITICAL, state=IncidentState.TRIGGERED,
                    opened_at=NOW, updated_at=NOW, labels={"host": "db1"})


async def test_a_new_store_is_migrated_to_the_newest_version(tmp_path: Path) -> None:
    """SQLite's file (user_version, WAL); PostgreSQL's: tests/store/test_postgres.py."""
    store = await Store.open(tmp_path / "state.db")
    await store.close()
    connection = sqlite3.connect(tmp_path / "state.db")
    assert connection.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_a_store_from_a_newer_router_is_refused(tmp_path: Path) -> None:
    """SQLite's user_version; PostgreSQL's: tests/store/test_postgres.py."""
    connection = sqlite3.connect(tmp_path / "state.db")
    connection.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    connection.close()
    with pytest.raises(StoreError, match="newer than this router knows"):
        await Store.open(tmp_path / "state.db")


async def test_committed_writes_survive_reopening(backend: Backend) -> None:
    store = await backend.open()

    def work(transaction: Transaction) -> int:
        number = transaction.next_incident_number()
        transaction.save_incident(an_incident(number), {"abc"})
        transaction.add_timeline(number, [TimelineEntry(at=NOW, actor="me", action="opened")])
        return number

    number = await store.write(work)
    await store.close()
    reopened = await backend.open()
    detail = await reopened.read(lambda reader: reader.detail(number))
    assert detail is not None
    assert detail.incident == an_incident(number)
    assert [entry.action for entry in detail.timeline] == ["opened"]
    found = await reopened.read(lambda reader: reader.open_incident("key"))
    assert found == (an_incident(number), frozenset({"abc"}))
    await reopened.close()


async def test_concurrent_writes_share_commits_and_a_failing_unit_rolls_back_alone(
        store: interface.Store) -> None:
    results: dict[int, object] = {}

    async def write(index: int) -> None:
        def work(transaction: Transaction) -> int:
            number = transaction.next_incident_number()
            transaction.save_incident(an_incident(number, f"key{index}"), ())
            if index == 3:
                raise ValueError("unit 3 fails")
            return number
        try:
            results[index] = await store.write(work)
        except ValueError as error:
            results[index] = str(error)

    async with trio.open_nursery() as nursery:
        for index in range(50):
            nursery.start_soon(write, index)
    assert results[3] == "unit 3 fails"
    numbers = sorted(value for value in results.values() if isinstance(value, int))
    assert len(numbers) == 49 and len(set(numbers)) == 49
    assert store.commits < 50  # group commit: several units per transaction
    incidents = await store.read(lambda reader: reader.incidents(limit=100))
    assert sorted(incident.dedup_key for incident in incidents) == sorted(
        f"key{index}" for index in range(50) if index != 3)
    await store.close()


async def test_only_one_open_incident_per_dedup_key(store: interface.Store) -> None:

    def two_open(transaction: Transaction) -> None:
        transaction.save_incident(an_incident(1), ())
        transaction.save_incident(an_incident(2), ())

    with pytest.raises(StoreError, match=r"(?i)unique") as raised:
        await store.write(two_open)
    assert not isinstance(raised.value, StoreUnavailable)
    assert raised.value.__cause__ is not None  # the database's own, kept for the log
    assert await store.read(lambda reader: reader.incidents()) == []
    await store.close()


async def test_cancelled_writers_never_strand_the_others(store: interface.Store) -> None:
    """Writers cancelled at random points (waiting, leading, committing): every writer that
    was not cancelled gets its answer and its row; a cancelled one may or may not be
    written (at least once once a commit holds it), and nobody waits forever."""
    randomness = random.Random(7)
    answered: list[str] = []

    def open_one(key: str) -> Callable[[Transaction], int]:
        def work(transaction: Transaction) -> int:
            number = transaction.next_incident_number()
            transaction.save_incident(an_incident(number, key), ())
            return number
        return work

    async def writer(key: str, scope: trio.CancelScope) -> None:
        with scope:
            await store.write(open_one(key))
            answered.append(key)

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            scopes = []
            for index in range(300):
                scope = trio.CancelScope()
                scopes.append(scope)
                nursery.start_soon(writer, f"key{index}", scope)
                if randomness.random() < 0.3:
                    await trio.lowlevel.checkpoint()
                if randomness.random() < 0.3:
                    randomness.choice(scopes).cancel()
    stored = {incident.dedup_key for incident in
              await store.read(lambda reader: reader.incidents(limit=1000))}
    assert set(answered) <= stored
    assert len(answered) > 100
    await store.close()


async def test_incidents_by_severity_a_page_at_a_time(store: interface.Store) -> None:
    """The web interface's incidents table: a severity filter and pages, in the query (not
    by reading every open incident and filtering them in Python)."""
    severities = tuple(Severity)

    def open_twelve(transaction: Transaction) -> None:
        for number in range(1, 13):
            transaction.save_incident(dataclasses.replace(
                an_incident(number, f"key{number}"), severity=severities[number % 4]), ())

    await store.write(open_twelve)
    numbers = [incident.number for incident in await store.read(
        lambda reader: reader.incidents(severities=["info", "critical"], limit=100))]
    assert numbers == [12, 11, 8, 7, 4, 3]
    pages = [[incident.number for incident in await store.read(
        lambda reader, offset=offset: reader.incidents(limit=5, offset=offset))]
        for offset in (0, 5, 10)]
    assert pages == [[12, 11, 10, 9, 8], [7, 6, 5, 4, 3], [2, 1]]
    await store.close()
