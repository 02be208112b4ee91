"""kill -9 of the router holding due timers (issue 18 item 5, first bullet).

- Escalations: every incident is opened on one router, whose scheduler therefore holds their
  escalation timers (a 6 s first level, then Bob). It is killed with SIGKILL just as the
  first of them falls due. The other two routers read the same timers from the database:
  every incident still escalates to Bob once, not before its deadline and at most a lease
  and a poll after it, and Ann was paged for each first.
- Heartbeat deadlines: a heartbeat pinged on all three routers in turn, and last on one
  that is killed right after that ping (so it alone planned the new deadline), is reported
  missed by another, once, at its deadline (within a lease and a poll).
"""

from __future__ import annotations

import threading
import time

import httpx

from tests.e2e.conftest import wait_until
from tests.ha.cluster import (
    ANN,
    BOB,
    LEASE,
    POLL,
    SLACK,
    Node,
    Pager,
    PagerDuty,
    Routers,
    alert,
    config,
    post_alerts,
)

DELAY = 6.0
"""Seconds: the first level's escalation delay."""
INCIDENTS = 8
SPACING = 0.25
"""Seconds between the incidents, so their deadlines fall due one after another."""


def test_kill_9_of_the_node_holding_due_timers_still_escalates(
        routers: Routers, pager: Pager, pagerduty: PagerDuty) -> None:
    routers.write_config(config(pager=pager.url, pagerduty=pagerduty.url,
                                delay=f"{DELAY:g}s"))
    holder, *survivors = routers.start_many(3)
    opened: dict[str, float] = {}
    for index in range(INCIDENTS):
        uid = f"timer-{index}"
        before = time.monotonic()
        response = post_alerts(holder, [alert(uid)])
        assert response.status_code == 202, response.text
        opened[uid] = before  # the deadline is at most DELAY after this
        time.sleep(SPACING)
    first_due = min(opened.values()) + DELAY
    time.sleep(max(0.0, first_due + 0.1 - time.monotonic()))
    holder.kill()  # SIGKILL, as the first timer falls due
    killed_at = time.monotonic()

    latest = max(opened.values()) + DELAY + LEASE + POLL + SLACK
    wait_until(lambda: pager.paged_uids(BOB) >= set(opened),
               timeout=latest - time.monotonic() + 5,
               what=lambda: f"every incident escalated to Bob: missing "
                            f"{sorted(set(opened) - pager.paged_uids(BOB))}; logs:\n"
                            f"{routers.logs()}")
    time.sleep(LEASE)  # a second escalation, if any, would come now
    escalations: dict[str, set[str]] = {}
    lateness: list[float] = []
    late: dict[str, float] = {}
    early: dict[str, float] = {}
    for at, notification, body in pager.pages():
        if body["address"] != BOB:
            continue
        uid = body["incident"]["labels"]["uid"]
        escalations.setdefault(uid, set()).add(notification)
        after_deadline = at - (opened[uid] + DELAY)
        lateness.append(after_deadline)
        if after_deadline > LEASE + POLL + SLACK:
            late[uid] = after_deadline
        if after_deadline < -1.0:
            early[uid] = after_deadline
    print(f"killed {killed_at - first_due:+.2f} s from the first deadline; Bob paged "
          f"{min(lateness):.1f} to {max(lateness):.1f} s after each deadline; escalations "
          f"{sorted(len(ids) for ids in escalations.values())}, late {late}, early {early}")
    assert {uid: len(ids) for uid, ids in escalations.items()} == dict.fromkeys(opened, 1)
    assert late == {} and early == {}, (late, early)
    assert pager.paged_uids() >= set(opened)  # Ann first
    assert all(node.running() for node in survivors), routers.logs()


HEARTBEAT_TOKEN = "ha-heartbeat-token-0001"
HEARTBEATS = """\
heartbeats:
  - {id: backup, service: api, period: 3s, grace: 4s, token: "${env:HEARTBEAT_TOKEN}"}
"""
"""Missed 7 s after its last ping (pinged every second until then, on a loaded machine)."""
HEARTBEAT_DUE = 7.0


def ping(routers: Routers, node: Node | None = None) -> float:
    """Ping the heartbeat on `node` (the next router in turn by default); when it answered."""
    target = node or routers.next()
    with httpx.Client(timeout=10.0, trust_env=False) as client:
        answer = client.get(f"{target.base_url}/v1/heartbeats/backup",
                            params={"token": HEARTBEAT_TOKEN})
    assert answer.status_code == 200, answer.text
    return time.monotonic()


def misses(pager: Pager) -> list[tuple[float, str]]:
    """(arrival, notification id) of Ann's pages about the missed heartbeat."""
    return [(at, notification) for at, notification, body in pager.pages()
            if body["incident"]["labels"].get("alertname") == "HeartbeatMissed"
            and body["address"] == ANN]


def test_kill_9_of_the_node_that_planned_a_heartbeat_deadline_still_reports_the_miss(
        routers: Routers, pager: Pager, pagerduty: PagerDuty) -> None:
    routers.env["HEARTBEAT_TOKEN"] = HEARTBEAT_TOKEN
    routers.write_config(config(pager=pager.url, pagerduty=pagerduty.url, more=HEARTBEATS))
    stop = threading.Event()

    def keep_pinging() -> None:  # while the routers start (a few seconds each)
        while not stop.wait(1.0):
            ping(routers)

    first = routers.start("node-0")
    ping(routers, first)
    pinger = threading.Thread(target=keep_pinging, daemon=True)
    pinger.start()
    try:
        routers.start("node-1")
        routers.start("node-2")
        for _ in range(3):  # every router in turn
            ping(routers)
    finally:
        stop.set()
        pinger.join(timeout=15)
    last = ping(routers, first)
    first.kill()  # SIGKILL, right after the ping that set the deadline
    assert misses(pager) == [], "missed while it was pinged"

    due = last + HEARTBEAT_DUE
    wait_until(lambda: misses(pager), timeout=HEARTBEAT_DUE + LEASE + POLL + SLACK + 5,
               what=lambda: f"the miss to be paged; logs:\n{routers.logs()}")
    time.sleep(LEASE)  # a second report, if any, would come now
    found = misses(pager)
    print(f"the miss paged {found[0][0] - due:+.1f} s from its deadline; {len(found)} pages")
    assert len({notification for _, notification in found}) == 1, found
    assert -1.0 <= found[0][0] - due <= LEASE + POLL + SLACK, found[0][0] - due
