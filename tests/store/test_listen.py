"""Nodes learn of each other's work at once (issue 18 item 4, D6; store/postgres_listen.py):
a commit that added notifications or set timers sends NOTIFY router_work, and each node's
`Store.watch` hears the others' and wakes its deliverer and scheduler.

Two stores on one real PostgreSQL database are two nodes. A socket cannot be driven by
trio's MockClock: these tests run in real time, and wait for a condition under a short
deadline, never for a fixed time.
"""

from __future__ import annotations

import functools
import logging
import textwrap
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import trio
import trio.testing

from router.alerts.model import Notification
from router.clock import SystemClock
from router.config import load_config
from router.engine import Engine
from router.engine.scheduler import Scheduler
from router.store import Transaction, sqlite
from router.store.interface import OUTBOX, TIMERS
from router.store.postgres import Store
from router.store.postgres_listen import Announced, Work, parse
from router.store.postgres_wire import first_line
from tests.postgres_server import Cluster
from tests.tasks import start_stoppable

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
SOON = NOW + timedelta(minutes=1)
LATER = NOW + timedelta(minutes=5)
LISTENER = "router.store.postgres_listen"


def a_notification(notification_id: str) -> Notification:
    return Notification(id=notification_id, incident_number=1, channel="log",
                        target="channel:log", address="", event="trigger", created_at=NOW)


def add_notification(notification_id: str) -> Callable[[Transaction], None]:
    return lambda transaction: transaction.add_notifications([a_notification(notification_id)])


class Woken:
    """A `wake` for `Store.watch` that records its words and lets a test wait for them."""

    def __init__(self) -> None:
        self.words: list[str] = []
        self._changed = trio.Event()

    def __call__(self, what: str) -> None:
        self.words.append(what)
        self._changed.set()

    async def until(self, condition: Callable[[list[str]], bool], seconds: float = 1.0) -> None:
        with trio.fail_after(seconds):
            while not condition(self.words):
                self._changed = trio.Event()
                await self._changed.wait()

    async def listening(self, store: Store, seconds: float = 5.0) -> None:
        """Wait for the wake of both that follows each connect; then forget it."""
        await self.until(lambda words: {OUTBOX, TIMERS} <= set(words), seconds)
        self.words.clear()
        store.take_timers_set()  # as the scheduler's poke does


class Retries(logging.Handler):
    """Sets `enough` once the listener logged `wanted` retries (it logs on the trio thread)."""

    def __init__(self, wanted: int) -> None:
        super().__init__(logging.DEBUG)
        self.wanted = wanted
        self.enough = trio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno == logging.DEBUG and record.getMessage().startswith("still not"):
            self.wanted -= 1
            if self.wanted <= 0:
                self.enough.set()


@pytest.fixture
def retried() -> Iterator[Retries]:
    handler = Retries(3)
    logging.getLogger(LISTENER).addHandler(handler)
    yield handler
    logging.getLogger(LISTENER).removeHandler(handler)


@pytest.fixture
async def nodes(postgres_url: str) -> AsyncIterator[tuple[Store, Store]]:
    first = await Store.open(postgres_url)
    second = await Store.open(postgres_url)
    yield first, second
    await first.close()
    await second.close()


async def test_a_notification_committed_on_one_node_wakes_the_other_within_a_second(
        nodes: tuple[Store, Store]) -> None:
    first, second = nodes
    heard_first, heard_second = Woken(), Woken()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(first.watch, heard_first)
        nursery.start_soon(second.watch, heard_second)
        await heard_first.listening(first)
        await heard_second.listening(second)
        await first.write(add_notification("n1"))
        await heard_second.until(lambda words: OUTBOX in words, 1.0)
        assert heard_second.words == [OUTBOX]
        assert second.take_timers_set() is None
        # The first node hears the second's commit after its own one's NOTIFY (PostgreSQL
        # delivers them in commit order): by then it has ignored its own.
        await second.write(lambda transaction: transaction.set_timer(7, "escalate", LATER))
        await heard_first.until(lambda words: TIMERS in words, 1.0)
        assert heard_first.words == [TIMERS]
        assert first.take_timers_set() == LATER
        nursery.cancel_scope.cancel()


