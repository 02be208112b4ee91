"""kill -9 of the router holding due timers (issue 18 item 5, first bullet).

Every incident is opened on one router, whose scheduler therefore holds their escalation
timers (a 6 s first level, then Bob). It is killed with SIGKILL just as the first of them
falls due. The other two routers read the same timers from the database: every incident
still escalates to Bob once, not before its deadline and at most a lease and a poll after
it, and Ann was paged for each first.
"""

from __future__ import annotations

import time

from tests.e2e.conftest import wait_until
from tests.ha.cluster import (
    BOB,
    LEASE,
    POLL,
    SLACK,
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
