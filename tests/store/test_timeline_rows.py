"""The timeline's entries of one call share one row (migration 8), and rows written before
it stay readable: what the detail view and retention see is entries, not rows.

SQLite only: a state directory written before migration 8.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from router.alerts.model import Incident, IncidentState, Severity, TimelineEntry
from router.store import Store, Transaction, migrations

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def an_incident(number: int = 1) -> Incident:
    return Incident(number=number, dedup_key="key", service="api", summary="disk full",
                    severity=Severity.CRITICAL, state=IncidentState.TRIGGERED,
                    opened_at=NOW, updated_at=NOW, labels={"host": "db1"})


ENTRIES = [
    TimelineEntry(at=NOW, actor="source:alertmanager", action="opened",
                  details={"summary": "disk full", "severity": "critical"}),
    TimelineEntry(at=NOW + timedelta(microseconds=1), actor="router", action="notified",
                  details={"to": "channel:log", "zone": "München 日本", "quote": 'say "hi"\\'}),
    TimelineEntry(at=NOW + timedelta(seconds=1.5), actor="router", action="escalated"),
]
LATER = TimelineEntry(at=NOW + timedelta(minutes=5), actor="alice", action="acknowledged")


def rows(path: Path) -> list[tuple[object, ...]]:
    connection = sqlite3.connect(path)
    try:
        return [tuple(row) for row in connection.execute(
            "SELECT incident_number, action, more IS NULL FROM timeline ORDER BY id")]
    finally:
        connection.close()


async def test_one_calls_entries_share_a_row_and_read_back_in_order(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "router.db")

    def work(transaction: Transaction) -> None:
        transaction.save_incident(an_incident(), {"abc"})
        transaction.add_timeline(1, ENTRIES)
        transaction.add_timeline(1, [])
        transaction.add_timeline(1, iter([LATER]))

    await store.write(work)
    await store.close()
    assert rows(tmp_path / "router.db") == [(1, "opened", 0), (1, "acknowledged", 1)]
    reopened = await Store.open(tmp_path / "router.db")
    detail = await reopened.read(lambda reader: reader.detail(1))
    await reopened.close()
    assert detail is not None and list(detail.timeline) == [*ENTRIES, LATER]


async def test_rows_an_older_router_wrote_are_read_with_the_new_ones(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A state directory of schema 7 (one entry a row, no `more`) migrates and reads back."""
    newest = migrations.MIGRATIONS
    monkeypatch.setattr(migrations, "MIGRATIONS", newest[:7])
    older = await Store.open(tmp_path / "router.db")
    await older.write(lambda transaction: transaction.save_incident(an_incident(), {"abc"}))
    await older.write(lambda transaction: transaction.connection.executemany(
        "INSERT INTO timeline (incident_number, at, actor, action, details) "
        "VALUES (1, ?, ?, ?, ?)",
        [(entry.at.timestamp(), entry.actor, entry.action, '{"why":"old"}')
         for entry in ENTRIES[:2]]))
    await older.close()
    monkeypatch.setattr(migrations, "MIGRATIONS", newest)
    store = await Store.open(tmp_path / "router.db")
    await store.write(lambda transaction: transaction.add_timeline(1, [ENTRIES[2], LATER]))
    detail = await store.read(lambda reader: reader.detail(1))
    await store.close()
    assert detail is not None
    assert [(entry.action, dict(entry.details)) for entry in detail.timeline] == [
        ("opened", {"why": "old"}), ("notified", {"why": "old"}), ("escalated", {}),
        ("acknowledged", {})]
    assert [entry.at for entry in detail.timeline] == [
        *(entry.at for entry in ENTRIES), LATER.at]
