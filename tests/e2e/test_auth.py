"""Bearer tokens over real HTTP: with ingest tokens configured, a request without a known
token is answered 401, and one whose token lacks the scope 403, and neither changes anything;
a token limited to some sources opens only those endpoints; health checks need no token."""

from __future__ import annotations

import textwrap

import httpx
import pytest

from tests.e2e.conftest import CONFIG, ROUTING_KEY, Daemon, StartDaemon, incident_ids, payload

OPS_TOKEN = "ops-token-6f1c2d9e8b7a"  # reaches the daemon through ${env:...}
ALERTMANAGER_TOKEN = "alertmanager-only-0b5e4f3a"
TOKENS = f"""
  ingest_tokens:
    - {{name: ops, token: "${{env:ROUTER_E2E_OPS_TOKEN}}"}}
    - {{name: alertmanager, token: "{ALERTMANAGER_TOKEN}", sources: [alertmanager]}}
"""
UNAUTHORIZED = {"error": "missing or invalid bearer token"}
ALERT = {"summary": "Disk full", "labels": {"alertname": "DiskFull"}}


@pytest.fixture
def daemon(start_daemon: StartDaemon) -> Daemon:
    config = textwrap.dedent(CONFIG).replace("  timezone: UTC\n",
                                             "  timezone: UTC\n" + TOKENS[1:], 1)
    return start_daemon(config, env={"ROUTER_E2E_OPS_TOKEN": OPS_TOKEN})


def assert_unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json() == UNAUTHORIZED
    assert response.headers["www-authenticate"] == 'Bearer realm="router"'


def test_tokens(daemon: Daemon) -> None:
    with daemon.client("") as anonymous, daemon.client("wrong-token") as wrong, \
            daemon.client(OPS_TOKEN) as ops, daemon.client(ALERTMANAGER_TOKEN) as alertmanager:
        for client in (anonymous, wrong):
            assert_unauthorized(client.post("/v1/alerts", json=ALERT))
            assert_unauthorized(client.post("/v1/ingest/alertmanager",
                                            json=payload("alertmanager_firing.json")))
            assert_unauthorized(client.get("/v1/incidents"))
        assert_unauthorized(anonymous.post("/v1/alerts", json=ALERT,
                                           headers={"authorization": f"Basic {OPS_TOKEN}"}))
        for path in ("/healthz", "/readyz"):
            assert anonymous.get(path).json() == {"status": "ok"}
        assert ops.get("/v1/incidents").json() == {"incidents": []}  # nothing was stored

        [opened] = incident_ids(ops.post("/v1/alerts", json=ALERT))

        # The Alertmanager token opens the Alertmanager webhook and nothing else.
        for refused in (alertmanager.post("/v1/alerts", json=ALERT),
                        alertmanager.post("/api/v2/alerts", json=[ALERT]),
                        alertmanager.get("/v1/incidents")):
            assert refused.status_code == 403, refused.text
        ids = incident_ids(alertmanager.post("/v1/ingest/alertmanager",
                                             json=payload("alertmanager_firing.json")))
        assert len(ids) == 2

        # PagerDuty senders send no token: the routing key must be one a service declares.
        trigger = {**payload("pagerduty_trigger.json"), "routing_key": ROUTING_KEY}
        assert anonymous.post("/v2/enqueue", json=trigger).status_code == 202
        unknown = anonymous.post("/v2/enqueue", json={**trigger, "routing_key": "x" * 32,
                                                      "dedup_key": "other"})
        assert unknown.status_code == 400
        assert unknown.json()["errors"] == ["Invalid routing key"]

        stored = {item["dedup_key"]: item["id"]
                  for item in ops.get("/v1/incidents").json()["incidents"]}
        assert sorted(stored.values()) == sorted([opened, *ids, stored["samplekeyhere"]])
