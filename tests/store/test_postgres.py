"""The store on PostgreSQL (router/store/postgres.py, issue 18): migrations, group commit,
errors, a connection the server dropped, and two stores ("nodes") on one database."""

from __future__ import annotations

import dataclasses
import logging
import secrets
import threading
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import trio
import trio.testing

from router.alerts.model import Incident, IncidentState, Severity, Silence, SilenceMatcher
from router.engine.snapshot import OnCallCache
from router.errors import StoreBusy, StoreError, StoreUnavailable
from router.store import Transaction, interface, migrations, postgres
from router.store.overrides import RotaOverride
from router.store.postgres import Store, conforms
from router.store.postgres_wire import translate

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def an_incident(number: int, dedup_key: str = "key") -> Incident:
    return Incident(number=number, dedup_key=dedup_key, service="api", summary="disk full",
                    severity=Severity.CRITICAL, state=IncidentState.TRIGGERED,
                    opened_at=NOW, updated_at=NOW, labels={"host": "db1"})


@pytest.fixture
async def nodes(postgres_url: str) -> AsyncIterator[tuple[Store, Store]]:
    first = await Store.open(postgres_url)
    second = await Store.open(postgres_url)
    yield first, second
    await first.close()
    await second.close()


def test_the_wire_rewrites_placeholders_and_sqlite_words_only() -> None:
    assert translate("SELECT a FROM t WHERE b = ? AND c LIKE 'x:%' AND d = :cutoff") == (
        "SELECT a FROM t WHERE b = %s AND c LIKE 'x:%%' AND d = %(cutoff)s")
    assert translate("SELECT ifnull(a, 0), json_array_length(more) FROM t WHERE e = '?'") == (
        "SELECT coalesce(a, 0), json_array_length(more::json) FROM t WHERE e = '?'")


async def test_a_new_database_is_migrated_and_a_newer_one_refused(postgres_url: str) -> None:
    store = await Store.open(postgres_url)
    await store.close()
    again = await Store.open(postgres_url)  # nothing left to do: opens as it is
    await again.close()
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        assert connection.execute("SELECT version FROM schema_version").fetchall() == [
            (len(migrations.MIGRATIONS),)]
        connection.execute("UPDATE schema_version SET version = version + 1")
    with pytest.raises(StoreError, match="newer than this router knows"):
        await Store.open(postgres_url)


async def test_a_server_that_cannot_be_reached_is_unavailable() -> None:
    with trio.fail_after(20), pytest.raises(StoreUnavailable):
        await Store.open("postgresql://router@127.0.0.1:1/none", wait=1.0)


async def test_a_store_that_cannot_be_opened_says_the_server_s_reason(
        postgres_url: str) -> None:
    """The pool's own timeout ("pool initialization incomplete after 1.0 sec") says nothing
    of why: `router run` and the CLI print the server's reason instead."""
    with trio.fail_after(20), pytest.raises(StoreUnavailable) as refused:
        await Store.open("postgresql://router@127.0.0.1:1/none", wait=1.0)
    assert 'connection to server at "127.0.0.1", port 1 failed: Connection refused' in (
        refused.value.cause)
    missing = postgres_url.rsplit("/", 1)[0] + "/no_such_database"
    with trio.fail_after(20), pytest.raises(StoreUnavailable) as absent:
        await Store.open(missing, wait=1.0)
    assert 'database "no_such_database" does not exist' in absent.value.cause
    assert "pool initialization" not in absent.value.cause


async def test_the_postgresql_classes_are_the_interface_s_protocols(postgres_url: str) -> None:
    store = await Store.open(postgres_url)
    try:
        assert isinstance(store, interface.Store)
        read = await store.read(lambda reader: reader)
        written = await store.write(lambda transaction: transaction)
        assert conforms(store, read, written) == (store, read, written)  # type: ignore[arg-type]
        assert isinstance(read, interface.Reader)
        assert isinstance(written, interface.Transaction)
    finally:
        await store.close()


async def test_group_commit_and_a_failing_unit_rolls_back_alone(postgres_url: str) -> None:
    store = await Store.open(postgres_url)
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
        for index in range(30):
            nursery.start_soon(write, index)
    assert results[3] == "unit 3 fails"
    numbers = [value for value in results.values() if isinstance(value, int)]
    assert len(set(numbers)) == 29
    assert store.commits < 30
    incidents = await store.read(lambda reader: reader.incidents(limit=100))
    assert len(incidents) == 29
    await store.close()


async def test_a_broken_rule_is_a_store_error(postgres_url: str) -> None:
    store = await Store.open(postgres_url)

    def two_open(transaction: Transaction) -> None:
        transaction.save_incident(an_incident(1), ())
        transaction.save_incident(an_incident(2), ())
    try:
        with pytest.raises(StoreError) as raised:
            await store.write(two_open)
        assert not isinstance(raised.value, StoreUnavailable)
        assert await store.read(lambda reader: reader.incidents()) == []
    finally:
        await store.close()


