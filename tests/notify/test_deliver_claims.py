"""Several routers on one store share its outbox (issue 18 item 4): each notification is sent by
the node that claimed it, a node that dies mid-send leaves a lease that another node takes
once it ran out (the one window in which a page is sent twice), a restart under the same
node id sends at once, and a channel's rate limit holds for the nodes together.

Each node is a Deliverer with its own Store object on one SQLite file (two processes'
worth), a real webhook receiver on loopback counts the requests per notification id, and
trio's MockClock lets the 60 s lease pass in milliseconds.
"""

from __future__ import annotations

import itertools
import textwrap
from collections import Counter
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
from router.notify.deliver import Deliverer
from router.notify.transport import Sent, Transport
from router.notify.wire import Request
from router.store import Store
from tests.fakes import Answer, serve_fake
from tests.fakes.webhook import FakeWebhook
from tests.tasks import start_stoppable

EPOCH = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
LEASE = 60.0
"""settings.delivery.lease's default, in seconds."""


@pytest.fixture
def clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0.05)


class NodeTransport(Transport):
    """The real transport, noting which node began each send and when (trio time)."""

    def __init__(self, node: str, sends: list[tuple[str, float]]) -> None:
        super().__init__()
        self.node, self.sends = node, sends

    async def send(self, request: Request) -> Sent:
        self.sends.append((self.node, trio.current_time()))
        return await super().send(request)


class Node:
    """One router's deliverer and store; stops (a crash, as far as its claims in flight
    go) and starts again."""

    def __init__(self, cluster: Cluster, node: str) -> None:
        self.cluster, self.node = cluster, node
        self.scope: trio.CancelScope | None = None

    async def start(self) -> None:
        cluster = self.cluster
        self.store = await Store.open(cluster.path, synchronous="NORMAL")
        self.transport = NodeTransport(self.node, cluster.sends)
        self.deliverer = Deliverer(self.store, cluster.engine.clock,
                                   lambda: cluster.engine.snapshot.config, self.transport,
                                   jitter=lambda: 0.0, rescan=cluster.rescan, node=self.node)
        self.scope = await start_stoppable(cluster.nursery, self.deliverer.run)

    async def stop(self) -> None:
        assert self.scope is not None
        self.scope.cancel()
        await trio.sleep(0.1)  # its last unit (the release of unsent claims) commits
        await self.transport.aclose()
        await self.store.close()
        self.scope = None


class Cluster:
    """An engine writing the outbox, and the nodes delivering it; every commit of the
    engine's wakes every running node."""

    def __init__(self, tmp_path: Path, nursery: trio.Nursery, url: str) -> None:
        self.path = tmp_path / "router.db"
        self.config = tmp_path / "router.yaml"
        self.nursery = nursery
        self.url = url
        self.sends: list[tuple[str, float]] = []
        self.nodes: list[Node] = []
        self.rescan = timedelta(hours=1)  # no rescans: only wakes and leases move a node

    async def open(self, channel: str = "") -> None:
        self.config.write_text(textwrap.dedent(f"""
            channels:
              - {{id: hook, type: webhook, url: "{self.url}", retry_for: 1h{channel}}}
            services:
              - {{id: api, channels: [hook]}}
            routes:
              - service: api
            """))
        self.store = await Store.open(self.path, synchronous="NORMAL")
        self.engine = Engine(load_config([self.config]), self.store, TrioClock(EPOCH))
        self.engine.outbox_written = self.wake

    def wake(self) -> None:
        for node in self.nodes:
            if node.scope is not None:
                node.deliverer.wake()

    async def node(self, name: str) -> Node:
        node = Node(self, name)
        await node.start()
        self.nodes.append(node)
        return node

    async def alerts(self, count: int, first: int = 0) -> None:
        """`count` new alerts (instances `first`, `first + 1`, ...): an incident each."""
        await self.engine.ingest([
            Alert(summary="disk full", source="test", severity=Severity.CRITICAL,
                  labels={"alertname": "disk full", "instance": str(number)})
            for number in range(first, first + count)])

    async def settled(self, limit: float = 600) -> dict[str, int]:
        with trio.fail_after(limit):
            while True:
                counts = await self.store.read(lambda reader: reader.outbox.counts())
                if not counts.get("pending"):
                    return counts
                await trio.sleep(1)

    async def close(self) -> None:
        for node in self.nodes:
            if node.scope is not None:
                await node.stop()
        await self.store.close()


