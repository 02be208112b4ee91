"""The deliverer on a store that cannot write (issue 13 item 2): a send whose result cannot be
committed is not sent again; its result is committed again on the backoff of a failed send,
and at once when the store writes again. Once, a full disk made the deliverer POST one
notification 10,238 times in 40 s. A real webhook receiver on loopback, a real SQLite store
whose commits fail through tests.fakes.full_disk, and trio's MockClock.
"""

from __future__ import annotations

import logging
import textwrap
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
import trio
import trio.testing

from router.alerts.model import Alert, Severity
from router.clock import TrioClock
from router.config import load_config
from router.engine import Engine
from router.errors import StoreUnavailable
from router.notify.deliver import Deliverer
from router.notify.transport import Transport
from router.store import Reader, Store
from router.store.outbox import Attempt
from tests.fakes import Answer, Received, Reply, serve_fake
from tests.fakes.full_disk import FullDiskConnection, full_disk
from tests.fakes.webhook import FakeWebhook
from tests.tasks import start_stoppable

T = TypeVar("T")
EPOCH = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
FLOOD = 20
"""More POSTs than this of one notification is a flood: the test stops waiting at once."""


class CountingWebhook(FakeWebhook):
    """A webhook receiver that sets `flood` past FLOOD requests, so a test that waits virtual
    minutes for none ends at once when a busy loop keeps the mock clock from moving."""

    def __init__(self) -> None:
        super().__init__()
        self.flood = trio.Event()

    def process(self, request: Received) -> Reply:
        if len(self.requests) > FLOOD:
            self.flood.set()
        return super().process(request)


@pytest.fixture
def clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0.05)


class Harness:
    def __init__(self, store: Store, engine: Engine, deliverer: Deliverer,
                 disk: type[FullDiskConnection], receiver: CountingWebhook) -> None:
        self.store, self.engine, self.deliverer = store, engine, deliverer
        self.disk, self.receiver = disk, receiver

    async def alert(self, summary: str) -> str:
        [accepted] = await self.engine.ingest([Alert(
            summary=summary, source="test", severity=Severity.CRITICAL,
            labels={"alertname": summary})])
        assert accepted.incident_id is not None
        return accepted.incident_id

    async def watch(self, seconds: float) -> None:
        """Let `seconds` of virtual time pass, or fewer if the receiver is flooded."""
        with trio.move_on_after(seconds):
            await self.receiver.flood.wait()

    async def log(self) -> list[Attempt]:
        return list(reversed(await self.engine.deliveries(limit=1000)))

    async def pending(self) -> int:
        counts = await self.store.read(lambda reader: reader.outbox.counts())
        return counts.get("pending", 0)

    async def settled(self, limit: float, every: float) -> None:
        """Wait (virtual time, looking every `every` s) until nothing is pending."""
        with trio.fail_after(limit):
            while await self.pending():  # noqa: ASYNC110 (the store has no event to wait on)
                await trio.sleep(every)


def config(url: str, extra: str = "") -> str:
    return textwrap.dedent(f"""
        channels:
          - {{id: hook, type: webhook, url: "{url}", retry_for: 1h}}
          {extra}
        services:
          - {{id: api, channels: [hook]}}
        routes:
          - service: api
        """)


@pytest.fixture
async def harness(tmp_path: Path, nursery: trio.Nursery) -> AsyncIterator[Harness]:
    receiver = CountingWebhook()
    await nursery.start(serve_fake, receiver)
    (tmp_path / "router.yaml").write_text(config(receiver.url))
    disk = full_disk()
    store = await Store.open(tmp_path / "router.db", synchronous="NORMAL",
                             writer_factory=disk)
    engine = Engine(load_config([tmp_path / "router.yaml"]), store, TrioClock(EPOCH))
    transport = Transport()
    deliverer = Deliverer(store, engine.clock, lambda: engine.snapshot.config, transport,
                          jitter=lambda: 0.0, rescan=timedelta(hours=1))
    engine.outbox_written = deliverer.wake
    scope = await start_stoppable(nursery, deliverer.run)
    yield Harness(store, engine, deliverer, disk, receiver)
    scope.cancel()
    await transport.aclose()
    await store.close()


async def test_a_result_that_cannot_be_committed_is_not_sent_again_and_backs_off(
        clock: trio.testing.MockClock, harness: Harness,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="router")
    await harness.alert("disk full")
    harness.disk.full = True  # before the deliverer's first look: its result cannot commit
    # jitter 0: the claim is refused and the page sent all the same, unclaimed (issue 18);
    # its result is committed again after 2.5 s, 5 s, 10 s, 20 s, ...
    refused = []
    for seconds in (1, 3, 8, 18, 38, 60):
        await harness.watch(seconds - trio.current_time())
        refused.append(harness.disk.refused)
    assert len(harness.receiver.requests) == 1
    assert refused == [2, 3, 4, 5, 6, 6]  # the claim and the result at once, then the result
    assert await harness.pending() == 1  # nothing lost
    assert not [record for record in caplog.records if record.exc_info]
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(errors) <= 6  # one line per cause every ten seconds