async def test_connections_the_server_dropped_are_replaced(postgres_url: str) -> None:
    store = await Store.open(postgres_url)
    try:
        await store.write(lambda transaction: transaction.save_incident(an_incident(1), ()))
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        await store.write(lambda transaction: transaction.save_incident(
            an_incident(2, "other"), ()))
        assert len(await store.read(lambda reader: reader.incidents())) == 2
    finally:
        await store.close()


async def test_two_nodes_opening_the_same_key_at_once_open_one_incident(
        nodes: tuple[Store, Store]) -> None:
    """Each node's unit finds no open incident (a barrier holds both until both looked) and
    opens one; the one that inserts second waits for the first to commit, breaks
    `incidents_open_key`, runs again and attaches to the first one's incident."""
    barrier = threading.Barrier(2, timeout=10)
    done: list[str] = []

    def open_or_attach(name: str) -> Callable[[Transaction], int]:
        def work(transaction: Transaction) -> int:
            found = transaction.open_incident("shared")
            if found is None:
                barrier.wait()
                number = transaction.next_incident_number()
                transaction.save_incident(an_incident(number, "shared"), ())
                done.append(f"{name} opened")
                return number
            incident = dataclasses.replace(found[0], alert_count=found[0].alert_count + 1)
            transaction.save_incident(incident, found[1])
            done.append(f"{name} attached")
            return incident.number
        return work

    numbers: dict[str, int] = {}

    async def node(name: str, store: Store) -> None:
        numbers[name] = await store.write(open_or_attach(name))

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(node, "first", nodes[0])
            nursery.start_soon(node, "second", nodes[1])
    assert numbers["first"] == numbers["second"]
    # Both looked and found none (the barrier let both through); the loser's insert failed
    # (sent with its unit's end: its run had ended "opened"), and its second run attached.
    assert sorted(line.split()[1] for line in done) == ["attached", "opened", "opened"]
    assert barrier.n_waiting == 0 and not barrier.broken
    incidents = await nodes[1].read(lambda reader: reader.incidents())
    assert [(incident.number, incident.alert_count) for incident in incidents] == [
        (numbers["first"], 2)]


async def test_incident_numbers_are_unique_and_increasing_across_nodes(
        nodes: tuple[Store, Store]) -> None:
    taken: dict[int, list[int]] = {0: [], 1: []}

    async def take(index: int) -> None:
        for _ in range(20):
            taken[index].append(await nodes[index].write(
                lambda transaction: transaction.next_incident_number()))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(take, 0)
        nursery.start_soon(take, 1)
    assert len(set(taken[0]) | set(taken[1])) == 40
    assert taken[0] == sorted(taken[0]) and taken[1] == sorted(taken[1])


async def test_a_silence_or_override_written_on_one_node_holds_on_the_other(
        nodes: tuple[Store, Store]) -> None:
    """The other node's next read sees them, and its OnCallCache (engine/snapshot.py) reads
    the overrides again because `data_version` moved."""
    one, other = nodes
    cache = OnCallCache()
    await other.write(lambda transaction: cache.within(transaction, NOW))
    assert cache.overrides_seen() == {}
    before = await other.read(lambda reader: reader.overrides.data_version())
    silence = Silence(id="s1", matchers=(SilenceMatcher(name="host", operator="=", value="db1"),),
                      starts_at=NOW - timedelta(hours=1), ends_at=NOW + timedelta(hours=1),
                      reason="maintenance", created_by="alice")
    override = RotaOverride(id="OVR-1", rota="primary", person="dave", replaces=None,
                            start=NOW, end=NOW + timedelta(hours=8), reason="covering",
                            created_by="alice", created_at=NOW)

    def add(transaction: Transaction) -> None:
        transaction.add_silence(silence)
        transaction.overrides.insert(override)
    await one.write(add)
    assert await other.read(lambda reader: reader.overrides.data_version()) != before
    assert await other.write(lambda transaction: transaction.active_silences(NOW)) == [silence]
    assert [found.id for found in await other.read(
        lambda reader: reader.overrides.listed())] == ["OVR-1"]
    await other.write(lambda transaction: cache.within(transaction, NOW))
    seen = cache.overrides_seen()
    assert isinstance(seen, dict) and list(seen) == ["primary"]


async def test_an_incident_with_long_labels_is_stored_and_found_by_them(
        store: interface.Store) -> None:
    """A B-tree entry holds about 2,700 bytes: PostgreSQL indexes the labels by their hash
    (store/migrations.py), so 10 kB of labels neither fail the write nor the lookup."""
    labels = {f"label{index}": secrets.token_hex(50) for index in range(100)}  # no compressing
    incident = dataclasses.replace(an_incident(1), labels=labels)
    await store.write(lambda transaction: transaction.save_incident(incident, ()))
    past = await store.read(lambda reader: reader.analysis.past_by_labels(
        labels, NOW - timedelta(days=1), 2))
    assert past.count == 1


