"""What a Transaction holds back or remembers within one group commit: appended rows, the
incident counter, active silences and JSON texts. Each must end as if written at once."""

from __future__ import annotations

import contextlib
import threading
from datetime import UTC, datetime, timedelta

import trio
import trio.testing

from router.alerts.model import (
    Alert,
    Incident,
    IncidentState,
    Notification,
    Severity,
    Silence,
    SilenceMatcher,
    TimelineEntry,
)
from router.store import Transaction
from router.store.interface import Store
from tests.store.conftest import Backend

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def an_incident(number: int, dedup_key: str = "key") -> Incident:
    return Incident(number=number, dedup_key=dedup_key, service="api", summary="disk full",
                    severity=Severity.CRITICAL, state=IncidentState.TRIGGERED,
                    opened_at=NOW, updated_at=NOW, labels={"host": "db1"})


def a_notification(number: int, channel: str = "log") -> Notification:
    return Notification(id=f"{channel}-{number}", incident_number=number, channel=channel,
                        target=f"channel:{channel}", address="", event="trigger",
                        created_at=NOW)


def a_silence(silence_id: str, starts_at: datetime, ends_at: datetime) -> Silence:
    return Silence(id=silence_id, matchers=(SilenceMatcher(name="team", operator="=",
                                                           value="db"),),
                   starts_at=starts_at, ends_at=ends_at, reason="maintenance")


async def test_rows_held_back_are_seen_by_every_query_of_the_same_unit(store: Store) -> None:
    def work(transaction: Transaction) -> tuple[list[str], int]:
        number = transaction.next_incident_number()
        transaction.save_incident(an_incident(number), {"abc"})
        transaction.add_notifications([a_notification(number, "slack"),
                                       a_notification(number, "log")])
        transaction.add_timeline(number, [TimelineEntry(at=NOW, actor="me", action="opened")])
        detail = transaction.detail(number)
        assert detail is not None
        return transaction.notified_channels(number), len(detail.timeline)

    assert await store.write(work) == (["log", "slack"], 1)
    detail = await store.read(lambda reader: reader.detail(1))
    assert detail is not None and [entry.action for entry in detail.timeline] == ["opened"]
    await store.close()


async def test_a_failing_unit_leaves_no_rows_and_no_number_in_a_shared_commit(
        store: Store, backend: Backend) -> None:
    """On PostgreSQL the numbers come from a sequence: a failed unit's is a gap."""
    outcomes: dict[int, object] = {}

    async def write(index: int) -> None:
        def work(transaction: Transaction) -> int:
            number = transaction.next_incident_number()
            transaction.save_incident(an_incident(number, f"key{index}"), ())
            transaction.record_alert(Alert(summary="x", source="native"), number,
                                     f"key{index}", NOW, None)
            transaction.add_notifications([a_notification(number)])
            if index % 4 == 1:
                raise ValueError("this unit fails")
            return number
        try:
            outcomes[index] = await store.write(work)
        except ValueError:
            outcomes[index] = "failed"

    async with trio.open_nursery() as nursery:
        for index in range(20):
            nursery.start_soon(write, index)
    numbers = sorted(value for value in outcomes.values() if isinstance(value, int))
    if backend.name == "sqlite":
        assert numbers == list(range(1, 16))  # failed units gave their numbers back
    else:
        assert len(set(numbers)) == 15
    assert store.commits < 20

    def count(reader: Transaction, table: str) -> int:
        return int(reader.connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    for table in ("incidents", "alerts", "outbox"):
        assert await store.write(lambda transaction, table=table: count(transaction, table)) == 15
    following = await store.write(lambda transaction: transaction.next_incident_number())
    assert following == 16 if backend.name == "sqlite" else following > max(numbers)
    await store.close()


async def test_a_silence_written_in_a_group_commit_is_seen_by_the_next_units(
        store: Store) -> None:
    seen: list[list[str]] = []

    def look(transaction: Transaction) -> None:
        seen.append([silence.id for silence in transaction.active_silences(NOW)])

    def add(transaction: Transaction) -> None:
        transaction.add_silence(a_silence("SIL-1", NOW - timedelta(hours=1),
                                          NOW + timedelta(hours=1)))

    def expire(transaction: Transaction) -> None:
        assert transaction.expire_silence("SIL-1", NOW)

    def add_and_fail(transaction: Transaction) -> None:
        transaction.add_silence(a_silence("SIL-2", NOW - timedelta(hours=1),
                                          NOW + timedelta(hours=1)))
        look(transaction)
        raise ValueError("rolled back")

    gate = threading.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_write_quietly, store, lambda transaction: gate.wait())
        await trio.testing.wait_all_tasks_blocked()  # that commit runs, holding the rest
        for work in (look, add, look, add_and_fail, look, expire, look):
            nursery.start_soon(_write_quietly, store, work)
            await trio.testing.wait_all_tasks_blocked()
        gate.set()
    assert store.commits == 2  # the seven units above shared one transaction
    assert seen == [[], ["SIL-1"], ["SIL-1", "SIL-2"], ["SIL-1"], []]
    await store.close()


async def _write_quietly(store: Store, work: object) -> None:
    with contextlib.suppress(ValueError):
        await store.write(work)  # type: ignore[arg-type]


async def test_active_silences_match_the_query_at_every_instant(store: Store) -> None:
    silences = [a_silence("SIL-a", NOW - timedelta(days=2), NOW - timedelta(days=1)),
                a_silence("SIL-b", NOW - timedelta(minutes=5), NOW + timedelta(minutes=5)),
                a_silence("SIL-c", NOW + timedelta(minutes=1), NOW + timedelta(hours=2)),
                a_silence("SIL-d", NOW - timedelta(hours=3), NOW)]

    def add(transaction: Transaction) -> None:
        for silence in silences:
            transaction.add_silence(silence)

    await store.write(add)
    instants = [NOW + timedelta(minutes=minutes) for minutes in (-180, -6, -5, 0, 1, 5, 200)]

    def both(transaction: Transaction) -> list[tuple[list[Silence], list[Silence]]]:
        return [(transaction.active_silences(at), transaction.silences(at)) for at in instants]

    for cached, queried in await store.write(both):
        assert cached == queried
    await store.close()
