"""The cluster end to end (issue 18 item 5's third bullet, on SQLite): `router run` as a
subprocess beats into its store; a second node, written into the same store by this test
with another config revision, makes the daemon log one WARNING and expose the mismatch
metric; `GET /v1/cluster` and `router cluster` (text and JSON) show both nodes; a clean stop
takes the daemon's node off the list. (Several daemons on one PostgreSQL database: tests/ha/.)
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

import pytest
import trio
from prometheus_client.parser import text_string_to_metric_families

from router.store import DATABASE_NAME, Store
from router.store.values import NodeRecord
from tests.e2e.conftest import Daemon, wait_until

OTHER = "router-other"
MISMATCH = "config mismatch: this node ({node}) runs config revision {revision}, " \
           f"{OTHER} runs ffffffffffff"


def cluster(daemon: Daemon) -> dict[str, Any]:
    with daemon.client() as client:
        answer = client.get("/v1/cluster")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def router_cluster(daemon: Daemon, *options: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "router", "cluster", "--state", str(daemon.state_dir),
         *options], capture_output=True, text=True, timeout=60, check=False,
        cwd=daemon.state_dir)  # no ./config here: the store alone
    assert done.returncode == 0, done.stderr
    return done


def beat_other_node(daemon: Daemon) -> None:
    """Another router's beat, written into the daemon's store (WAL: both may write)."""
    async def beat() -> None:
        store = await Store.open(daemon.state_dir / DATABASE_NAME)
        try:
            now = datetime.now(UTC)
            await store.write(lambda transaction: transaction.nodes.beat(NodeRecord(
                id=OTHER, host="other.example.net", pid=4242, started_at=now,
                config_revision="ffffffffffff", last_beat=now)))
        finally:
            await store.close()
    trio.run(beat)


def mismatch_metric(daemon: Daemon) -> tuple[float, float]:
    """router_cluster_config_mismatch and router_cluster_nodes{state="up"} now."""
    with daemon.client() as client:
        text = client.get("/metrics").text
    samples = {(sample.name, tuple(sample.labels.items())): sample.value
               for family in text_string_to_metric_families(text)
               for sample in family.samples}
    return (samples["router_cluster_config_mismatch", ()],
            samples["router_cluster_nodes", (("state", "up"),)])


# sqlite_only: it writes a second node's beat into the daemon's SQLite file; the cluster
# view on PostgreSQL, with real nodes, is tests/ha/test_cluster_view.py
@pytest.mark.sqlite_only
def test_the_cluster_shows_every_node_and_a_mismatch(daemon: Daemon) -> None:
    host = socket.gethostname()
    assert daemon.process is not None
    [own] = cluster(daemon)["nodes"]  # it beat before it reported listening
    assert (own["id"], own["host"], own["pid"], own["state"], own["self"], own["work"]) == (
        host, host, daemon.process.pid, "up", True, {"claimed_notifications": 0})
    revision = own["config_revision"]
    assert re.fullmatch(r"[0-9a-f]{12}", revision)
    assert mismatch_metric(daemon) == (0.0, 1.0)

    beat_other_node(daemon)
    expected = MISMATCH.format(node=host, revision=revision)
    wait_until(lambda: expected in daemon.log(), timeout=10,
               what=lambda: f"the mismatch warning; log:\n{daemon.log()}")
    beat_other_node(daemon)  # again before each look: a loaded host may take 15 s
    assert mismatch_metric(daemon) == (1.0, 2.0)
    listed = cluster(daemon)
    assert listed["self"] == host
    assert [(node["id"], node["config_revision"], node["state"], node["self"])
            for node in listed["nodes"]] == sorted([
                (host, revision, "up", True), (OTHER, "ffffffffffff", "up", False)])

    beat_other_node(daemon)
    printed = json.loads(router_cluster(daemon, "--format", "json").stdout)
    assert printed["self"] is None
    assert {node["id"]: node["state"] for node in printed["nodes"]} == {
        host: "up", OTHER: "up"}
    beat_other_node(daemon)
    text = router_cluster(daemon)
    lines = text.stdout.splitlines()
    assert lines[0].split() == ["NODE", "HOST", "PID", "STATE", "CONFIG", "LAST", "BEAT",
                                "STARTED", "CLAIMED"]
    assert any(line.split()[:5] == [OTHER, "other.example.net", "4242", "up", "ffffffffffff"]
               for line in lines[1:])
    assert text.stderr.startswith("router cluster: warning: the routers that are up run 2 "
                                  "different config revisions")

    time.sleep(6)  # another beat or two: the same mismatch is not logged again
    assert daemon.log().count("config mismatch") == 1

    daemon.stop()  # a clean stop leaves the cluster
    printed = json.loads(router_cluster(daemon, "--format", "json").stdout)
    assert [node["id"] for node in printed["nodes"]] == [OTHER]
