"""GET /v1/cluster (issue 18 D5), over real loopback HTTP to the API on a real SQLite store:
every node by id with its state judged at the answering node's now, which one answered, and
the read scope it needs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from router.engine import Engine
from router.store.values import NodeRecord
from tests.server.support import api_client, engine_on_disk

NOW = datetime(2026, 12, 5, 18, 30, tzinfo=UTC)
CONFIG = """
settings:
  ingest_tokens:
    - {name: reader, token: reader-token, scopes: [read]}
    - {name: sender, token: sender-token, scopes: [ingest]}
channels: [{id: log, type: log}]
services: [{id: web, channels: [log]}]
"""
READER = {"authorization": "Bearer reader-token"}


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with engine_on_disk(tmp_path, CONFIG, NOW) as engine:
        yield engine


@pytest.fixture
async def http(engine: Engine) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(engine) as client:
        yield client


def beat(node_id: str, revision: str, seconds_ago: float) -> NodeRecord:
    return NodeRecord(id=node_id, host=f"{node_id}.example.net", pid=10,
                      started_at=NOW - timedelta(hours=1), config_revision=revision,
                      last_beat=NOW - timedelta(seconds=seconds_ago))


async def test_the_nodes_with_their_state_and_which_one_answered(
        engine: Engine, http: httpx.AsyncClient) -> None:
    answer = await http.get("/v1/cluster", headers=READER)
    assert (answer.status_code, answer.json()) == (200, {"self": None, "nodes": []})

    engine.cluster.own = "router-b"  # what its beating task sets
    for node in (beat("router-c", "r2", 15.5), beat("router-b", "r1", 0),
                 beat("router-a", "r1", 15)):
        await engine.cluster.beat(node)
    answer = await http.get("/v1/cluster", headers=READER)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"self": "router-b", "nodes": [
        {"id": "router-a", "host": "router-a.example.net", "pid": 10,
         "started_at": "2026-12-05T17:30:00+00:00", "config_revision": "r1",
         "last_beat": "2026-12-05T18:29:45+00:00", "state": "up", "self": False,
         "work": {"claimed_notifications": 0}},
        {"id": "router-b", "host": "router-b.example.net", "pid": 10,
         "started_at": "2026-12-05T17:30:00+00:00", "config_revision": "r1",
         "last_beat": "2026-12-05T18:30:00+00:00", "state": "up", "self": True,
         "work": {"claimed_notifications": 0}},
        {"id": "router-c", "host": "router-c.example.net", "pid": 10,
         "started_at": "2026-12-05T17:30:00+00:00", "config_revision": "r2",
         "last_beat": "2026-12-05T18:29:44.500000+00:00", "state": "down", "self": False,
         "work": {"claimed_notifications": 0}}]}


@pytest.mark.parametrize(("headers", "status"), [
    ({}, 401), ({"authorization": "Bearer sender-token"}, 403), (READER, 200)])
async def test_it_needs_the_read_scope(http: httpx.AsyncClient, headers: dict[str, str],
                                       status: int) -> None:
    assert (await http.get("/v1/cluster", headers=headers)).status_code == status
