"""A node started with another config revision (issue 18 item 5, third bullet): three
routers on one PostgreSQL, two on the shared config directory and one on a copy that differs
by a comment. `GET /v1/cluster` on every node and `router cluster` (text and JSON) list all
three with their config revision, last beat and the work each holds; every node logs the
mismatch as a WARNING and exposes `router_cluster_config_mismatch` 1.

The work held is seen too: while the pager hangs on a page, the node that claimed it lists
that notification under `work.claimed_notifications`, and none once it is recorded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import wait_until
from tests.fakes import Answer
from tests.ha.cluster import Node, Pager, PagerDuty, Routers, alert, config, post_alerts

BEAT_AGE = timedelta(seconds=15)
"""A node that is up beat within the last three beats of 5 s (docs/operations.md)."""


def cluster(node: Node) -> dict[str, Any]:
    with node.client() as client:
        answer = client.get("/v1/cluster")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def router_cluster(routers: Routers, *options: str) -> subprocess.CompletedProcess[str]:
    """`router cluster --store URL ...`, from a directory with no config in it."""
    done = subprocess.run(
        [sys.executable, "-m", "router", "cluster", "--store", routers.store, *options],
        capture_output=True, text=True, timeout=60, check=False, cwd=routers.root)
    assert done.returncode == 0, done.stderr
    return done


def mismatch(node: Node) -> float:
    with node.client() as client:
        text = client.get("/metrics").text
    [value] = [sample.value for family in text_string_to_metric_families(text)
               for sample in family.samples if sample.name == "router_cluster_config_mismatch"]
    return value


def warnings(node: Node) -> list[dict[str, Any]]:
    """The node's JSON log lines about a config mismatch."""
    found = []
    for line in node.log().splitlines():
        if "config mismatch" in line:
            record = json.loads(line)
            found.append(record)
    return found


def claimed(listing: dict[str, Any]) -> int:
    return sum(node["work"]["claimed_notifications"] or 0 for node in listing["nodes"])


def test_a_node_on_another_config_revision_shows_everywhere(
        routers: Routers, pager: Pager, pagerduty: PagerDuty) -> None:
    text = config(pager=pager.url, pagerduty=pagerduty.url)
    routers.write_config(text)
    other: Path = routers.write_config(
        config(pager=pager.url, pagerduty=pagerduty.url, comment="edited on one host only"),
        routers.root / "other-config")
    first, second = routers.start_many(2)
    third = routers.start("node-odd", config_dir=other)
    nodes = (first, second, third)

    def listed(node: Node) -> dict[str, Any] | None:
        body = cluster(node)
        return body if len(body["nodes"]) == 3 else None

    for node in nodes:
        body = wait_until(lambda node=node: listed(node), timeout=15,
                          what=lambda: f"three nodes listed; logs:\n{routers.logs()}")
        assert body["self"] == node.name
        now = datetime.now(UTC)
        by_id = {item["id"]: item for item in body["nodes"]}
        assert sorted(by_id) == sorted(node.name for node in nodes)
        for each in nodes:
            item = by_id[each.name]
            assert each.process is not None
            assert (item["pid"], item["state"], item["self"]) == (
                each.process.pid, "up", each is node), item
            assert now - datetime.fromisoformat(item["last_beat"]) < BEAT_AGE, item
            assert "claimed_notifications" in item["work"], item
        revisions = {name: item["config_revision"] for name, item in by_id.items()}
        assert revisions[first.name] == revisions[second.name] != revisions[third.name]

    # The mismatch: one WARNING on each node naming the odd one (or, on it, the others),
    # and the metric.
    for node in nodes:
        found = wait_until(lambda node=node: warnings(node), timeout=15,
                           what=lambda node=node: f"a mismatch warning; log:\n{node.log()}")
        assert [record["level"] for record in found] == ["WARNING"], found
        differing = found[0]["differing"]
        expected = {first.name, second.name} if node is third else {third.name}
        assert set(differing) == expected, found
        assert mismatch(node) == 1.0

    # router cluster: the same nodes, and a warning about the revisions.
    printed = json.loads(router_cluster(routers, "--format", "json").stdout)
    assert sorted((item["id"], item["state"]) for item in printed["nodes"]) == sorted(
        (node.name, "up") for node in nodes)
    table = router_cluster(routers)
    lines = table.stdout.splitlines()
    assert lines[0].split()[:5] == ["NODE", "HOST", "PID", "STATE", "CONFIG"]
    assert sorted(line.split()[0] for line in lines[1:]) == sorted(node.name for node in nodes)
    assert "3 different" not in table.stderr and "2 different config revisions" in table.stderr

    # The work held: a hanging pager keeps a page claimed by whichever node sends it.
    pager.answer_next(Answer(delay=4.0))
    response = post_alerts(first, [alert("held")])
    assert response.status_code == 202, response.text
    wait_until(lambda: claimed(cluster(second)) >= 1, timeout=10,
               what=lambda: f"a claimed notification listed; {cluster(second)}")
    wait_until(lambda: claimed(cluster(third)) == 0 and pager.paged_uids() == {"held"},
               timeout=20, what=lambda: f"the claim recorded; {cluster(third)}")
