"""What the outbox hands the deliverer: due notifications, in the order they were decided."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from router.alerts.model import Incident, IncidentState, Notification, Severity
from router.store import Reader, Store, Transaction, interface, outbox

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


async def test_an_acknowledge_decided_at_the_same_instant_waits_for_its_trigger(
        store: interface.Store) -> None:
    """A trigger and its acknowledge can carry the same time (one commit, or a clock that did
    not move between them); the one written first goes first, whatever the ids sort as."""
    trigger = Notification(id="ffff", incident_number=1, channel="pd", target="channel:pd",
                           address="", event="trigger", created_at=NOW)
    acknowledge = dataclasses.replace(trigger, id="0000", event="acknowledge")
    other = dataclasses.replace(trigger, id="8888", incident_number=2)

    def work(transaction: Transaction) -> None:
        for number in (1, 2):
            transaction.save_incident(Incident(
                number=number, dedup_key=f"key{number}", service="api", summary="disk full",
                severity=Severity.CRITICAL, state=IncidentState.TRIGGERED, opened_at=NOW,
                updated_at=NOW), set())
        transaction.add_notifications([trigger, acknowledge, other])

    await store.write(work)
    later = NOW + timedelta(seconds=1)
    found = await store.read(lambda reader: reader.outbox.due("pd", later, 10))
    assert [item.notification.id for item in found] == ["8888", "ffff"]
    # while the trigger is being sent it is left out, and its acknowledge still waits
    sending = await store.read(lambda reader: reader.outbox.due("pd", later, 10, busy={"ffff"}))
    assert [item.notification.id for item in sending] == ["8888"]
    await store.close()


def _plan(connection: sqlite3.Connection, query: str, parameters: tuple[object, ...]) -> str:
    return "\n".join(row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {query}",
                                                          parameters))


async def test_the_due_query_reads_only_its_own_channel(tmp_path: Path) -> None:
    """One channel's backlog must not cost another channel's pass anything (issue 13 item 5):
    the due query seeks the channel's pending rows by (channel, due_at), and the ordering
    subquery and `record`'s follow-up look up one incident, channel and target. (SQLite's
    query plan: SQLite only.)"""
    store = await Store.open(tmp_path / "state.db")

    def plans(reader: Reader) -> tuple[str, str]:
        due_plan = _plan(reader.connection, outbox._DUE, ("pd", NOW.timestamp(), 10))
        follow_up = _plan(reader.connection, outbox._LATER_PENDING, ("id",))
        return due_plan, follow_up

    due_plan, follow_up = await store.read(plans)
    assert "SEARCH outbox USING INDEX outbox_due_by_channel (channel=? AND due_at<?)" in (
        due_plan), due_plan
    assert "TEMP B-TREE" not in due_plan, due_plan  # in order from the index: LIMIT stops it
    assert ("SEARCH earlier USING INDEX outbox_by_incident (incident_number=? AND channel=? "
            "AND target=?") in due_plan, due_plan
    assert ("SEARCH later USING INDEX outbox_by_incident (incident_number=? AND channel=? "
            "AND target=?)") in follow_up, follow_up
    await store.close()


async def test_a_backlog_on_one_channel_is_never_visited_for_another(tmp_path: Path) -> None:
    """The same, counted: the healthy channel's pass steps through its own rows only
    (SQLite's progress handler: SQLite only)."""
    store = await Store.open(tmp_path / "state.db")

    def work(transaction: Transaction) -> None:
        transaction.add_notifications(
            Notification(id=f"slow-{index:05d}", incident_number=1, channel="slow",
                         target=f"person:p{index}", address="", event="trigger",
                         created_at=NOW - timedelta(seconds=index))
            for index in range(2000))
        transaction.add_notifications([Notification(
            id="fast-1", incident_number=2, channel="fast", target="channel:fast",
            address="", event="trigger", created_at=NOW)])

    await store.write(work)

    def steps(reader: Reader) -> tuple[list[str], int]:
        statement_steps = 0

        def progress() -> int:
            nonlocal statement_steps
            statement_steps += 1
            return 0

        reader.connection.set_progress_handler(progress, 100)
        try:
            found = reader.outbox.due("fast", NOW, 10)
        finally:
            reader.connection.set_progress_handler(None, 100)
        return [item.notification.id for item in found], statement_steps

    found, statement_steps = await store.read(steps)
    assert found == ["fast-1"]
    assert statement_steps < 5, statement_steps  # about 2,000 rows' worth before the index
    await store.close()
