"""The routers that share one store, as a cluster (room: engine; imports core, store, clock):
each node's beats, the nodes with their state, and a config that differs (issue 18 D5).

A node is one `router run` with an id (`--node-id`, by default the host name). Its `run` task
writes a beat every BEAT_EVERY: its id, host, pid, start and the revision of the config it
runs, in one small unit of its own. Nobody marks a node down: a reader judges each node from
its last beat and the reader's own clock (core/cluster.py), so a node that was killed shows
as down three beats later, on every other node, with no election and no cleanup. A node
that stops cleanly forgets its row on the way out; one that is killed keeps it, shown down,
until it starts again under the same id.

After each beat the node compares its config revision with the other nodes that are up:
when the set of those that differ changes it logs one WARNING naming them (and one INFO
once they agree again), not one line per beat. `GET /metrics` reads the same comparison at
each scrape (router/daemon/metrics.py). Hosts' clocks must agree to well under
3 x BEAT_EVERY (NTP does): a node whose clock is further behind looks down to the others.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import trio

from router.config.model import Config
from router.core.cluster import BEAT_EVERY, NodeState, disagreeing, node_state
from router.engine.state import EngineState
from router.engine.views import instant_json
from router.errors import StoreUnavailable
from router.store import Transaction
from router.store.values import NodeRecord

logger = logging.getLogger(__name__)

Revision = Callable[[Config], Awaitable[str]]
"""The revision of a config (the daemon's: a hash of its files, as the status page shows)."""
LEAVE_TIMEOUT = 2.0
"""Seconds a stopping node waits for the store to forget its row before it gives up."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Identity:
    """Who a node is, fixed for the life of its process."""

    id: str
    host: str
    pid: int
    started_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Member:
    """A node as it last beat, and whether it is up now."""

    node: NodeRecord
    state: NodeState


@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterView:
    """Every node the store lists, by id; `own` is this process's node (None where no node
    beats: the CLI, or a daemon before its first beat)."""

    own: str | None
    members: tuple[Member, ...]

    def disagreeing(self) -> list[tuple[str, str]]:
        """(id, revision) of each other node that is up and runs a config revision other
        than this node's; empty without an own node."""
        own = next((member for member in self.members if member.node.id == self.own), None)
        if own is None:
            return []
        return disagreeing(own.node.config_revision, [
            (member.node.id, member.node.config_revision, member.state)
            for member in self.members if member is not own])

    def counts(self) -> dict[NodeState, int]:
        """How many nodes are up and down."""
        counts: dict[NodeState, int] = {"up": 0, "down": 0}
        for member in self.members:
            counts[member.state] += 1
        return counts


def cluster_json(view: ClusterView) -> dict[str, Any]:
    """`GET /v1/cluster` and `router cluster --format json`: {"self": id|null, "nodes":
    [{"id", "host", "pid", "started_at", "config_revision", "last_beat", "state" (up|down),
    "self": bool, "work": {"claimed_notifications": int|null}}]}, times ISO 8601 in UTC."""
    return {"self": view.own, "nodes": [{
        "id": member.node.id, "host": member.node.host, "pid": member.node.pid,
        "started_at": instant_json(member.node.started_at),
        "config_revision": member.node.config_revision,
        "last_beat": instant_json(member.node.last_beat), "state": member.state,
        "self": member.node.id == view.own,
        "work": {"claimed_notifications": member.node.claimed_notifications},
    } for member in view.members]}


class Cluster:
    """The nodes over the engine's state; `run` is the daemon's beating task."""

    def __init__(self, state: EngineState, *, every: timedelta = BEAT_EVERY) -> None:
        self._state = state
        self._every = every
        self.own: str | None = None
        """This process's node id, once its `run` started."""
        self._revision: tuple[Config, str] | None = None  # the last config hashed, and its hash
        self._noticed: tuple[str, list[tuple[str, str]]] = ("", [])  # what was logged last

    async def view(self) -> ClusterView:
        """Every node with its state now."""
        nodes = await self._state.store.read(lambda reader: reader.nodes.listed())
        return self._judged(nodes)

    async def beat(self, node: NodeRecord) -> ClusterView:
        """Write `node`'s beat and read every node, in one unit."""
        def work(transaction: Transaction) -> list[NodeRecord]:
            transaction.nodes.beat(node)
            return transaction.nodes.listed()
        return self._judged(await self._state.store.write(work))

    def _judged(self, nodes: list[NodeRecord]) -> ClusterView:
        now = self._state.clock.now()
        return ClusterView(own=self.own, members=tuple(
            Member(node=node, state=node_state(node.last_beat, now, self._every))
            for node in nodes))

    async def run(self, identity: Identity, revision: Revision, *,
                  task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Beat now (so the node is listed once the daemon reports it started) and every
        BEAT_EVERY until cancelled; then forget the node's row. A beat that fails (the
        store is down) is tried again at the next one: the node shows down meanwhile."""
        self.own = identity.id
        try:
            await self._beat_logged(identity, revision)
            task_status.started()
            while True:
                await trio.sleep(self._every.total_seconds())
                await self._beat_logged(identity, revision)
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(LEAVE_TIMEOUT):
                await self._leave(identity.id)

    async def _beat_logged(self, identity: Identity, revision: Revision) -> None:
        try:
            view = await self.beat(NodeRecord(
                id=identity.id, host=identity.host, pid=identity.pid,
                started_at=identity.started_at, config_revision=await self._revision_of(revision),
                last_beat=self._state.clock.now()))
        except StoreUnavailable:
            return  # the store logs its own failures, once per cause every 10 s
        except Exception:
            logger.exception("node %s could not beat; trying again in %s", identity.id,
                             self._every)
            return
        self._notice(view)

    async def _revision_of(self, revision: Revision) -> str:
        """The revision of the config in force, hashed once per config loaded."""
        config = self._state.snapshot.config
        if self._revision is None or self._revision[0] is not config:
            self._revision = (config, await revision(config))
        return self._revision[1]

    def _notice(self, view: ClusterView) -> None:
        """Log a change in which up nodes run another config than this one."""
        own = next((member.node for member in view.members if member.node.id == view.own),
                   None)
        if own is None:  # not listed (never so after its own beat): nothing to compare
            return
        differing = view.disagreeing()
        noticed = (own.config_revision, differing)
        if noticed == self._noticed:
            return
        before, self._noticed = self._noticed, noticed
        others = ", ".join(f"{node_id} runs {revision}" for node_id, revision in differing)
        if differing:
            logger.warning(
                "config mismatch: this node (%s) runs config revision %s, %s; the nodes "
                "route and escalate by different rules until each loads the same files",
                own.id, own.config_revision, others, extra={
                    "node": own.id, "config_revision": own.config_revision,
                    "differing": {node_id: revision for node_id, revision in differing}})
        elif before[1]:
            logger.info("config revisions agree again: every node that is up runs %s",
                        own.config_revision, extra={"node": own.id,
                                                    "config_revision": own.config_revision})

    async def _leave(self, node_id: str) -> None:
        try:
            await self._state.store.write(lambda transaction: transaction.nodes.remove(node_id))
        except StoreUnavailable:
            pass
        except Exception:
            logger.exception("node %s could not leave the cluster: it shows down until it "
                             "starts again", node_id)
