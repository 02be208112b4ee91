"""Any node takes any request (issue 18 item 3, proven on three routers and one PostgreSQL).

- The same new alert sent to two nodes at the same instant opens one incident: one answer
  says `opened`, the other `updated` with the same incident, and every node lists one.
- Incident numbers come from one sequence: alerts sent to all three nodes at once get
  distinct numbers.
- A silence, an acknowledgement and a rota override made on one node hold on the others at
  once: the very next request to another node sees them (no wait, no poll).
- Socket messages: an incident opened over one node's socket is acknowledged over another's
  and resolved over the third's.
- Slack clicks: a page one node posted to Slack, its Acknowledge button clicked at another
  node, acknowledges the incident, and the follow-up reaches Slack once.
(Heartbeats pinged on every node in turn: test_kill_timers.py.)
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests import postgres_server
from tests.e2e.conftest import wait_until
from tests.fakes import serve_in_thread
from tests.fakes.slack import FakeSlack, serve_fake_slack
from tests.ha.cluster import (
    SLACK_SECRET,
    Node,
    Routers,
    alert,
    config,
    post_alerts,
    serve_pager,
    serve_pagerduty,
)
from tests.server.test_slack_actions import click, signed

RACES = 12
"""Alerts sent to two nodes at once, each a new dedup key."""
SPREAD = 60
"""Alerts of their own incident sent to the three nodes at once."""


@pytest.fixture(scope="module")
def slack() -> Iterator[FakeSlack]:
    """The Slack stand-in the module's routers post to (service `chat`)."""
    with serve_in_thread(serve_fake_slack) as fake:
        yield fake


@pytest.fixture(scope="module")
def routers(tmp_path_factory: pytest.TempPathFactory,
            postgres_cluster: postgres_server.Cluster, slack: FakeSlack) -> Iterator[Routers]:
    """Three routers on one database for the whole module (each test uses its own alerts):
    starting three daemons on a loaded machine takes longer than most of these tests."""
    with serve_in_thread(serve_pager) as pager, serve_in_thread(serve_pagerduty) as pagerduty:
        cluster = Routers(tmp_path_factory.mktemp("any-node"),
                          postgres_cluster.create_database())
        try:
            cluster.write_config(config(pager=pager.url, pagerduty=pagerduty.url, lease=None,
                                        slack=slack.url))
            cluster.start_many(3)
            yield cluster
        finally:
            cluster.close()


