"""When the one timer task looks at the store: every commit pokes it, but only a commit that
set a deadline earlier than the one it sleeps until makes it query (bench/bench_timers.py
found two store reads per commit, a tenth of a core at 500 one-alert requests a second).
A real SQLite store and the engine under trio's MockClock.
"""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trio
import trio.testing

from router.alerts.model import Alert, Severity
from router.clock import TrioClock
from router.config import load_config
from router.engine import Engine
from router.engine.scheduler import BATCH, Scheduler
from router.store import Store, Transaction
from tests.clock_hold import ClockHold
from tests.tasks import start_stoppable

START = datetime(2026, 11, 23, 7, 50, tzinfo=UTC)

CONFIG = """
settings: {timezone: UTC}
channels:
  - {id: log, type: log}
escalation_policies:
  - id: quick
    levels:
      - {targets: [{channel: log}], delay: 5m}
      - {targets: [{channel: log}], delay: 1h}
  - id: slow
    levels:
      - {targets: [{channel: log}], delay: 30m}
      - {targets: [{channel: log}], delay: 1h}
services:
  - {id: quick, escalation_policy: quick}
  - {id: slow, escalation_policy: slow}
routes:
  - {match: [service=quick], service: quick}
  - service: slow
"""


@dataclass
class Running:
    engine: Engine
    queries: list[float] = field(default_factory=list)
    """Seconds after START of each look at the store's timers."""
    fired: list[tuple[float, str]] = field(default_factory=list)
    """(seconds after START, incident) of each fired timer, once its transaction ended."""
    handed: list[tuple[float, str]] = field(default_factory=list)
    """(seconds after START, incident) of each timer as the scheduler handed it over: what
    "on time" means for the scheduler; a commit that takes longer than the clock's
    autojump threshold (a loaded machine) may move the fired time along, not this one."""
    outcomes: list[str] = field(default_factory=list)
    started: list[int] = field(default_factory=list)
    """Incident numbers in the order their timers were handed to the engine."""
    in_flight: int = 0
    most_in_flight: int = 0
    hold: dict[int, trio.Event] = field(default_factory=dict)
    """Incident numbers whose escalation waits for the event before it runs."""

    def seconds(self) -> float:
        return round((self.engine.clock.now() - START).total_seconds(), 3)

    async def open(self, service: str, instance: str = "a") -> str:
        [accepted] = await self.engine.ingest([Alert(
            summary="checkout fails", source="test", severity=Severity.CRITICAL,
            labels={"alertname": "Checkout", "service": service, "instance": instance})])
        assert accepted.incident_id is not None
        return accepted.incident_id


@pytest.fixture
def clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0.05)


@pytest.fixture
async def running(tmp_path: Path, nursery: trio.Nursery, clock: trio.testing.MockClock
                  ) -> AsyncIterator[Running]:
    (tmp_path / "router.yaml").write_text(textwrap.dedent(CONFIG))
    store = await Store.open(tmp_path / "router.db", synchronous="NORMAL")
    # A commit takes no virtual time, however long the busy machine takes over it: else the
    # clock jumps to the next deadline meanwhile and timers fire inside the test's commits.
    ClockHold(clock).hold_store(store)
    engine = Engine(load_config([tmp_path / "router.yaml"]), store, TrioClock(START))
    state = Running(engine)
    timers_due_by, timer_fired = engine.timers_due_by, engine.timer_fired

    async def counted_timers_due_by(until: datetime, limit: int = 256
                                    ) -> tuple[list[tuple[int, str, datetime]], datetime | None]:
        state.queries.append(state.seconds())
        return await timers_due_by(until, limit)

    async def recorded_timer_fired(number: int, kind: str, due_at: datetime) -> str:
        state.started.append(number)
        state.handed.append((state.seconds(), f"INC{number}"))
        state.in_flight += 1
        state.most_in_flight = max(state.most_in_flight, state.in_flight)
        try:
            if number in state.hold:
                await state.hold[number].wait()
            outcome = await timer_fired(number, kind, due_at)
        finally:
            state.in_flight -= 1
        state.fired.append((state.seconds(), f"INC{number}"))
        state.outcomes.append(outcome)
        return outcome

    engine.timers_due_by = counted_timers_due_by  # type: ignore[method-assign]
    engine.timer_fired = recorded_timer_fired  # type: ignore[method-assign]
    scheduler = Scheduler(engine, idle=timedelta(hours=2))
    engine.timers_written = scheduler.poke
    scope = await start_stoppable(nursery, scheduler.run)
    yield state
    scope.cancel()
    await store.close()