async def test_an_earlier_timer_set_on_one_node_reaches_the_other_s_scheduler(
        nodes: tuple[Store, Store], tmp_path: Path) -> None:
    """The second node's scheduler would next look at its timers in ten minutes (its idle
    read); the first node's timer, due in a third of a second, fires on time there."""
    first, second = nodes
    (tmp_path / "router.yaml").write_text(textwrap.dedent("""
        settings: {timezone: UTC}
        channels: [{id: log, type: log}]
        escalation_policies: [{id: p, levels: [{targets: [{channel: log}], delay: 5m}]}]
        services: [{id: api, escalation_policy: p}]
        routes: [{service: api}]
    """))
    engine = Engine(load_config([tmp_path / "router.yaml"]), second, SystemClock())
    scheduler = Scheduler(engine, idle=timedelta(minutes=10))
    engine.timers_written = scheduler.poke
    fired = trio.Event()
    lateness: list[float] = []

    def on_fired(kind: str, late: float) -> None:
        lateness.append(late)
        fired.set()
    scheduler.on_fired = on_fired
    heard = Woken()

    def wake(what: str) -> None:  # as daemon/root.py wires it
        heard(what)
        if what == TIMERS:
            engine.timers_written()
    async with trio.open_nursery() as nursery:
        stop = await start_stoppable(nursery, scheduler.run)
        nursery.start_soon(second.watch, wake)
        await heard.until(lambda words: {OUTBOX, TIMERS} <= set(words), 5.0)
        await trio.testing.wait_all_tasks_blocked(0.05)  # the read the connect caused
        due_at = datetime.now(UTC) + timedelta(seconds=0.3)
        await first.write(lambda transaction: transaction.set_timer(99, "escalate", due_at))
        with trio.fail_after(2):
            await fired.wait()
        assert lateness[0] < 1.0
        stop.cancel()
        nursery.cancel_scope.cancel()
    assert await second.read(lambda reader: reader.timer_count()) == 0


async def test_a_rolled_back_unit_announces_nothing(nodes: tuple[Store, Store]) -> None:
    """A unit that failed, alone in its commit and sharing one with a unit that was kept:
    only the kept unit's timer is heard of, and no notification."""
    first, second = nodes
    heard = Woken()

    def failing(transaction: Transaction) -> None:
        transaction.add_notifications([a_notification("gone")])
        transaction.set_timer(1, "escalate", SOON)
        raise ValueError("rolled back")
    holding, release = threading.Event(), threading.Event()

    def hold(transaction: Transaction) -> None:
        holding.set()
        release.wait(5)

    async def fails() -> None:
        with pytest.raises(ValueError, match="rolled back"):
            await first.write(failing)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(second.watch, heard)
        await heard.listening(second)
        await fails()
        nursery.start_soon(first.write, hold)  # the next two units wait, and share a commit
        await trio.to_thread.run_sync(holding.wait, 5)
        commits = first.commits
        kept = trio.Event()

        async def keeps() -> None:
            await first.write(lambda transaction: transaction.set_timer(2, "escalate", LATER))
            kept.set()
        nursery.start_soon(fails)
        nursery.start_soon(keeps)
        await trio.testing.wait_all_tasks_blocked(0.05)
        release.set()
        await heard.until(lambda words: TIMERS in words, 1.0)
        with trio.fail_after(5):  # the NOTIFY can be heard before the committing thread is back
            await kept.wait()
        assert first.commits == commits + 2  # the held unit's, then one for both
        assert heard.words == [TIMERS]
        assert second.take_timers_set() == LATER
        nursery.cancel_scope.cancel()


