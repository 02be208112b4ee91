"""PostgreSQL stopped for 30 s and started again while alerts are sent (issue 18 item 5,
second bullet), on a cluster of its own (the session's other tests keep theirs).

Senders post alerts to the three routers in turn throughout. While the server is down every
answer is a 503 (never a 2xx for an alert that could not be stored); once it is up again
every node accepts alerts by itself, with nobody restarting it; and every alert answered
2xx, before, during or after, reaches the pager. Once a node knows the server is down, its 503
comes at once (Prometheus gives up on a receiver after 10 s), and `/readyz` says so until the
server is back.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import postgres_server
from tests.e2e.conftest import wait_until
from tests.ha.cluster import Load, Node, Pager, PagerDuty, Routers, alert, config, post_alerts

Cluster = postgres_server.Cluster

DOWN = 30.0
"""Seconds the server stays stopped."""
BEFORE = 3.0
"""Seconds of load before the stop."""
SETTLE = 2.0
"""Seconds after the stop before every answer must be a 503."""
RECONNECT = 30.0
"""Seconds each node has, after the server is back, to accept an alert again."""
DRAIN = 60.0
"""Seconds for every accepted alert to reach the pager."""
DISCOVER = 12.0
"""Seconds after the stop by which every node knows the server is down: a request in flight
at the stop may wait for a connection (the store's `wait`, 5 s) twice."""
AT_ONCE = 1.0
"""Seconds within which a node that knows the server is down answers 503."""


@pytest.fixture
def server() -> Iterator[Cluster]:
    """A throwaway PostgreSQL of this test's own, since the test stops it."""
    cluster = postgres_server.start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(cluster.directory, ignore_errors=True)


@pytest.fixture
def down_routers(tmp_path: Path, server: Cluster) -> Iterator[Routers]:
    cluster = Routers(tmp_path, server.create_database())
    try:
        yield cluster
    finally:
        cluster.close()


def stop(server: Cluster) -> None:
    server.run("pg_ctl", "stop", "-D", str(server.directory / "data"), "-m", "fast", "-w")


def start(server: Cluster) -> None:
    """Start the server again with the options it ran with (`pg_ctl restart` of a stopped
    server reads them from postmaster.opts)."""
    server.run("pg_ctl", "restart", "-D", str(server.directory / "data"), "-w", "-t", "60",
               "-l", str(server.directory / "server.log"))


def readiness(node: Node) -> int:
    """The status of the node's `GET /readyz`."""
    return httpx.get(node.base_url + "/readyz", timeout=10.0, trust_env=False).status_code


def test_postgresql_down_for_30_seconds_loses_nothing_accepted(
        down_routers: Routers, server: Cluster, pager: Pager, pagerduty: PagerDuty) -> None:
    routers = down_routers
    routers.write_config(config(pager=pager.url, pagerduty=pagerduty.url))
    nodes = routers.start_many(3)
    load = Load(routers, pause=0.05)
    load.begin(3)
    try:
        time.sleep(BEFORE)
        assert load.accepted, f"nothing accepted before the stop; {load.answers[-5:]}"
        stop(server)
        stopped = time.monotonic()
        time.sleep(DISCOVER)
        not_ready = {node.name: readiness(node) for node in nodes}
        time.sleep(DOWN - DISCOVER)
        # An alert committed just before the stop may be answered just after it.
        down = load.statuses(since=stopped + SETTLE, until=time.monotonic())
        late = load.slowest(503, sent_since=stopped + DISCOVER)
        start(server)
        started = time.monotonic()
        for node in nodes:
            wait_until(lambda node=node: readiness(node) == 200, timeout=RECONNECT,
                       interval=0.1, what=lambda node=node: f"{node.name}'s /readyz 200")
        ready = time.monotonic() - started
        # Every node accepts again by itself.
        for index, node in enumerate(nodes):
            wait_until(lambda node=node, index=index: post_alerts(
                           node, [alert(f"back-{node.name}-{time.monotonic()}")],
                       ).status_code == 202,
                       timeout=RECONNECT, interval=0.5,
                       what=lambda node=node: f"{node.name} to accept an alert again; "
                                              f"log:\n{node.log()[-5000:]}")
        reconnected = time.monotonic() - started
        time.sleep(2.0)
    finally:
        load.end()
    after = load.statuses(since=started)
    print(f"{len(load.accepted)} alerts accepted; while down {dict(down)} (the slowest 503 "
          f"took {load.slowest(503):.1f} s, {late:.2f} s once known), after {dict(after)}; "
          f"/readyz 200 on every node {ready:.1f} s after the start, every node accepted "
          f"again {reconnected:.1f} s after it")
    assert down and set(down) == {503}, (down, routers.logs())
    assert late < AT_ONCE, f"a 503 took {late:.1f} s though the node knew the server was down"
    assert set(not_ready.values()) == {503}, not_ready
    accepted_after = [uid for uid, at in load.accepted.items() if at > started]
    assert accepted_after, "no alert accepted after the restart"
    assert all(node.running() for node in nodes), routers.logs()

    # Nothing answered 2xx is lost.
    accepted = set(load.accepted)
    wait_until(lambda: accepted <= pager.paged_uids(), timeout=DRAIN, interval=0.5,
               what=lambda: f"{len(accepted - pager.paged_uids())} of {len(accepted)} "
                            f"accepted alerts to be paged, e.g. "
                            f"{sorted(accepted - pager.paged_uids())[:5]}")
    wait_until(lambda: accepted <= pagerduty.paged_uids(), timeout=DRAIN, interval=0.5,
               what=lambda: f"{len(accepted - pagerduty.paged_uids())} of {len(accepted)} "
                            f"accepted alerts to reach PagerDuty")
