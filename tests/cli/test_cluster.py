"""`router cluster`, run through the CLI's `main` against a real SQLite store seeded with
nodes' beats (no config: the store alone): each node's state by this host's clock, as a
table and as JSON, and a warning when the nodes that are up run different configs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trio

from router.store import DATABASE_NAME, Store
from router.store.values import NodeRecord
from tests.cli.conftest import run

STARTED = datetime(2026, 12, 5, 18, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def no_config_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run where there is no ./config, as on a host that has only the store."""
    monkeypatch.chdir(tmp_path)


def seed(state: Path, *beats: tuple[str, str, float]) -> None:
    """Each (id, config revision, seconds since its last beat) as a node's row."""
    async def work() -> None:
        store = await Store.open(state / DATABASE_NAME)
        now = datetime.now(UTC)
        try:
            for node_id, revision, seconds_ago in beats:
                record = NodeRecord(id=node_id, host=f"{node_id}.example.net", pid=42,
                                    started_at=STARTED, config_revision=revision,
                                    last_beat=now - timedelta(seconds=seconds_ago))
                await store.write(lambda transaction, node=record: transaction.nodes.beat(node))
        finally:
            await store.close()

    trio.run(work)


def test_the_nodes_as_a_table_and_as_json(state: Path) -> None:
    seed(state, ("router-b", "r1", 1), ("router-a", "r1", 3), ("router-c", "r2", 60))
    code, out, err = run("cluster", "--state", str(state))
    assert (code, err) == (0, "")  # router-c runs another config, but it is down
    lines = out.splitlines()
    assert lines[0] == ("NODE      HOST                  PID  STATE  CONFIG  LAST BEAT"
                        "             STARTED               CLAIMED")
    assert [line.split()[:5] + line.split()[6:] for line in lines[1:]] == [
        ["router-a", "router-a.example.net", "42", "up", "r1", "2026-12-05T18:00:00Z", "0"],
        ["router-b", "router-b.example.net", "42", "up", "r1", "2026-12-05T18:00:00Z", "0"],
        ["router-c", "router-c.example.net", "42", "down", "r2", "2026-12-05T18:00:00Z", "0"]]

    code, out, err = run("cluster", "--state", str(state), "--format", "json")
    listed = json.loads(out)
    assert (code, err, listed["self"]) == (0, "", None)
    assert [(node["id"], node["state"], node["self"], node["work"])
            for node in listed["nodes"]] == [
        ("router-a", "up", False, {"claimed_notifications": 0}),
        ("router-b", "up", False, {"claimed_notifications": 0}),
        ("router-c", "down", False, {"claimed_notifications": 0})]


def test_up_nodes_on_different_configs_are_a_warning(state: Path) -> None:
    seed(state, ("router-a", "0123456789ab", 1), ("router-b", "ba9876543210", 2))
    code, out, err = run("cluster", "--state", str(state))
    assert (code, len(out.splitlines())) == (0, 3)
    assert err == ("router cluster: warning: the routers that are up run 2 different config "
                   "revisions (0123456789ab, ba9876543210): they route and escalate by "
                   "different rules until each loads the same files\n")


def test_an_empty_cluster_says_so(state: Path) -> None:
    seed(state)
    code, out, err = run("cluster", "--state", str(state))
    assert (code, out, err) == (
        0, "no router has beat in this store (a running daemon beats every 5 s)\n", "")


def test_no_store_is_a_clear_error(tmp_path: Path) -> None:
    code, out, err = run("cluster", "--state", str(tmp_path / "nowhere"))
    assert code == 1 and out == ""
    assert err.startswith("router cluster: found neither a store")
