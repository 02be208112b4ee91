"""A channel's send slots (issue 15 item 3): a lane runs at most `concurrency` slot tasks,
each taking page after page from its queue, where once every page was a task of its own
(three turns of the trio loop a page against the connection tasks' one, and under ingest
load the pages fell seconds behind). A log page never waits on a socket, so each slot gives
the other tasks their turn between pages. A webhook channel sends 16 at once unless it says
otherwise: 4 slots over a receiver's round trip capped its pages below the ingest rate. A
real SQLite store, a loopback receiver and trio's MockClock.
"""

from __future__ import annotations

import itertools
import logging
import textwrap
from pathlib import Path

import pytest
import trio
import trio.abc
import trio.lowlevel
import trio.testing

from router.alerts.model import Alert, Severity
from tests.fakes.webhook import Answer, FakeWebhook, serve_fake_webhook
from tests.notify.test_deliver import Harness

PAGES = 40
LOG_CHANNEL = textwrap.dedent("""
    channels:
      - {id: audit, type: log, level: warning, concurrency: 4}
    services:
      - {id: api, channels: [audit]}
    routes:
      - service: api
    """)


@pytest.fixture
def clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0.05)


class DelivererSpawns(trio.abc.Instrument):
    """Counts the tasks the deliverer (notify/deliver.py) starts."""

    def __init__(self) -> None:
        self.count = 0

    def task_spawned(self, task: trio.lowlevel.Task) -> None:
        code = getattr(task.coro, "cr_code", None)
        if code is not None and code.co_filename.endswith("notify/deliver.py"):
            self.count += 1


async def test_a_backlog_is_sent_by_at_most_concurrency_tasks_each_fair_to_the_others(
        clock: trio.testing.MockClock, tmp_path: Path, nursery: trio.Nursery,
        caplog: pytest.LogCaptureFixture) -> None:
    harness = Harness(tmp_path, nursery, LOG_CHANNEL)
    await harness.start()
    spawns = DelivererSpawns()
    trio.lowlevel.add_instrument(spawns)
    seen: list[int] = []
    """Pages written, as another task saw it at each of its turns."""
    try:
        with caplog.at_level(logging.WARNING, logger="router.notify.log"):
            await harness.engine.ingest([
                Alert(summary="disk full", source="test", severity=Severity.CRITICAL,
                      labels={"alertname": "disk full", "instance": str(number)})
                for number in range(PAGES)])
            with trio.fail_after(60):
                while not seen or seen[-1] < PAGES:
                    await trio.lowlevel.checkpoint()
                    seen.append(sum(record.name == "router.notify.log"
                                    for record in caplog.records))
            assert await harness.settled() == {"delivered": PAGES}
    finally:
        trio.lowlevel.remove_instrument(spawns)
        await harness.stop()
    assert spawns.count <= 4  # was one task per page: 40
    steps = [later - earlier for earlier, later in itertools.pairwise(seen)]
    # Between two turns of another task, one page a slot in each of the two batches of the
    # trio loop they span (trio shuffles the order within a batch).
    assert max(steps) <= 2 * 4


async def in_waves(harness: Harness, receiver: FakeWebhook, pages: int) -> list[int]:
    """Open `pages` incidents at once against a receiver that takes 5 s to answer each
    request; how many requests arrived in each 5 s wave (a wave is the sends in flight)."""
    receiver.answer_next(*[Answer(delay=5)] * pages)
    await harness.engine.ingest([
        Alert(summary="disk full", source="test", severity=Severity.CRITICAL,
              labels={"alertname": "disk full", "instance": str(number)})
        for number in range(pages)])
    assert await harness.settled() == {"delivered": pages}
    first = receiver.requests[0].time
    waves: dict[int, int] = {}
    for request in receiver.requests:
        wave = int((request.time - first) // 5)
        waves[wave] = waves.get(wave, 0) + 1
    return [waves[wave] for wave in sorted(waves)]


async def test_a_webhook_sends_16_at_once_by_default(
        clock: trio.testing.MockClock, tmp_path: Path, nursery: trio.Nursery) -> None:
    receiver = await nursery.start(serve_fake_webhook)
    harness = Harness(tmp_path, nursery, textwrap.dedent(f"""
        channels:
          - {{id: hook, type: webhook, url: "{receiver.url}"}}
        services:
          - {{id: api, channels: [hook]}}
        routes:
          - service: api
        """))
    await harness.start()
    try:
        assert await in_waves(harness, receiver, PAGES) == [16, 16, 8]  # was 4 a wave
    finally:
        await harness.stop()


async def test_a_webhook_s_own_concurrency_still_holds(
        clock: trio.testing.MockClock, tmp_path: Path, nursery: trio.Nursery) -> None:
    receiver = await nursery.start(serve_fake_webhook)
    harness = Harness(tmp_path, nursery, textwrap.dedent(f"""
        channels:
          - {{id: hook, type: webhook, url: "{receiver.url}", concurrency: 3}}
        services:
          - {{id: api, channels: [hook]}}
        routes:
          - service: api
        """))
    await harness.start()
    try:
        assert await in_waves(harness, receiver, 9) == [3, 3, 3]
    finally:
        await harness.stop()
