"""The timer task on a store that cannot write (issue 13 item 2): every timer waits, 1 s
doubling to 30 s, instead of failing and firing again every second with a traceback each; no
timer is lost, and escalation goes on once the store writes again. The engine, the scheduler
and a real SQLite store whose commits fail through tests.fakes.full_disk, under MockClock.
"""

from __future__ import annotations

import logging
import textwrap
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trio
import trio.testing

from router.alerts.model import Alert, Severity
from router.clock import TrioClock
from router.config import load_config
from router.engine import Engine
from router.engine.scheduler import Scheduler
from router.store import Store
from tests.clock_hold import ClockHold
from tests.fakes.full_disk import FullDiskConnection, full_disk
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
services:
  - {id: api, escalation_policy: quick}
routes:
  - service: api
"""


@pytest.fixture
def clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0.05)


@pytest.fixture
async def running(tmp_path: Path, nursery: trio.Nursery, clock: trio.testing.MockClock
                  ) -> AsyncIterator[tuple[Engine, type[FullDiskConnection]]]:
    (tmp_path / "router.yaml").write_text(textwrap.dedent(CONFIG))
    disk = full_disk()
    store = await Store.open(tmp_path / "router.db", synchronous="NORMAL",
                             writer_factory=disk)
    # A commit takes no virtual time, however long a busy machine takes over it: else the
    # clock jumps to the test's next deadline meanwhile (its minute of a full disk) and the
    # scheduler's retries are not tried by then.
    ClockHold(clock).hold_store(store)
    engine = Engine(load_config([tmp_path / "router.yaml"]), store, TrioClock(START))
    scheduler = Scheduler(engine, idle=timedelta(hours=1))
    engine.timers_written = scheduler.poke
    scope = await start_stoppable(nursery, scheduler.run)
    yield engine, disk
    scope.cancel()
    await store.close()


async def test_timers_wait_while_the_store_cannot_write_and_fire_once_it_can(
        clock: trio.testing.MockClock, running: tuple[Engine, type[FullDiskConnection]],
        caplog: pytest.LogCaptureFixture) -> None:
    engine, disk = running
    caplog.set_level(logging.INFO, logger="router")
    [accepted] = await engine.ingest([Alert(summary="checkout fails", source="test",
                                            severity=Severity.CRITICAL,
                                            labels={"alertname": "Checkout"})])
    assert accepted.incident_id == "INC1"
    disk.full = True
    await trio.sleep(5 * 60 + 60)  # the 5-minute deadline, and a minute of a full disk
    # tries at 0, 1, 3, 7, 15, 31 s after it (pauses of 1, 2, 4, 8, 16, 30 s): not 60
    assert 5 <= disk.refused <= 7
    assert not [record for record in caplog.records if record.exc_info]
    assert len([record for record in caplog.records if record.levelno >= logging.ERROR]) <= 7
    assert await engine.store.read(lambda reader: reader.timer_count()) == 1  # not lost
    disk.full = False
    await trio.sleep(31)  # the longest pause
    detail = await engine.incident("INC1")
    assert detail is not None and detail.incident.level == 2
    escalated = [entry for entry in detail.timeline if entry.action == "escalated"]
    assert len(escalated) == 1