async def test_when_the_store_writes_again_the_held_result_is_committed_at_once(
        clock: trio.testing.MockClock, harness: Harness) -> None:
    first = await harness.alert("disk full")
    harness.disk.full = True
    await harness.watch(30)
    harness.disk.full = False
    start = trio.current_time()
    second = await harness.alert("disk still full")  # a write succeeds: wakes the deliverer
    await harness.settled(5, 0.1)
    assert trio.current_time() - start < 1  # not at the next step of the backoff (37.5 s)
    log = await harness.log()
    assert [(item.incident_number, item.outcome, item.attempt) for item in log] == [
        (1, "delivered", 1), (2, "delivered", 1)]
    assert (first, second) == ("INC1", "INC2")
    assert len(harness.receiver.requests) == 2  # the first was never sent again


async def test_a_failed_send_whose_retry_cannot_be_committed_is_retried_on_the_backoff(
        clock: trio.testing.MockClock, harness: Harness) -> None:
    harness.receiver.answer_next(*[replace_status(500)] * 3)
    await harness.alert("disk full")
    await harness.watch(0.5)  # the first attempt failed and its retry was committed
    harness.disk.full = True
    await harness.watch(120)
    # attempt 2 at 2.5 s (its result held), then nothing until the disk has room again
    assert len(harness.receiver.requests) == 2
    harness.disk.full = False
    await harness.settled(600, 1)
    log = await harness.log()
    assert [(item.outcome, item.attempt) for item in log] == [
        ("retry", 1), ("retry", 2), ("retry", 3), ("delivered", 4)]


async def test_a_removed_channel_on_a_full_disk_does_not_stop_the_other_channels(
        clock: trio.testing.MockClock, harness: Harness, tmp_path: Path) -> None:
    other = CountingWebhook()
    async with trio.open_nursery() as nursery:
        await nursery.start(serve_fake, other)
        url = harness.receiver.url
        text = config(url, extra=f'- {{id: old, type: webhook, url: "{other.url}"}}')
        text = text.replace("channels: [hook]", "channels: [hook, old]")
        (tmp_path / "router.yaml").write_text(text)
        harness.engine.use_config(load_config([tmp_path / "router.yaml"]))
        other.answer_next(replace_status(503))
        await harness.alert("disk full")
        await harness.watch(1)
        harness.disk.full = True
        (tmp_path / "router.yaml").write_text(config(url))
        harness.engine.use_config(load_config([tmp_path / "router.yaml"]))  # removes `old`
        harness.deliverer.wake()
        await harness.watch(30)  # the deliverer could not fail `old`'s notification
        harness.disk.full = False
        await harness.alert("disk has room")
        await harness.settled(2 * 3600, 60)  # the next rescan (every hour here) fails it
        nursery.cancel_scope.cancel()
    assert len(harness.receiver.requests) == 2  # the deliverer went on: both alerts sent
    failed = [item for item in await harness.log() if item.channel == "old"]
    assert failed[-1].outcome == "failed"
    assert failed[-1].error == "channel 'old' is no longer in the config"


def replace_status(status: int) -> Answer:
    return replace(Answer(), status=status)


class UnreadableStore(Store):
    """A store whose reads fail as on a disk I/O error while `failing` is set."""

    failing = False
    reads = 0

    async def read(self, query: Callable[[Reader], T]) -> T:
        self.reads += 1
        if self.failing:
            raise StoreUnavailable("disk I/O error")
        return await super().read(query)


async def test_an_outbox_that_cannot_be_read_backs_the_deliverer_off(
        clock: trio.testing.MockClock, tmp_path: Path, nursery: trio.Nursery) -> None:
    receiver = CountingWebhook()
    await nursery.start(serve_fake, receiver)
    (tmp_path / "router.yaml").write_text(config(receiver.url))
    store = await UnreadableStore.open(tmp_path / "router.db", synchronous="NORMAL")
    engine = Engine(load_config([tmp_path / "router.yaml"]), store, TrioClock(EPOCH))
    transport = Transport()
    deliverer = Deliverer(store, engine.clock, lambda: engine.snapshot.config, transport,
                          jitter=lambda: 0.0, rescan=timedelta(hours=1))
    engine.outbox_written = deliverer.wake
    store.failing = True
    scope = await start_stoppable(nursery, deliverer.run)
    await trio.sleep(60)
    # jitter 0: passes at 0 (two reads: removed channels, then the outbox), 2.5, 7.5, 17.5
    # and 37.5 s; the deliverer did not die either
    assert store.reads == 6
    store.failing = False
    await engine.ingest([Alert(summary="disk full", source="test",
                               severity=Severity.CRITICAL, labels={"alertname": "disk"})])
    with trio.fail_after(120):
        while not receiver.accepted:  # noqa: ASYNC110 (the fake has no event to wait on)
            await trio.sleep(1)
    scope.cancel()
    await transport.aclose()
    await store.close()