def answers(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 202, response.text
    items: list[dict[str, Any]] = response.json()["incidents"]
    return items


def same_instant(first: Node, second: Node, document: dict[str, Any]) -> list[httpx.Response]:
    """POST the same alert to both nodes, released together by a barrier."""
    barrier = threading.Barrier(2)
    clients = [httpx.Client(base_url=node.base_url, timeout=10.0, trust_env=False)
               for node in (first, second)]

    def send(client: httpx.Client) -> httpx.Response:
        client.get("/healthz")  # the connection is open before the barrier
        barrier.wait()
        return client.post("/v1/alerts", json=document)

    try:
        with ThreadPoolExecutor(2) as pool:
            return list(pool.map(send, clients))
    finally:
        for client in clients:
            client.close()


def incidents(node: Node) -> list[dict[str, Any]]:
    with node.client() as client:
        answer = client.get("/v1/incidents", params={"limit": "1000"})
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["incidents"]
    return found


def test_the_same_new_alert_on_two_nodes_opens_one_incident(routers: Routers) -> None:
    nodes = routers.nodes
    for race in range(RACES):
        first, second = nodes[race % 3], nodes[(race + 1) % 3]
        document = alert(f"race-{race}")
        [one], [other] = (answers(response)
                          for response in same_instant(first, second, document))
        assert one["incident_id"] == other["incident_id"], (one, other, routers.logs())
        assert sorted([one["action"], other["action"]]) == ["opened", "updated"], (one, other)
    for node in nodes:
        by_uid: dict[str, list[str]] = {}
        for item in incidents(node):
            if not item["labels"]["uid"].startswith("race-"):
                continue
            by_uid.setdefault(item["labels"]["uid"], []).append(item["id"])
        assert {uid: len(ids) for uid, ids in by_uid.items()} == {
            f"race-{race}": 1 for race in range(RACES)}, node.name


def test_incident_numbers_are_unique_across_nodes(routers: Routers) -> None:

    def send(index: int) -> str:
        [item] = answers(post_alerts(routers.next(), [alert(f"spread-{index}")]))
        assert item["action"] == "opened", item
        return str(item["incident_id"])

    with ThreadPoolExecutor(6) as pool:
        ids = list(pool.map(send, range(SPREAD)))
    numbers = sorted(int(incident_id.removeprefix("INC")) for incident_id in ids)
    # One sequence: unique (a unit that rolled back leaves a gap, docs/ha.md, so no more).
    assert len(set(numbers)) == SPREAD, sorted(ids)


def test_a_silence_an_acknowledgement_and_an_override_hold_on_every_node_at_once(
        routers: Routers) -> None:
    first, second, third = routers.nodes

    # A silence made on the first node holds on the second and third at once.
    with first.client() as client:
        made = client.post("/v1/silences", json={
            "matchers": [{"name": "team", "operator": "=", "value": "quiet"}],
            "ends_at": "2099-01-01T00:00:00Z", "reason": "maintenance",
            "created_by": "ann"})
    assert made.status_code == 201, made.text
    silence = made.json()["id"]
    for index, node in enumerate((second, third)):
        [item] = answers(post_alerts(node, [alert(f"quiet-{index}", team="quiet")]))
        assert item["suppressed_by"] == f"silence:{silence}", (node.name, item)

    # An acknowledgement made on the second node shows on the others at once, and a second
    # one there finds the incident acknowledged already.
    [opened] = answers(post_alerts(third, [alert("acknowledged")]))
    incident_id = opened["incident_id"]
    with second.client() as client:
        acknowledged = client.post(f"/v1/incidents/{incident_id}/acknowledge",
                                   json={"by": "ann"})
    assert acknowledged.status_code == 200, acknowledged.text
    for node in (first, third):
        with node.client() as client:
            shown = client.get(f"/v1/incidents/{incident_id}")
        assert shown.status_code == 200, shown.text
        assert shown.json()["incident"]["state"] == "acknowledged", node.name

    # A rota override added on the third node: the others page its person at once.
    with third.client() as client:
        added = client.post("/v1/rotas/primary/overrides", json={
            "person": "bob", "until": "2099-01-01T00:00:00Z", "reason": "Ann is away",
            "created_by": "ann"})
    assert added.status_code == 201, added.text
    for index, node in enumerate((first, second)):
        with node.client() as client:
            on_call = client.get("/v1/oncall", params={"team": "primary"})
            assert on_call.status_code == 200, on_call.text
            [rota] = on_call.json()["rotas"]
            assert rota["on_call"]["person"] == "bob", (node.name, rota)
        [item] = answers(post_alerts(node, [alert(f"override-{index}")]))
        with node.client() as client:
            detail = client.get(f"/v1/incidents/{item['incident_id']}").json()
        assert detail["incident"]["assigned_to"] == "bob", (node.name, detail["incident"])


def test_socket_messages_on_any_node(routers: Routers) -> None:
    """An incident opened over one router's unix socket is acknowledged over another's and
    resolved over the third's; the first one's API shows the end at once."""
    first, second, third = routers.nodes

    def ask(node: Node, message_id: int, body: dict[str, Any]) -> dict[str, Any]:
        with node.connect() as line:
            reply = line.ask({"src": "job", "dest": "router",
                              "body": {**body, "msg_id": message_id}})
        answer: dict[str, Any] = reply["body"]
        assert answer.get("in_reply_to") == message_id, (node.name, reply)
        return answer

    created = ask(first, 1, {"type": "create_incident", "title": "opened over a socket",
                             "service": "api", "severity": "critical"})
    assert (created["type"], created["status"]) == ("incident_created", "triggered"), created
    incident_id = created["incident_id"]
    acknowledged = ask(second, 2, {"type": "acknowledge_incident", "incident_id": incident_id,
                                   "by": "ann"})
    assert (acknowledged["type"], acknowledged["status"]) == (
        "incident_acknowledged", "acknowledged"), acknowledged
    resolved = ask(third, 3, {"type": "resolve_incident", "incident_id": incident_id})
    assert (resolved["type"], resolved["status"]) == ("incident_resolved", "resolved"), resolved
    with first.client() as client:
        shown = client.get(f"/v1/incidents/{incident_id}")
    assert shown.status_code == 200, shown.text
    assert shown.json()["incident"]["state"] == "resolved"


def test_a_slack_click_at_another_node_acknowledges_once(routers: Routers,
                                                         slack: FakeSlack) -> None:
    first, second, third = routers.running()
    [opened] = answers(post_alerts(first, [alert("slack-click", team="chat")]))
    incident_id = opened["incident_id"]

    def pages() -> list[dict[str, Any]]:
        return [message for message in list(slack.messages)
                if incident_id in json.dumps(message)]
    wait_until(lambda: len(pages()) == 1, timeout=15, interval=0.1,
               what=lambda: f"the page on Slack; {slack.messages[-3:]}")
    [page] = pages()
    [buttons] = [block for block in page["blocks"] if block["type"] == "actions"]
    assert buttons["elements"][0]["value"] == incident_id

    # The click reaches another node than the one that posted the page.
    body, headers = signed(click("acknowledge", incident_id), secret=SLACK_SECRET,
                           at=datetime.now(UTC))
    answer = httpx.post(second.base_url + "/v1/slack/actions", content=body, headers=headers,
                        timeout=10.0, trust_env=False)
    assert answer.status_code == 200, answer.text
    for node in (first, third):
        with node.client() as client:
            shown = client.get(f"/v1/incidents/{incident_id}").json()["incident"]
        assert (shown["state"], shown["acknowledged_by"]) == ("acknowledged", "slack:ann")

    wait_until(lambda: len(pages()) == 2, timeout=15, interval=0.1,
               what=lambda: f"the follow-up on Slack; {pages()}")
    time.sleep(2.0)  # a second follow-up, if any node sent one, would be here by now
    page_again, follow_up = pages()[0], pages()[1]
    assert page_again == page and len(pages()) == 2, pages()
    assert "acknowledged by" in follow_up["text"], follow_up