async def test_the_listener_listens_again_after_its_connection_is_lost_with_one_warning(
        nodes: tuple[Store, Store], postgres_url: str, postgres_cluster: Cluster,
        retried: Retries, caplog: pytest.LogCaptureFixture) -> None:
    """Its backend terminated, and the database refusing connections for a while: the
    listener tries again and again (DEBUG lines), says so once (WARNING), and once it can
    connect it listens again and wakes for what it may have missed. Terminated again at
    once, it is the same outage: a DEBUG line, no second WARNING."""
    caplog.set_level(logging.DEBUG, logger=LISTENER)
    first, second = nodes
    database = postgres_url.rsplit("/", 1)[1]
    heard = Woken()
    admin = psycopg.connect(postgres_cluster.url(), autocommit=True)

    def terminate() -> None:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                      "datname = %s AND application_name = 'router listen'", (database,))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(functools.partial(second.watch, heard, first_pause=0.05))
        await heard.listening(second)
        admin.execute(f"ALTER DATABASE {database} ALLOW_CONNECTIONS false")
        terminate()
        with trio.fail_after(10):
            await retried.enough.wait()
        admin.execute(f"ALTER DATABASE {database} ALLOW_CONNECTIONS true")
        await heard.listening(second, 10.0)
        await first.write(add_notification("after"))
        await heard.until(lambda words: OUTBOX in words, 1.0)
        heard.words.clear()
        terminate()
        await heard.listening(second, 10.0)
        await first.write(add_notification("again"))
        await heard.until(lambda words: OUTBOX in words, 1.0)
        nursery.cancel_scope.cancel()
    admin.close()
    lines = [(record.levelname, record.getMessage()) for record in caplog.records
             if record.name == LISTENER and record.levelno >= logging.INFO]
    assert lines == [
        ("WARNING", "not listening for other nodes' work: consuming input failed: server "
                    "closed the connection unexpectedly; they are found by the polls every "
                    "few seconds until it listens again"),
        ("INFO", "listening for other nodes' work again")]


async def test_on_sqlite_watch_returns_at_once(tmp_path: Path) -> None:
    """One process is the only writer: there is nothing to listen for."""
    store = await sqlite.Store.open(tmp_path / "router.db")
    woken: list[str] = []
    try:
        with trio.fail_after(1):
            await store.watch(woken.append)
    finally:
        await store.close()
    assert woken == []


def test_a_payload_names_the_kept_units_work_only() -> None:
    announced = Announced()
    assert announced.statement("me") == ""
    announced.notifications_added()
    announced.timer_set(100.0)
    announced.dropped()
    assert announced.statement("me") == ""
    announced.timer_set(300.5)
    announced.kept()
    announced.timer_set(200.25)
    announced.kept()
    assert announced.statement("me") == "NOTIFY router_work, 'me timer:200.25'; "
    announced.notifications_added()
    announced.kept()
    assert announced.statement("me") == "NOTIFY router_work, 'me outbox timer:200.25'; "
    assert parse("me outbox timer:200.25") == Work("me", outbox=True, earliest=200.25)


@pytest.mark.parametrize(("payload", "work"), [
    ("node outbox", Work("node", outbox=True, earliest=None)),
    ("node timer:5.5 timer:3", Work("node", outbox=False, earliest=3.0)),
    ("node timer:soon newer-word", Work("node", outbox=False, earliest=0.0)),
    ("node timer:nan", Work("node", outbox=False, earliest=0.0)),
    ("", Work("", outbox=False, earliest=None)),
])
def test_a_payload_it_cannot_read_wakes_too_early_never_too_late(payload: str,
                                                                 work: Work) -> None:
    assert parse(payload) == work


@pytest.mark.parametrize(("message", "reason"), [
    ("connection failed: Connection refused\n\tIs the server running on that host?",
     "connection failed: Connection refused"),
    ("\n  server closed the connection unexpectedly\n",
     "server closed the connection unexpectedly"),
    (" \n", "OperationalError"),
    ("", "OperationalError")])
def test_a_failure_is_logged_by_its_message_s_first_line_or_its_type(
        message: str, reason: str) -> None:
    assert first_line(psycopg.OperationalError(message)) == reason
