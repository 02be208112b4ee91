"""The cluster's nodes (engine/cluster.py, issue 18 D5): two engines on one real SQLite store
stand for two routers on one database, under trio's MockClock. A node beats every 5 s and is
down once three beats are missing; a node whose config revision differs from another's that
is up is one WARNING per change (not per beat) on each side and the mismatch metric; a node
that stops cleanly leaves the list."""

from __future__ import annotations

import logging
import textwrap
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from router.clock import TrioClock
from router.config import load_config
from router.config.model import Config
from router.daemon.metrics import Metrics
from router.engine import Engine
from router.engine.cluster import Identity, cluster_json
from router.store import Store
from router.store.values import NodeRecord
from tests.tasks import start_stoppable

START = datetime(2026, 12, 5, 18, 0, tzinfo=UTC)
CONFIG = """
settings: {timezone: UTC}
channels: [{id: log, type: log}]
services: [{id: web, channels: [log]}]
routes: [{service: web}]
"""


@dataclass
class Node:
    """One router: its engine on the shared store, and the revision its config hashes to."""

    engine: Engine
    identity: Identity
    revision: str
    hashed: int = 0

    async def hash(self, config: Config) -> str:
        self.hashed += 1
        return self.revision

    async def start(self, nursery: trio.Nursery) -> trio.CancelScope:
        async def run(task_status: trio.TaskStatus[None]) -> None:
            await self.engine.cluster.run(self.identity, self.hash, task_status=task_status)
        return await start_stoppable(nursery, run)


@pytest.fixture
def clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0.05)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    (tmp_path / "router.yaml").write_text(textwrap.dedent(CONFIG))
    opened = await Store.open(tmp_path / "router.db", synchronous="NORMAL")
    yield opened
    await opened.close()


def node(tmp_path: Path, store: Store, node_id: str, revision: str) -> Node:
    engine = Engine(load_config([tmp_path / "router.yaml"]), store, TrioClock(START))
    return Node(engine, Identity(id=node_id, host=f"{node_id}.example.net", pid=100,
                                 started_at=START), revision)


def states(listed: dict[str, Any]) -> dict[str, str]:
    return {item["id"]: item["state"] for item in listed["nodes"]}


def seconds(engine: Engine) -> float:
    return round((engine.now() - START).total_seconds(), 3)


async def test_a_node_is_down_once_three_beats_are_missing(
        tmp_path: Path, store: Store, nursery: trio.Nursery,
        clock: trio.testing.MockClock) -> None:
    a, b = node(tmp_path, store, "router-a", "r1"), node(tmp_path, store, "router-b", "r1")
    await a.start(nursery)  # beats at 0, 5, 10, ...
    await b.engine.cluster.beat(NodeRecord(  # one beat, then b dies without leaving
        id="router-b", host="b", pid=7, started_at=START, config_revision="r1",
        last_beat=START))
    listed = cluster_json(await a.engine.cluster.view())
    assert listed == {"self": "router-a", "nodes": [
        {"id": "router-a", "host": "router-a.example.net", "pid": 100,
         "started_at": "2026-12-05T18:00:00+00:00", "config_revision": "r1",
         "last_beat": "2026-12-05T18:00:00+00:00", "state": "up", "self": True,
         "work": {"claimed_notifications": 0}},
        {"id": "router-b", "host": "b", "pid": 7, "started_at": "2026-12-05T18:00:00+00:00",
         "config_revision": "r1", "last_beat": "2026-12-05T18:00:00+00:00", "state": "up",
         "self": False, "work": {"claimed_notifications": 0}}]}

    await trio.sleep(14.9)
    assert states(cluster_json(await a.engine.cluster.view())) == {
        "router-a": "up", "router-b": "up"}
    await trio.sleep(0.2)  # 15.1 s: the beats at 5, 10 and 15 are missing
    assert seconds(a.engine) == 15.1
    assert states(cluster_json(await a.engine.cluster.view())) == {
        "router-a": "up", "router-b": "down"}
    await trio.sleep(3600)
    view = await b.engine.cluster.view()  # as any reader sees it: no node of its own
    assert (view.own, [(member.node.id, member.state) for member in view.members]) == (
        None, [("router-a", "up"), ("router-b", "down")])
    assert a.engine.now() - view.members[0].node.last_beat <= timedelta(seconds=5)
    assert a.hashed == 1, "the config is hashed once, not at every beat"


async def test_a_config_mismatch_is_one_warning_per_change_and_the_metric(
        tmp_path: Path, store: Store, nursery: trio.Nursery, clock: trio.testing.MockClock,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="router.engine.cluster")
    a, b = node(tmp_path, store, "router-a", "aaaa"), node(tmp_path, store, "router-b", "bbbb")
    metrics = Metrics(store, version="1", cluster=a.engine.cluster.view, process=False)
    await a.start(nursery)
    assert caplog.messages == []  # alone: nothing to disagree with
    stop_b = await b.start(nursery)
    await trio.sleep(30)  # six beats each
    assert [(record.levelname, record.getMessage()) for record in caplog.records] == [
        ("WARNING", "config mismatch: this node (router-b) runs config revision bbbb, "
                    "router-a runs aaaa; the nodes route and escalate by different rules "
                    "until each loads the same files"),
        ("WARNING", "config mismatch: this node (router-a) runs config revision aaaa, "
                    "router-b runs bbbb; the nodes route and escalate by different rules "
                    "until each loads the same files")]
    assert caplog.records[1].differing == {"router-b": "bbbb"}  # type: ignore[attr-defined]
    text = (await metrics.exposition()).decode()
    assert "router_cluster_config_mismatch 1.0" in text
    assert 'router_cluster_nodes{state="up"} 2.0' in text

    caplog.clear()
    b.revision = "aaaa"  # b reloads the files a runs
    b.engine.use_config(load_config([tmp_path / "router.yaml"]))
    await trio.sleep(30)
    assert sorted(caplog.messages) == [
        "config revisions agree again: every node that is up runs aaaa"] * 2
    assert "router_cluster_config_mismatch 0.0" in (await metrics.exposition()).decode()

    caplog.clear()
    stop_b.cancel()  # a clean stop: b leaves the list
    await trio.sleep(10)
    assert states(cluster_json(await a.engine.cluster.view())) == {"router-a": "up"}
    assert caplog.messages == []
    text = (await metrics.exposition()).decode()
    assert 'router_cluster_nodes{state="up"} 1.0' in text
    assert 'router_cluster_nodes{state="down"} 0.0' in text


async def test_a_mismatch_with_a_node_that_is_down_is_none(
        tmp_path: Path, store: Store, nursery: trio.Nursery, clock: trio.testing.MockClock,
        caplog: pytest.LogCaptureFixture) -> None:
    a = node(tmp_path, store, "router-a", "aaaa")
    await a.engine.cluster.beat(NodeRecord(  # died on an old config an hour ago
        id="router-old", host="old", pid=7, started_at=START - timedelta(hours=2),
        config_revision="0000", last_beat=START - timedelta(hours=1)))
    await a.start(nursery)
    await trio.sleep(20)
    assert [record for record in caplog.records if record.levelno >= logging.WARNING] == []
    assert (await a.engine.cluster.view()).disagreeing() == []
