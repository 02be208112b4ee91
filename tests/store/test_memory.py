"""router/store/memory.py through the store: what the store keeps in memory between
transactions (open incidents, the incident counter, recent alert rows) answers exactly as the
database would after everything that may change the database behind it: a unit or a whole
transaction rolled back, another connection's commit (a CLI in another process), a statement
written by hand. Real SQLite files; the full disk through tests.fakes.full_disk.

SQLite only: PostgreSQL's store keeps no memory (docs/ha.md).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trio

from router.alerts.model import Alert, Incident, IncidentState, Severity
from router.errors import StoreUnavailable
from router.store import Store, Transaction
from tests.fakes.full_disk import full_disk

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def an_incident(number: int, dedup_key: str = "key") -> Incident:
    return Incident(number=number, dedup_key=dedup_key, service="api", summary="disk full",
                    severity=Severity.CRITICAL, state=IncidentState.TRIGGERED,
                    opened_at=NOW, updated_at=NOW, labels={"host": "db1"})


def open_one(key: str) -> Callable[[Transaction], int]:
    def work(transaction: Transaction) -> int:
        number = transaction.next_incident_number()
        transaction.save_incident(an_incident(number, key), {"abc"})
        return number
    return work


Found = tuple[int, IncidentState, frozenset[str]] | None


def found(key: str) -> Callable[[Transaction], Found]:
    def work(transaction: Transaction) -> Found:
        hit = transaction.open_incident(key)
        return None if hit is None else (hit[0].number, hit[0].state, hit[1])
    return work


async def test_another_connections_commit_is_seen_by_the_next_transaction(
        tmp_path: Path) -> None:
    """`router ...` in another process opened and resolved incidents: the daemon's store
    neither misses the new one nor keeps the resolved one, and numbers go on after theirs."""
    daemon = await Store.open(tmp_path / "router.db")
    assert await daemon.write(open_one("a")) == 1
    assert await daemon.write(found("a")) == (1, IncidentState.TRIGGERED, frozenset({"abc"}))
    other = await Store.open(tmp_path / "router.db")

    def resolve_and_open(transaction: Transaction) -> int:
        incident, firing = transaction.open_incident("a") or (None, None)
        assert incident is not None and firing is not None
        transaction.save_incident(replace(incident, state=IncidentState.RESOLVED,
                                          resolved_at=NOW), firing)
        return open_one("b")(transaction)
    assert await other.write(resolve_and_open) == 2
    await other.close()
    assert await daemon.write(found("a")) is None
    assert await daemon.write(found("b")) == (2, IncidentState.TRIGGERED, frozenset({"abc"}))
    assert await daemon.write(open_one("c")) == 3
    await daemon.close()


async def test_a_unit_rolled_back_leaves_neither_its_incident_nor_its_number(
        tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "router.db")
    assert await store.write(open_one("a")) == 1

    def fails(transaction: Transaction) -> None:
        open_one("b")(transaction)
        incident, firing = transaction.open_incident("a") or (None, None)
        assert incident is not None and firing is not None
        transaction.save_incident(replace(incident, alert_count=7), firing | {"def"})
        raise KeyError("a bug")

    with pytest.raises(KeyError, match="a bug"):
        await store.write(fails)
    assert await store.write(found("b")) is None
    assert await store.write(found("a")) == (1, IncidentState.TRIGGERED, frozenset({"abc"}))
    assert await store.write(open_one("c")) == 2
    incident = await store.read(lambda reader: reader.incident(1))
    assert incident is not None and incident.alert_count == 1
    await store.close()


async def test_units_rolled_back_inside_a_group_commit_keep_the_others_numbers(
        tmp_path: Path) -> None:
    """Every third unit of one group commit fails after taking a number: the numbers the
    others took are kept (and written), the failed ones' are given out again."""
    store = await Store.open(tmp_path / "router.db")
    results: dict[int, int | str] = {}

    async def write(index: int) -> None:
        def work(transaction: Transaction) -> int:
            number = open_one(f"key{index}")(transaction)
            if index % 3 == 0:
                raise KeyError(index)
            return number
        try:
            results[index] = await store.write(work)
        except KeyError:
            results[index] = "failed"

    async with trio.open_nursery() as nursery:
        for index in range(30):
            nursery.start_soon(write, index)
    numbers = sorted(value for value in results.values() if isinstance(value, int))
    assert numbers == list(range(1, 21))
    assert await store.write(open_one("later")) == 21
    for index, value in results.items():
        expected = None if value == "failed" else (value, IncidentState.TRIGGERED,
                                                   frozenset({"abc"}))
        assert await store.write(found(f"key{index}")) == expected
    await store.close()


async def test_a_transaction_the_disk_refused_leaves_nothing_in_memory(tmp_path: Path) -> None:
    disk = full_disk()
    store = await Store.open(tmp_path / "router.db", writer_factory=disk)
    assert await store.write(open_one("a")) == 1
    disk.full = True
    with pytest.raises(StoreUnavailable):
        await store.write(open_one("b"))
    disk.full = False
    assert await store.write(found("b")) is None
    assert await store.write(open_one("c")) == 2
    await store.close()


async def test_a_statement_written_by_hand_on_incidents_is_seen(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "router.db")
    assert await store.write(open_one("a")) == 1
    assert await store.write(found("a")) is not None

    def resolve_by_hand(transaction: Transaction) -> None:
        transaction.connection.execute("UPDATE incidents SET state = 'resolved' WHERE number = 1")
    await store.write(resolve_by_hand)
    assert await store.write(found("a")) is None
    await store.close()


