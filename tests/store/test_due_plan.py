"""The deliverer's due query on PostgreSQL whatever the statistics (issue 18 item 6).

Statistics taken while the outbox had next to nothing pending (the usual state before a
storm) made PostgreSQL check each due row's "no earlier notification pending" by scanning
every pending row of the channel: quadratic in the backlog. These tests take exactly those
statistics (ANALYZE on an empty outbox, autovacuum off for the table), then put a storm's
backlog in and read the plans: each ordering check must be a lookup of one incident,
channel and target. (SQLite's plans: tests/store/test_outbox.py.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from router.alerts.model import Incident, IncidentState, Notification, Severity
from router.store import Transaction, claims, outbox
from router.store.dialect import POSTGRESQL
from router.store.postgres import Store

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
BACKLOG = 400


@pytest.fixture
async def stale(postgres_url: str) -> AsyncIterator[Store]:
    """A store whose outbox statistics say "empty", holding BACKLOG pending pages of as many
    new incidents on `pd`."""
    store = await Store.open(postgres_url)

    def analyse_empty(transaction: Transaction) -> None:
        transaction.connection.execute(
            "ALTER TABLE outbox SET (autovacuum_enabled = false, "
            "toast.autovacuum_enabled = false)")
        transaction.connection.execute("ANALYZE outbox")

    def storm(transaction: Transaction) -> None:
        for number in range(1, BACKLOG + 1):
            transaction.save_incident(Incident(
                number=number, dedup_key=f"key-{number}", service="api", summary="down",
                severity=Severity.CRITICAL, state=IncidentState.TRIGGERED, opened_at=NOW,
                updated_at=NOW), set())
        transaction.add_notifications(
            Notification(id=f"n{number:04d}", incident_number=number, channel="pd",
                         target="person:p", address="", event="trigger", created_at=NOW)
            for number in range(1, BACKLOG + 1))

    await store.write(analyse_empty)
    await store.write(storm)
    yield store
    await store.close()


def _fetched(transaction: Transaction, query: str, parameters: tuple[object, ...]
             ) -> tuple[int, int]:
    """The rows the query returned and the outbox rows index scans fetched for it (in this
    transaction, the functions it called included): a scan of the channel's pending rows
    per due row fetches the whole backlog again for each."""
    def fetched() -> int:
        return int(transaction.connection.execute(
            "SELECT idx_tup_fetch FROM pg_stat_xact_user_tables WHERE relname = 'outbox'"
            ).fetchone()[0])

    before = fetched()
    rows = len(transaction.connection.execute(query, parameters).fetchall())
    return rows, fetched() - before


async def test_the_due_query_looks_up_each_ordering_check(stale: Store) -> None:
    """50 due rows of a 400-row backlog: a row or two fetched per due row (the plan that
    scanned the channel per due row fetched 400 for each)."""
    seconds = NOW.timestamp()
    rows, fetched = await stale.write(lambda transaction: _fetched(
        transaction, outbox._DUES[POSTGRESQL][1] + claims.SKIP_LOCKED,
        ("pd", seconds, "a", seconds, 50)))
    assert rows == 50
    assert fetched <= 4 * rows, fetched


async def test_the_later_pending_check_looks_up_one_target(stale: Store) -> None:
    rows, fetched = await stale.write(lambda transaction: _fetched(
        transaction, outbox._LATERS_PENDING[POSTGRESQL], ("n0007",)))
    assert rows == 1
    assert fetched <= 4, fetched


async def test_the_checks_still_keep_one_target_s_notifications_in_order(
        stale: Store) -> None:
    """A second notification to the same target of incident 7 waits for the first; the
    other incidents' are due (the order the SQLite form keeps, tests/store/test_outbox.py)."""
    def later(transaction: Transaction) -> None:
        transaction.add_notifications([Notification(
            id="n0007-ack", incident_number=7, channel="pd", target="person:p", address="",
            event="acknowledge", created_at=NOW)])

    await stale.write(later)
    due = await stale.read(lambda reader: reader.outbox.due("pd", NOW, 1000))
    found = {item.notification.id for item in due}
    assert len(found) == BACKLOG and "n0007" in found and "n0007-ack" not in found
    pending = await stale.read(lambda reader: [reader.connection.execute(
        outbox._LATERS_PENDING[POSTGRESQL], (name,)).fetchone()[0]
        for name in ("n0007", "n0007-ack", "n0008", "missing")])
    assert pending == [True, True, False, False]

