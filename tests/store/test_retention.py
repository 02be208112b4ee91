"""Retention (issue 13 item 7): what prune removes, and what it never removes."""

from __future__ import annotations

import itertools
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from router.alerts.model import Alert, Severity, Status
from router.clock import FixedClock
from router.config import load_config
from router.engine import Engine
from router.store import Reader, Store, Transaction, interface, outbox, retention
from router.store.outbox import Attempt

CONFIG = """
channels: [{id: log, type: log}]
services: [{id: api, channels: [log]}]
routes: [{service: api}]
"""
NOW = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
CUTOFF = NOW - timedelta(days=90)
OLD = NOW - timedelta(days=100)
RECENT = NOW - timedelta(days=10)


@pytest.fixture
async def engine(tmp_path: Path, store: interface.Store) -> Engine:
    """An engine on the store of each backend."""
    return engine_on(tmp_path, store)


def engine_on(tmp_path: Path, store: interface.Store) -> Engine:
    (tmp_path / "config.yaml").write_text(textwrap.dedent(CONFIG))
    counter = itertools.count(1)
    return Engine(load_config([tmp_path / "config.yaml"]), store, FixedClock(OLD),
                  new_id=lambda: f"n{next(counter):03d}")


def alert(name: str, status: Status = Status.FIRING) -> Alert:
    return Alert(summary=name, source="native", severity=Severity.CRITICAL, status=status,
                 labels={"alertname": name}, dedup_key=name)


async def at(engine: Engine, moment: datetime, *alerts: Alert) -> None:
    assert isinstance(engine.clock, FixedClock)
    engine.clock.moment = moment
    await engine.ingest(list(alerts))


async def deliver_all(engine: Engine, moment: datetime) -> None:
    """Every pending notification delivered at `moment`, each with its attempt logged."""
    def work(transaction: Transaction) -> None:
        for item in transaction.pending_notifications():
            transaction.outbox.record(Attempt(
                notification_id=item.id, incident_number=item.incident_number,
                channel=item.channel, target=item.target, event=item.event, attempt=1,
                attempted_at=moment, outcome="delivered"))
    await engine.store.write(work)


async def history(engine: Engine) -> None:
    """INC1 resolved 100 days ago (expired); INC2 resolved 100 days ago but its resolve
    follow-up still pending; INC3 open for 100 days; INC4 resolved 10 days ago; alerts that
    joined no incident, notices, notice deliveries and silences, old and recent."""
    await at(engine, OLD, alert("one"), alert("two"), alert("three"))
    await at(engine, OLD, alert("one"))  # a repeat: one row, count 2
    await deliver_all(engine, OLD)
    await at(engine, OLD, alert("one", Status.RESOLVED))
    await deliver_all(engine, OLD)
    await at(engine, OLD, alert("two", Status.RESOLVED))  # its resolve follow-up stays pending
    await at(engine, OLD, alert("gone", Status.RESOLVED), alert("lost", Status.RESOLVED))
    await at(engine, RECENT, alert("four"))
    await at(engine, RECENT, alert("four", Status.RESOLVED), alert("gone", Status.RESOLVED))

    def extras(transaction: Transaction) -> None:
        connection = transaction.connection
        for number, (moment, state) in enumerate(
                [(OLD, "delivered"), (RECENT, "delivered"), (OLD, "pending")], start=1):
            connection.execute(
                "INSERT INTO outbox (id, incident_number, channel, target, address, event, "
                "created_at, due_at, state, finished_at, note) VALUES (?, 0, 'log', "
                "'channel:log', '', 'handoff', ?, ?, ?, ?, 'handoff')",
                (f"notice{number}", moment.timestamp(), moment.timestamp(), state,
                 None if state == "pending" else moment.timestamp()))
        for moment in (OLD, RECENT):
            outbox.record(connection, Attempt(
                notification_id=f"test-{moment:%j}", incident_number=0, channel="log",
                target="channel:log", event="trigger", attempt=1, attempted_at=moment,
                outcome="delivered"))
        for name, ends_at in (("ended", OLD), ("ended-lately", RECENT), ("active", NOW)):
            connection.execute(
                "INSERT INTO silences (id, matchers, starts_at, ends_at, reason, created_by, "
                "created_at) VALUES (?, '[]', ?, ?, 'test', 'ann', ?)",
                (name, (OLD - timedelta(days=1)).timestamp(), ends_at.timestamp(),
                 OLD.timestamp()))
    await engine.store.write(extras)