async def test_commits_that_set_no_timer_cost_the_sleeping_scheduler_no_query(
        running: Running, clock: trio.testing.MockClock) -> None:
    await trio.sleep(1)
    first = await running.open("quick")
    await trio.sleep(1)
    looked = len(running.queries)
    for _ in range(20):  # the same alert again: the open incident takes it, no timer is set
        await running.open("quick")
        await trio.sleep(0.1)
    assert len(running.queries) == looked
    await trio.sleep(600)
    assert running.fired == [(301.0, first)]


async def test_a_deadline_later_than_the_awaited_one_is_not_queried_for_yet_fires_on_time(
        running: Running, clock: trio.testing.MockClock) -> None:
    quick = await running.open("quick")
    await trio.sleep(1)
    looked = len(running.queries)
    slow = await running.open("slow")
    await trio.sleep(1)
    assert len(running.queries) == looked
    await trio.sleep(3600)
    assert running.fired == [(300.0, quick), (1801.0, slow)]


async def test_a_deadline_earlier_than_the_awaited_one_wakes_the_scheduler(
        running: Running, clock: trio.testing.MockClock) -> None:
    slow = await running.open("slow")
    await trio.sleep(60)
    looked = len(running.queries)
    quick = await running.open("quick")
    await trio.sleep(1)
    assert len(running.queries) > looked
    await trio.sleep(3600)
    assert running.fired == [(360.0, quick), (1800.0, slow)]


async def test_the_store_reports_the_earliest_deadline_set_since_it_was_last_asked(
        tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "router.db", synchronous="NORMAL")

    def setting(*minutes: int) -> Callable[[Transaction], None]:
        def work(transaction: Transaction) -> None:
            for number, delay in enumerate(minutes, start=1):
                transaction.set_timer(number, "escalate", START + timedelta(minutes=delay))
        return work

    assert store.take_timers_set() is None
    await store.write(setting(30, 5))
    await store.write(setting(15))
    await store.write(lambda transaction: transaction.cancel_timers(9))
    assert store.take_timers_set() == START + timedelta(minutes=5)
    assert store.take_timers_set() is None
    await store.write(lambda transaction: transaction.cancel_timers(1))
    assert store.take_timers_set() is None
    await store.close()


async def test_timers_due_every_ten_milliseconds_fire_on_time_at_two_reads_a_second(
        running: Running, clock: trio.testing.MockClock) -> None:
    opened = []
    for instance in range(200):  # deadlines 300.00 s, 300.01 s, ... 301.99 s
        opened.append(await running.open("quick", f"host-{instance}"))
        await trio.sleep(0.01)
    await trio.sleep(290)
    looked = len(running.queries)
    await trio.sleep(20)
    assert running.handed == [(round(300 + index * 0.01, 3), incident)
                              for index, incident in enumerate(opened)]
    assert sorted(incident for _, incident in running.fired) == sorted(opened)
    assert len(running.queries) - looked <= 6  # a read every half second, not one a timer


async def test_the_next_timer_fires_on_time_while_an_earlier_escalation_is_unfinished(
        running: Running, clock: trio.testing.MockClock) -> None:
    first = await running.open("quick", "a")
    await trio.sleep(1)
    second = await running.open("quick", "b")
    running.hold[1] = trio.Event()  # INC1's escalation hangs (a slow commit, say)
    await trio.sleep(310)
    assert running.fired == [(301.0, second)]
    running.hold[1].set()
    await trio.sleep(1)
    assert running.fired == [(301.0, second), (311.0, first)]


async def test_a_timer_read_ahead_then_acknowledged_before_its_deadline_comes_to_nothing(
        running: Running, clock: trio.testing.MockClock) -> None:
    incident = await running.open("quick")
    await trio.sleep(299.9)  # read into memory by now
    await running.engine.acknowledge(incident, "api:bob")
    await trio.sleep(600)
    assert running.outcomes == ["stale"]
    detail = await running.engine.incident(incident)
    assert detail is not None and detail.incident.level == 1
    assert "escalated" not in [entry.action for entry in detail.timeline]


async def test_a_backlog_of_overdue_timers_fires_in_deadline_order_a_batch_at_a_time(
        running: Running, clock: trio.testing.MockClock) -> None:
    def overdue(transaction: Transaction) -> None:  # incidents long gone: each is "closed"
        for number in range(1000, 1700):
            transaction.set_timer(number, "escalate", START - timedelta(seconds=number))
    await running.engine.store.write(overdue)
    running.engine.timers_written()  # what the engine's own commits do
    await trio.sleep(5)
    # Within a batch trio starts tasks in any order; batch after batch, the most overdue first.
    assert sorted(running.started) == list(range(1000, 1700))
    assert set(running.started[:BATCH]) == set(range(1699, 1699 - BATCH, -1))
    assert running.outcomes == ["closed"] * 700
    assert 0 < running.most_in_flight <= BATCH
    assert await running.engine.store.read(lambda reader: reader.earliest_timer()) is None
