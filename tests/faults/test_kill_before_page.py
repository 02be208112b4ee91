"""kill -9 between an alert's commit and its first page: after a restart every channel gets
the page exactly once (issue 15 step 3: the obligation to page survives whatever the
durable write of a new alert holds: today the outbox rows of its commit).

Each channel is a webhook to its own local receiver, limited to one message every 20
seconds: the first alert's pages go out at once, the second alert's wait for their turn
when the daemon is killed (its answer, a 2xx, came after the commit), so they were never
sent. The daemon started again on the same state directory sends them, once each.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import StartDaemon, wait_until
from tests.fakes import serve_in_thread
from tests.fakes.webhook import FakeWebhook, serve_fake_webhook
from tests.faults.support import alive, api, config, deliveries

RATE = 0.05  # one message every 20 s per channel


@pytest.fixture
def receivers() -> Iterator[tuple[FakeWebhook, FakeWebhook]]:
    with serve_in_thread(serve_fake_webhook) as first, serve_in_thread(
            serve_fake_webhook) as second:
        yield first, second


def uids(receiver: FakeWebhook) -> list[str]:
    """The label `uid` of the incident of each page the receiver got, in order."""
    return [str(request.json()["incident"]["labels"]["uid"]) for request in receiver.requests]


def post(client: httpx.Client, uid: str) -> None:
    answer = client.post("/v1/alerts", content=json.dumps([{
        "summary": f"disk {uid}", "severity": "critical",
        "labels": {"alertname": "Disk", "uid": uid}}]),
        headers={"content-type": "application/json"})
    assert answer.status_code == 202, answer.text


def test_a_page_not_sent_when_the_daemon_was_killed_is_sent_once_after_the_restart(
        start_daemon: StartDaemon, receivers: tuple[FakeWebhook, FakeWebhook]) -> None:
    pager, hook = receivers
    daemon = start_daemon(config(
        f'  - {{id: pager, type: webhook, url: "{pager.url}", rate: {RATE}}}\n'
        f'  - {{id: hook, type: webhook, url: "{hook.url}", rate: {RATE}}}\n',
        service_channels="hook", pager="pager"))
    with api(daemon) as client:
        post(client, "first")
        # sent and recorded (else the restart would rightly send them again)
        wait_until(lambda: [item["outcome"] for item in deliveries(client)] == [
            "delivered", "delivered"], timeout=15,
            what=lambda: f"the first alert's pages recorded; log:\n{daemon.log()}")
        assert (uids(pager), uids(hook)) == (["first"], ["first"])
        post(client, "second")  # answered after its commit; its pages wait their turn
    daemon.kill()  # SIGKILL
    assert (uids(pager), uids(hook)) == (["first"], ["first"])
    daemon.start()  # same config and state directory
    wait_until(lambda: "second" in uids(pager) and "second" in uids(hook), timeout=30,
               what=lambda: f"the second alert's pages after the restart; log:\n"
                            f"{daemon.log()}")
    time.sleep(2)  # nothing more arrives: not sent twice
    assert (uids(pager), uids(hook)) == (["first", "second"], ["first", "second"])
    assert alive(daemon)