async def test_a_unit_picked_to_break_a_deadlock_runs_again(
        nodes: tuple[Store, Store]) -> None:
    """Two nodes' units lock two rows in opposite orders: PostgreSQL fails one of them; it
    rolls back to its savepoint (giving up its lock), the other goes on, and the failed one
    runs again: both succeed."""
    def setup(transaction: Transaction) -> None:
        transaction.connection.execute(  # type: ignore[attr-defined]
            "INSERT INTO counters VALUES ('left', 0), ('right', 0)")
    await nodes[0].write(setup)
    barrier = threading.Barrier(2, timeout=10)
    runs: list[str] = []

    def crossing(first: str, second: str) -> Callable[[Transaction], None]:
        def work(transaction: Transaction) -> None:
            connection = transaction.connection  # type: ignore[attr-defined]
            runs.append(first)
            bump = "UPDATE counters SET value = value + 1 WHERE name = ?"
            connection.execute(bump, (first,))
            if len(runs) <= 2:
                barrier.wait()
            connection.execute(bump, (second,))
        return work

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(nodes[0].write, crossing("left", "right"))
            nursery.start_soon(nodes[1].write, crossing("right", "left"))
    assert len(runs) == 3  # one of them ran twice
    values = await nodes[0].read(lambda reader: reader.connection.execute(  # type: ignore[attr-defined]
        "SELECT value FROM counters WHERE name IN ('left', 'right')").fetchall())
    assert [row[0] for row in values] == [2, 2]


async def test_a_commit_holds_at_most_units_per_commit_units(
        postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """More units queued than one transaction takes (subtransactions past 64 slow every
    session's reads down): the rest go in the next commit, none is left waiting."""
    monkeypatch.setattr(postgres, "UNITS_PER_COMMIT", 5)
    store = await Store.open(postgres_url)
    gate = threading.Event()
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(store.write, lambda transaction: gate.wait())
            await trio.testing.wait_all_tasks_blocked()
            for index in range(12):
                nursery.start_soon(store.write, lambda transaction, index=index:
                                   transaction.save_incident(an_incident(index, f"k{index}"), ()))
            await trio.testing.wait_all_tasks_blocked()
            gate.set()
        assert store.commits == 1 + 3  # the gate's, then 5 + 5 + 2
        assert len(await store.read(lambda reader: reader.incidents())) == 12
    finally:
        await store.close()


async def test_a_deadlock_that_outlives_the_retry_is_busy_not_unavailable(
        postgres_url: str, caplog: pytest.LogCaptureFixture) -> None:
    """Another connection crosses the unit's locks on both of its runs, and PostgreSQL
    picks the unit each time (the other's deadlock_timeout is longer): the unit fails with
    StoreBusy (503, Retry-After 1), and the store is not marked unavailable: no /readyz
    503, no ERROR line, the next write goes through."""
    store = await Store.open(postgres_url)

    def setup(transaction: Transaction) -> None:
        transaction.connection.execute(  # type: ignore[attr-defined]
            "INSERT INTO counters VALUES ('left', 0), ('right', 0)")
    await store.write(setup)
    rounds = [(threading.Event(), threading.Event()) for _ in range(2)]
    runs: list[int] = []

    def other() -> None:  # holds 'right', then asks for 'left', once per run of the unit
        with psycopg.connect(postgres_url, autocommit=True) as connection:
            connection.execute("SET deadlock_timeout = '20s'")
            for holds, unit_holds in rounds:
                connection.execute("BEGIN")
                connection.execute("UPDATE counters SET value = 9 WHERE name = 'right'")
                holds.set()
                assert unit_holds.wait(10)
                connection.execute("UPDATE counters SET value = 9 WHERE name = 'left'")
                connection.execute("ROLLBACK")

    def crossing(transaction: Transaction) -> None:
        connection = transaction.connection  # type: ignore[attr-defined]
        holds, unit_holds = rounds[len(runs)]
        runs.append(1)
        assert holds.wait(10)
        connection.execute("UPDATE counters SET value = 1 WHERE name = 'left'")
        unit_holds.set()
        connection.execute("UPDATE counters SET value = 1 WHERE name = 'right'")

    caplog.set_level(logging.INFO, logger="router")
    thread = threading.Thread(target=other)
    thread.start()
    try:
        with trio.fail_after(30), pytest.raises(StoreBusy) as raised:
            await store.write(crossing)
        assert len(runs) == 2  # the store's one retry ran, and lost again
        assert "deadlock detected" in str(raised.value)
        assert str(raised.value).startswith("the store is busy: ")
        assert raised.value.retry_after == 1
        assert store.unavailable is None
        assert await store.check_writable() is None
        assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
        await store.write(lambda transaction: transaction.save_incident(an_incident(1), ()))
    finally:
        await trio.to_thread.run_sync(thread.join)
        await store.close()
