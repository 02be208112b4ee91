"""kill -9 of one router in the middle of deliveries (issue 18 item 5, first bullet).

Three routers on one PostgreSQL take alerts in turn from three senders; the pager answers
each page 200 ms late, so many are in flight at any instant. One router is killed with
SIGKILL in the middle of it (while it holds claims on the outbox), and the load goes on
over the other two. Afterwards:
- every alert answered 2xx reached the pager (Ann) and PagerDuty at least once, whichever
  router took it and whatever that router was doing when it died;
- a page that arrived twice is a page the dead router had sent and not recorded, sent again
  by another once its claim's lease ran out: the same notification id, its first copy before
  the kill, the second at most a lease and a poll after the first, and never a third
  (counted and printed).
"""

from __future__ import annotations

import time

from tests.e2e.conftest import wait_until
from tests.ha.cluster import (
    LEASE,
    Load,
    Pager,
    PagerDuty,
    Routers,
    claimed_by,
    config,
    outside_window,
    repeated,
)

SENDERS = 3
PAUSE = 0.1
"""Seconds each sender waits between requests: about 60 alerts a second in all, which the
two routers left send as they come (16 at once per channel, 0.2 s a send). A repeat goes
out in its turn among the channel's due notifications, oldest first: under a load its
channel cannot keep up with, the second copy would wait behind that backlog too, and the
window measured here would be the backlog's, not the lease's."""
BEFORE = 5.0
"""Seconds of load before the kill."""
AFTER = 4.0
"""Seconds of load after it, on the two routers left."""
DRAIN = 60.0
"""Seconds for every accepted alert to be paged (a dead router's claims wait a lease)."""


def test_kill_9_in_the_middle_of_deliveries_loses_no_page(
        routers: Routers, pager: Pager, pagerduty: PagerDuty) -> None:
    routers.write_config(config(pager=pager.url, pagerduty=pagerduty.url))
    pager.delay = pagerduty.delay = 0.2
    victim, *survivors = routers.start_many(3)
    load = Load(routers, pause=PAUSE)
    load.begin(SENDERS)
    try:
        time.sleep(BEFORE)
        wait_until(lambda: len(pager.pages()) >= 50, timeout=20,
                   what=lambda: f"deliveries under way; logs:\n{routers.logs()}")
        held = wait_until(lambda: claimed_by(routers.store, victim.name), timeout=10,
                          interval=0.01, what="the victim to hold claims")
        killed_at = time.monotonic()
        victim.kill()  # SIGKILL, holding `held` claims (or about)
        time.sleep(AFTER)
    finally:
        load.end()
    accepted = set(load.accepted)
    assert load.statuses() - load.statuses(since=killed_at) and load.statuses(since=killed_at)
    assert {status for status in load.statuses() if not 200 <= status < 300} == set(), [
        answer for answer in load.answers if answer.status != 202][:5]

    wait_until(lambda: accepted <= pager.paged_uids(), timeout=DRAIN, interval=0.5,
               what=lambda: f"{len(accepted - pager.paged_uids())} of {len(accepted)} "
                            f"accepted alerts to be paged, e.g. "
                            f"{sorted(accepted - pager.paged_uids())[:5]}; logs:\n"
                            f"{routers.logs()}")
    wait_until(lambda: accepted <= pagerduty.paged_uids(), timeout=DRAIN, interval=0.5,
               what=lambda: f"{len(accepted - pagerduty.paged_uids())} of {len(accepted)} "
                            f"accepted alerts to reach PagerDuty")
    time.sleep(LEASE)  # a late repeat, if any, would come now

    pages = repeated([(at, notification) for at, notification, _ in pager.pages()])
    triggers = repeated([(arrival.at, arrival.request.json()["payload"]["custom_details"]
                          ["notification"]) for arrival in list(pagerduty.arrivals)
                         if arrival.request.json().get("event_action") == "trigger"])
    print(f"killed holding {held} claims; {len(accepted)} alerts accepted, "
          f"{len(pager.pages())} pages and "
          f"{len(pagerduty.triggers())} PagerDuty triggers; repeated: {len(pages)} pages, "
          f"{len(triggers)} triggers, the second copy at most "
          f"{max((times[-1] - times[0] for times in (pages | triggers).values()), default=0):.1f}"
          f" s after the first; answers {dict(load.statuses())}, "
          f"{load.unanswered} unanswered")
    assert outside_window(pages, killed_at) == {}, pages
    assert outside_window(triggers, killed_at) == {}, triggers
    # One router died: what it sent and did not record is sent again once, by one other.
    assert {notification: times for notification, times in (pages | triggers).items()
            if len(times) > 2} == {}
    # One alert, one incident, one page to Ann: a repeat is never a second notification.
    by_uid: dict[str, set[str]] = {}
    for _, notification, body in pager.pages():
        by_uid.setdefault(body["incident"]["labels"]["uid"], set()).add(notification)
    assert {uid: ids for uid, ids in by_uid.items() if len(ids) != 1} == {}
    assert all(node.running() for node in survivors), routers.logs()