@pytest.fixture
async def receiver(nursery: trio.Nursery) -> FakeWebhook:
    receiver = FakeWebhook()
    await nursery.start(serve_fake, receiver)
    return receiver


@pytest.fixture
async def cluster(tmp_path: Path, nursery: trio.Nursery,
                  receiver: FakeWebhook) -> AsyncIterator[Cluster]:
    cluster = Cluster(tmp_path, nursery, receiver.url)
    yield cluster
    await cluster.close()


def sends_of(receiver: FakeWebhook) -> Counter[str]:
    """Requests the receiver got, by notification id."""
    return Counter(request.headers["x-router-notification"] for request in receiver.requests)


def times_of(receiver: FakeWebhook, notification_id: str) -> list[float]:
    return [request.time for request in receiver.requests
            if request.headers["x-router-notification"] == notification_id]


async def test_two_nodes_on_one_store_send_each_page_once(
        clock: trio.testing.MockClock, cluster: Cluster, receiver: FakeWebhook) -> None:
    await cluster.open()
    await cluster.node("a")
    await cluster.node("b")
    for batch in range(5):  # each commit wakes both nodes at once
        await cluster.alerts(4, first=4 * batch)
        await trio.sleep(0.01)
    assert await cluster.settled() == {"delivered": 20}
    sent = sends_of(receiver)
    assert len(sent) == 20 and set(sent.values()) == {1}


async def test_a_node_that_dies_mid_send_leaves_its_page_to_another_after_the_lease(
        clock: trio.testing.MockClock, cluster: Cluster, receiver: FakeWebhook) -> None:
    """Node a claims two pages of a channel that sends one at a time and dies while the
    first is in flight: the second, not sent, is released as it stops and node b sends it
    at once; the first (it may have arrived) is b's only once a's lease ran out, and then
    it is sent a second time: the repeat happens inside the lease window, measured."""
    await cluster.open(", concurrency: 1")
    receiver.answer_next(Answer(delay=30))  # a's first send hangs
    dying = await cluster.node("a")
    await cluster.alerts(2)
    with trio.fail_after(5):
        while len(receiver.requests) < 1:  # noqa: ASYNC110 (the fake has no event to wait on)
            await trio.sleep(0.05)
    [first_id] = sends_of(receiver)
    claimed_at = receiver.requests[0].time
    await dying.stop()
    await cluster.node("b")
    assert await cluster.settled() == {"delivered": 2}
    sent = sends_of(receiver)
    [second_id] = set(sent) - {first_id}
    assert (sent[first_id], sent[second_id]) == (2, 1)
    assert times_of(receiver, second_id)[0] - claimed_at < 2  # released: at once
    repeat = times_of(receiver, first_id)[1] - claimed_at
    assert LEASE - 1 <= repeat <= LEASE + 1, repeat  # not before the lease ran out


async def test_a_restart_under_the_same_node_id_sends_at_once(
        clock: trio.testing.MockClock, cluster: Cluster, receiver: FakeWebhook) -> None:
    await cluster.open()
    receiver.answer_next(Answer(delay=30))
    node = await cluster.node("a")
    await cluster.alerts(1)
    with trio.fail_after(5):
        while len(receiver.requests) < 1:  # noqa: ASYNC110 (the fake has no event to wait on)
            await trio.sleep(0.05)
    await node.stop()
    stopped = trio.current_time()
    await node.start()  # its own claims are released as it starts: no wait for the lease
    assert await cluster.settled() == {"delivered": 1}
    [notification_id] = sends_of(receiver)
    first, again = times_of(receiver, notification_id)
    assert again - stopped < 2, (first, again, stopped)


async def test_a_rate_limit_holds_for_two_nodes_together(
        clock: trio.testing.MockClock, cluster: Cluster, receiver: FakeWebhook) -> None:
    """`rate: 1` is one send a second through the channel, whichever node sends: each claim
    takes its instants from the channel's pace in the store."""
    await cluster.open(", rate: 1, concurrency: 4")  # each node claims a slot's worth at a time
    await cluster.node("a")
    await cluster.node("b")
    await cluster.alerts(10)
    assert await cluster.settled() == {"delivered": 10}
    assert set(sends_of(receiver).values()) == {1}
    starts = sorted(time for _, time in cluster.sends)
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert len(starts) == 10 and min(gaps) >= 0.99, gaps
    assert {node for node, _ in cluster.sends} == {"a", "b"}  # both sent, together at 1/s