def remaining(reader: Reader) -> dict[str, list[object]]:
    connection = reader.connection
    return {
        "incidents": [row[0] for row in connection.execute(
            "SELECT number FROM incidents ORDER BY number")],
        "alerts": [tuple(row) for row in connection.execute(
            "SELECT incident_number, dedup_key, status FROM alerts ORDER BY id")],
        "timeline": sorted({row[0] for row in connection.execute(
            "SELECT incident_number FROM timeline")}),
        "outbox": [tuple(row) for row in connection.execute(
            "SELECT incident_number, event, state FROM outbox ORDER BY incident_number, id")],
        "deliveries": [tuple(row) for row in connection.execute(
            "SELECT incident_number, notification_id FROM deliveries ORDER BY id")],
        "silences": [row[0] for row in connection.execute("SELECT id FROM silences ORDER BY id")],
    }


async def test_prune_removes_exactly_what_is_expired_and_never_an_open_incident(
        engine: Engine) -> None:
    await history(engine)
    would = await engine.store.read(lambda reader: reader.retention.prunable(CUTOFF))
    removed = retention.Pruned()
    batches = 0
    while True:  # one incident and one loose row of each kind per batch
        batch = await engine.store.write(
            lambda transaction: transaction.retention.prune(CUTOFF, 1))
        if not batch.rows:
            break
        removed, batches = removed + batch, batches + 1
    assert removed == would == retention.Pruned(
        # INC1: its alert (firing, and resolved) rows; opened, notified, resolved; its trigger
        # and resolve, delivered. "lost" joined no incident 100 days ago; "gone" too, but it
        # was re-sent 10 days ago: its row is recent. The old notice and its delivery; the
        # old silence.
        incidents=1, alerts=2 + 1, timeline=3, notifications=2 + 1, deliveries=2 + 1, silences=1)
    assert batches == 1  # one expired incident, and one of each loose kind
    assert await engine.store.read(remaining) == {
        "incidents": [2, 3, 4],
        "alerts": [(2, "two", "firing"), (3, "three", "firing"), (2, "two", "resolved"),
                   (None, "gone", "resolved"), (4, "four", "firing"), (4, "four", "resolved")],
        "timeline": [2, 3, 4],
        "outbox": [(0, "handoff", "delivered"), (0, "handoff", "pending"),
                   (2, "trigger", "delivered"), (2, "resolve", "pending"),
                   # INC4 was resolved before its trigger went out: the trigger is
                   # cancelled (and logged), and nobody is told of a resolve
                   (3, "trigger", "delivered"), (4, "trigger", "skipped")],
        "deliveries": [(2, "n002"), (3, "n003"), (4, "n006"), (0, "test-317")],
        "silences": ["active", "ended-lately"],
    }
    # nothing is left to remove; with the cutoff now, INC4 (resolved, nothing pending: its
    # trigger was cancelled) goes, while INC2's pending resolve keeps it
    assert await engine.store.read(
        lambda reader: reader.retention.prunable(CUTOFF)) == retention.Pruned()
    assert (await engine.store.write(
        lambda transaction: transaction.retention.prune(NOW, 100))).incidents == 1
    assert (await engine.store.read(remaining))["incidents"] == [2, 3]


async def test_pruned_pages_are_given_back_to_the_file_system(tmp_path: Path) -> None:
    """SQLite's file and its free pages (PostgreSQL gives none back: autovacuum)."""
    path = tmp_path / "router.db"
    engine = engine_on(tmp_path, await Store.open(path))
    for batch in range(20):
        await at(engine, OLD, *(alert(f"a{batch}-{index}") for index in range(50)))
        await at(engine, OLD, *(alert(f"a{batch}-{index}", Status.RESOLVED)
                                for index in range(50)))
        await deliver_all(engine, OLD)
    before = await engine.store.read(lambda reader: reader.retention.measure(path))
    assert before.incremental_vacuum
    assert before.rows["incidents"] == 1000
    batches = []
    while (batch := await engine.store.write(
            lambda transaction: transaction.retention.prune(CUTOFF, 100))).rows:
        batches.append(batch.incidents)
    assert batches == [100] * 10
    freed = await engine.store.write(
        lambda transaction: transaction.retention.reclaim(100_000))
    assert await engine.store.checkpoint()
    after = await engine.store.read(lambda reader: reader.retention.measure(path))
    assert freed > 0 and after.free_bytes == 0
    assert after.rows["incidents"] == 0
    assert after.database_bytes < before.database_bytes / 3, (before, after)