def alert(summary: str = "disk full") -> Alert:
    return Alert(summary=summary, source="test", severity=Severity.CRITICAL,
                 labels={"host": "db1"}, annotations={"runbook": "r1"})


async def alert_rows(store: Store) -> list[tuple[object, ...]]:
    return await store.read(lambda reader: [tuple(row) for row in reader.connection.execute(
        "SELECT incident_number, summary, count, received_at, last_received_at FROM alerts "
        "ORDER BY id")])


async def test_a_repeat_counts_on_its_row_and_a_changed_word_is_written(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "router.db")
    later = NOW + timedelta(minutes=1)
    for at, summary in ((NOW, "disk full"), (later, "disk full"),
                        (later + timedelta(minutes=1), "disk very full")):
        await store.write(lambda transaction, at=at, summary=summary: transaction.record_alert(
            alert(summary), 1, "key", at, None))
    assert await alert_rows(store) == [
        (1, "disk very full", 3, NOW.timestamp(), (later + timedelta(minutes=1)).timestamp())]
    await store.close()


async def test_a_repeat_of_a_row_deleted_by_hand_writes_it_again(tmp_path: Path) -> None:
    """Retention deletes an incident's alerts with a statement of its own: a repeat of one
    of them must not count on a row that is gone."""
    store = await Store.open(tmp_path / "router.db")
    await store.write(lambda transaction: transaction.record_alert(alert(), 1, "key", NOW, None))
    await store.write(lambda transaction: transaction.connection.execute("DELETE FROM alerts"))
    await store.write(lambda transaction: transaction.record_alert(alert(), 1, "key", NOW, None))
    assert await alert_rows(store) == [(1, "disk full", 1, NOW.timestamp(), NOW.timestamp())]
    await store.close()


async def test_a_repeat_after_a_rolled_back_first_arrival_writes_its_row(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "router.db")

    def fails(transaction: Transaction) -> None:
        transaction.record_alert(alert(), 1, "key", NOW, None)
        raise KeyError("a bug")

    with pytest.raises(KeyError, match="a bug"):
        await store.write(fails)
    await store.write(lambda transaction: transaction.record_alert(alert(), 1, "key", NOW, None))
    assert await alert_rows(store) == [(1, "disk full", 1, NOW.timestamp(), NOW.timestamp())]
    await store.close()


async def test_an_incident_saved_unchanged_is_not_written_again(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "router.db")
    assert await store.write(open_one("a")) == 1

    def changes(transaction: Transaction) -> int:
        return int(transaction.connection.execute("SELECT total_changes()").fetchone()[0])

    def save_again(transaction: Transaction) -> tuple[int, int]:
        incident, firing = transaction.open_incident("a") or (None, None)
        assert incident is not None and firing is not None
        before = changes(transaction)
        transaction.save_incident(incident, firing)
        unchanged = changes(transaction) - before
        transaction.save_incident(replace(incident, alert_count=2, updated_at=NOW), firing)
        return unchanged, changes(transaction) - before
    assert await store.write(save_again) == (0, 1)  # nothing, then one row
    incident = await store.read(lambda reader: reader.incident(1))
    assert incident is not None and incident.alert_count == 2
    await store.close()


async def test_a_repeat_of_an_alert_an_older_router_wrote_counts_on_its_row(
        tmp_path: Path) -> None:
    """Rows written before msgspec encoded the labels (stdlib json: sorted keys, no ASCII
    escapes) get the same identity now, so a repeat after an upgrade counts on them."""
    labels = {"host": "db1", "zone": "München", "quote": 'say "hi"\\', "ünïcode": "日本"}
    text = json.dumps(labels, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    identity = hashlib.blake2b(f"test\n{text}".encode(), digest_size=12).hexdigest()
    store = await Store.open(tmp_path / "router.db")
    await store.write(lambda transaction: transaction.connection.execute(
        "INSERT INTO alerts (incident_number, received_at, source, status, dedup_key, summary, "
        "severity, labels, annotations, suppressed_by, identity, last_received_at) "
        "VALUES (1, ?, 'test', 'firing', 'key', 'disk full', 'critical', ?, '{}', NULL, ?, ?)",
        (NOW.timestamp(), text, identity, NOW.timestamp())))
    later = NOW + timedelta(minutes=1)
    await store.write(lambda transaction: transaction.record_alert(
        replace(alert(), labels=labels), 1, "key", later, None))
    assert await alert_rows(store) == [(1, "disk full", 2, NOW.timestamp(), later.timestamp())]
    await store.close()


async def test_a_reopened_store_finds_what_the_last_one_left(tmp_path: Path) -> None:
    """After a restart the memory is loaded from the file: open incidents, the counter and
    alert rows are found as the last process left them."""
    store = await Store.open(tmp_path / "router.db")
    assert await store.write(open_one("a")) == 1
    await store.write(lambda transaction: transaction.record_alert(alert(), 1, "a", NOW, None))
    await store.close()
    store = await Store.open(tmp_path / "router.db")
    assert await store.write(found("a")) == (1, IncidentState.TRIGGERED, frozenset({"abc"}))
    later = NOW + timedelta(minutes=1)
    await store.write(lambda transaction: transaction.record_alert(alert(), 1, "a", later, None))
    assert await alert_rows(store) == [(1, "disk full", 2, NOW.timestamp(), later.timestamp())]
    assert await store.write(open_one("b")) == 2
    await store.close()
