"""The retention task (issue 13 item 7) under trio's MockClock: months pass in milliseconds,
against a real SQLite store and the engine."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trio
import trio.testing

from router.alerts.model import Alert, Severity, Status
from router.clock import TrioClock
from router.config import load_config
from router.engine import Engine
from router.engine.retention import Retention
from router.store import Reader, Store, Transaction

START = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
CONFIG = """
settings: {retention: 30d}
channels: [{id: log, type: log}]
services: [{id: api, channels: [log]}]
routes: [{service: api}]
"""


@pytest.fixture
def clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0.05)


def alert(name: str, status: Status = Status.FIRING) -> Alert:
    return Alert(summary=name, source="native", severity=Severity.CRITICAL, status=status,
                 labels={"alertname": name}, dedup_key=name)


def incidents(reader: Reader) -> list[tuple[int, str]]:
    return [(row[0], row[1]) for row in reader.connection.execute(
        "SELECT number, state FROM incidents ORDER BY number")]


async def test_resolved_incidents_go_once_older_than_the_retention_and_open_ones_stay(
        tmp_path: Path, nursery: trio.Nursery, clock: trio.testing.MockClock) -> None:
    (tmp_path / "config.yaml").write_text(textwrap.dedent(CONFIG))
    store = await Store.open(tmp_path / "router.db", synchronous="NORMAL")
    engine = Engine(load_config([tmp_path / "config.yaml"]), store, TrioClock(START))
    pruned = []
    retention = Retention(engine, interval=timedelta(days=1), batch=2)
    retention.on_pruned = pruned.append
    def deliver_all(transaction: Transaction) -> None:
        transaction.connection.execute(
            "UPDATE outbox SET state = 'delivered', finished_at = ?", (START.timestamp(),))
    await engine.ingest([alert(name) for name in ("a", "b", "c", "d", "e", "open")])
    await store.write(deliver_all)  # the triggers went out, so the resolves go out too
    await engine.ingest([alert(name, Status.RESOLVED) for name in ("a", "b", "c", "d", "e")])
    await store.write(deliver_all)
    await nursery.start(retention.run)

    await trio.sleep(timedelta(days=29, hours=23).total_seconds())  # a pass a day
    assert await store.read(incidents) == [
        (1, "resolved"), (2, "resolved"), (3, "resolved"), (4, "resolved"), (5, "resolved"),
        (6, "triggered")]
    assert pruned == []
    await trio.sleep(timedelta(days=1, hours=2).total_seconds())  # the pass at 31 days
    assert await store.read(incidents) == [(6, "triggered")]
    [once] = pruned  # one pass, in batches of two incidents
    assert (once.incidents, once.alerts, once.notifications) == (5, 10, 10)
    await trio.sleep(timedelta(days=2).total_seconds())
    assert await store.read(incidents) == [(6, "triggered")]
    assert len(pruned) == 1  # passes that remove nothing are not reported
    await store.close()


async def test_a_pass_is_many_short_transactions(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(textwrap.dedent(CONFIG))
    store = await Store.open(tmp_path / "router.db", synchronous="NORMAL")
    engine = Engine(load_config([tmp_path / "config.yaml"]), store, TrioClock(START))
    names = [f"alert{index}" for index in range(25)]
    def deliver_all(transaction: Transaction) -> None:
        transaction.connection.execute("UPDATE outbox SET state = 'delivered', finished_at = 0")
    await engine.ingest([alert(name) for name in names])
    await store.write(deliver_all)
    await engine.ingest([alert(name, Status.RESOLVED) for name in names])
    await store.write(deliver_all)
    engine.state.clock = TrioClock(START + timedelta(days=31))
    commits = store.commits
    total = await Retention(engine, batch=10).prune_once()
    assert total.incidents == 25
    assert store.commits - commits >= 4  # 10 + 10 + 5 incidents, and a pass that found none
    await store.close()
