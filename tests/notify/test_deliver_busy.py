"""A claim that lost a conflict with another node's transaction (issue 18): on PostgreSQL a
deadlock or serialization failure that outlives the store's one retry is StoreBusy. The
deliverer must not send what it could not claim (unlike a full disk, where it sends
unclaimed): the other node may hold the same notification. It skips the pass and claims
again. A real SQLite store whose claim units fail with StoreBusy the first times, a real
webhook receiver on loopback, and trio's MockClock.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest
import trio
import trio.testing

from router.alerts.model import Alert, Severity
from router.clock import TrioClock
from router.config import load_config
from router.engine import Engine
from router.errors import StoreBusy
from router.notify.deliver import Deliverer
from router.notify.transport import Transport
from router.store import Store, Transaction
from tests.fakes import serve_fake
from tests.fakes.webhook import FakeWebhook
from tests.tasks import start_stoppable

T = TypeVar("T")
EPOCH = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


class BusyClaims:
    """The store, but its first `busy` claim units fail as a lost conflict would."""

    def __init__(self, store: Store, busy: int) -> None:
        self.store, self.busy, self.refused = store, busy, 0

    async def write(self, work: Callable[[Transaction], T]) -> T:
        if getattr(work, "__name__", "") == "claim" and self.refused < self.busy:
            self.refused += 1
            raise StoreBusy("deadlock detected")
        return await self.store.write(work)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


@pytest.fixture
def clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0.05)


async def test_a_claim_that_lost_a_conflict_sends_nothing_until_claimed(
        clock: trio.testing.MockClock, tmp_path: Path, nursery: trio.Nursery) -> None:
    receiver = FakeWebhook()
    await nursery.start(serve_fake, receiver)
    (tmp_path / "router.yaml").write_text(textwrap.dedent(f"""
        channels:
          - {{id: hook, type: webhook, url: "{receiver.url}"}}
        services:
          - {{id: api, channels: [hook]}}
        routes:
          - service: api
        """))
    store = await Store.open(tmp_path / "router.db", synchronous="NORMAL")
    busy = BusyClaims(store, busy=2)
    engine = Engine(load_config([tmp_path / "router.yaml"]), store, TrioClock(EPOCH))
    transport = Transport()
    deliverer = Deliverer(cast(Store, busy), engine.clock, lambda: engine.snapshot.config,
                          transport, jitter=lambda: 0.0, rescan=timedelta(hours=1))
    engine.outbox_written = deliverer.wake
    await engine.ingest([Alert(summary="disk full", source="test",
                               severity=Severity.CRITICAL, labels={"alertname": "disk"})])
    scope = await start_stoppable(nursery, deliverer.run)
    try:
        with trio.move_on_after(0.5):  # the first claim lost: nothing is sent unclaimed
            await trio.sleep_forever()
        assert busy.refused >= 1
        assert receiver.requests == []
        with trio.move_on_after(60):  # claimed on a later pass, sent once
            await trio.sleep_forever()
        assert busy.refused == 2
        assert len(receiver.requests) == 1
        counts = await store.read(lambda reader: reader.outbox.counts())
        assert counts.get("pending", 0) == 0
    finally:
        scope.cancel()
        await transport.aclose()
        await store.close()
