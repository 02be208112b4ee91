"""Every inbound format over real HTTP, with the senders' own example payloads: the answer,
then the stored incident as GET /v1/incidents/{id} shows it."""

from __future__ import annotations

import json
import re
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from router.alerts.identity import alert_identity
from router.config import ConfigInvalid, load_config
from tests.e2e.conftest import (
    CONFIG,
    ROUTING_KEY,
    Daemon,
    StartDaemon,
    incident_ids,
    incidents_by_key,
    payload,
    show,
    wait_until,
)

# The dedup keys of the two example alerts (api-1, api-2): their labels' identity, whether
# they come through the webhook or /api/v2/alerts (Alertmanager's fingerprints of them,
# 0f3ef813eb86bd39 and 1d3f58b2d7994044, are what GET /api/v2/alerts shows).
API_1, API_2 = (alert_identity({"alertname": "HighErrorRate", "instance": f"api-{number}:8080",
                                "job": "api", "service": "api", "severity": "critical"})
                for number in (1, 2))


def summary_of(detail: dict[str, Any]) -> tuple[str, str | None, str, str]:
    incident = detail["incident"]
    return incident["source"], incident["service"], incident["severity"], incident["state"]


def test_native(daemon: Daemon) -> None:
    with daemon.client() as client:
        [single] = incident_ids(client.post("/v1/alerts", json=payload("native_single.json")))
        detail = show(client, single)
        assert summary_of(detail) == ("native", "database", "error", "triggered")
        assert detail["incident"]["dedup_key"] == "disk-full/db-1/var"
        assert detail["incident"]["assigned_to"] == "on-call-engineer"
        assert [alert["summary"] for alert in detail["alerts"]] == [
            "Disk /var is 95% full on db-1"]
        assert detail["timeline"][0]["action"] == "opened"

        # A list: the firing alert opens an incident, keyed by the database service's
        # template; the resolved one has no open incident to resolve.
        opened, ignored = incident_ids(
            client.post("/v1/alerts", json=payload("native_list.json")))
        assert ignored is None
        detail = show(client, opened)
        assert summary_of(detail) == ("native", "database", "critical", "triggered")
        assert detail["incident"]["dedup_key"] == "db-1/backup"


def test_suppressed_alert_is_recorded_not_paged(daemon: Daemon) -> None:
    alert = {"summary": "Staging is slow", "severity": "critical",
             "labels": {"env": "staging", "alertname": "Slow"}}
    with daemon.client() as client:
        response = client.post("/v1/alerts", json=alert)
        [incident_id] = incident_ids(response)
        assert response.json()["incidents"][0]["suppressed_by"] == "suppression:staging"
        detail = show(client, incident_id)
    assert summary_of(detail) == ("native", "general", "info", "triggered")
    assert detail["incident"]["suppressed_by"] == "suppression:staging"
    assert detail["incident"]["level"] == 0
    assert [entry["action"] for entry in detail["timeline"]] == ["opened", "suppressed"]


def shifted_v2(name: str, *, ends_in: timedelta) -> list[dict[str, Any]]:
    """An /api/v2/alerts example with its times moved to now: whether it fires depends on
    `endsAt` against the moment it arrives."""
    now = datetime.now(UTC)
    alerts: list[dict[str, Any]] = payload(name)
    for alert in alerts:
        alert["startsAt"] = (now - timedelta(minutes=5)).isoformat()
        alert["endsAt"] = (now + ends_in).isoformat()
    return alerts


def test_alertmanager_v2_and_webhook_are_one_alert(daemon: Daemon) -> None:
    with daemon.client() as client:
        response = client.post("/api/v2/alerts",
                               json=shifted_v2("alertmanager_v2_firing.json",
                                               ends_in=timedelta(minutes=5)))
        assert (response.status_code, response.content) == (200, b"")  # as Alertmanager
        found = incidents_by_key(client)
        assert sorted(found) == sorted([API_1, API_2])
        by_key = {key: show(client, item["id"]) for key, item in found.items()}
        for detail in by_key.values():
            assert summary_of(detail) == ("alertmanager_v2", "api", "critical", "triggered")

        # The webhook's alerts have the same labels: they join those incidents.
        webhook = client.post("/v1/ingest/alertmanager", json=payload("alertmanager_firing.json"))
        assert incident_ids(webhook) == [found[API_1]["id"], found[API_2]["id"]]
        assert [item["action"] for item in webhook.json()["incidents"]] == ["updated"] * 2
        detail = show(client, found[API_1]["id"])
        assert [alert["source"] for alert in detail["alerts"]] == [
            "alertmanager_v2", "alertmanager"]
        assert detail["incident"]["alert_count"] == 2

        # The webhook's resolved api-2, then v2's endsAt in the past: each alert of api-2
        # has the same labels, so one resolved alert resolves the incident.
        resolved = client.post("/v1/ingest/alertmanager",
                               json=payload("alertmanager_resolved.json"))
        assert [item["action"] for item in resolved.json()["incidents"]] == [
            "updated", "resolved"]
        assert summary_of(show(client, found[API_2]["id"]))[3] == "resolved"
        assert summary_of(show(client, found[API_1]["id"]))[3] == "triggered"

        response = client.post("/api/v2/alerts",
                               json=shifted_v2("alertmanager_v2_firing.json",
                                               ends_in=timedelta(seconds=-1))[:1])
        assert response.status_code == 200, response.text
        assert summary_of(show(client, found[API_1]["id"]))[3] == "resolved"


def test_grafana(daemon: Daemon) -> None:
    with daemon.client() as client:
        ids = incident_ids(client.post("/v1/ingest/grafana", json=payload("grafana.json")))
        assert len(set(ids)) == 2
        details = [show(client, incident_id) for incident_id in ids if incident_id]
    assert [summary_of(detail) for detail in details] == [
        ("grafana", "monitoring", "warning", "triggered")] * 2
    assert [detail["incident"]["dedup_key"] for detail in details] == [
        "c6eadffa33fcdf37", "bc97ff14869b13e3"]
    assert details[0]["incident"]["summary"] == "This alert was triggered for zone us-1"


def test_datadog(daemon: Daemon) -> None:
    with daemon.client() as client:
        [triggered] = incident_ids(
            client.post("/v1/ingest/datadog", json=payload("datadog_triggered.json")))
        detail = show(client, triggered)
        assert summary_of(detail) == ("datadog", "api", "error", "triggered")
        assert detail["incident"]["dedup_key"] == "7035780875230145089"

        [recovered] = incident_ids(
            client.post("/v1/ingest/datadog", json=payload("datadog_recovered.json")))
        assert recovered == triggered
        assert summary_of(show(client, triggered))[3] == "resolved"

        # Datadog's default payload: no transition, no priority, no service tag.
        [default] = incident_ids(
            client.post("/v1/ingest/datadog", json=payload("datadog_default.json")))
        assert summary_of(show(client, default)) == ("datadog", "general", "warning",
                                                     "triggered")


def pagerduty_event(name: str, **changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = payload(name)
    event.update(routing_key=ROUTING_KEY, **changes)
    return event


def assert_pagerduty_success(response: httpx.Response, dedup_key: str) -> None:
    assert response.status_code == 202, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"status": "success", "message": "Event processed",
                               "dedup_key": dedup_key}


def test_pagerduty(daemon: Daemon) -> None:
    with daemon.client() as client:
        # PagerDuty's example as it stands: its routing key is not 32 characters long.
        refused = client.post("/v2/enqueue", json=payload("pagerduty_trigger.json"))
        assert refused.status_code == 400
        assert refused.headers["content-type"] == "application/json"
        assert refused.json() == {
            "status": "invalid event", "message": "Event object is invalid",
            "errors": ["routing_key: Length of 'routing_key' is incorrect (should be 32 "
                       "characters)"]}
        no_payload = client.post("/v2/enqueue", json={"routing_key": ROUTING_KEY,
                                                      "event_action": "trigger"})
        assert no_payload.status_code == 400
        assert no_payload.json()["errors"] == ["payload: is required for a trigger event"]
        assert incidents_by_key(client) == {}

        trigger = client.post("/v2/enqueue", json=pagerduty_event("pagerduty_trigger.json"))
        assert_pagerduty_success(trigger, "samplekeyhere")
        incident = incidents_by_key(client)["samplekeyhere"]
        detail = show(client, incident["id"])
        # The routing key picked the service.
        assert summary_of(detail) == ("pagerduty", "api", "info", "triggered")
        assert detail["incident"]["summary"] == "Example alert on host1.example.com"

        # The trigger's page to the service's log channel goes first: a resolve while it is
        # still on its way cancels it, and its "pages cancelled" line would end the timeline
        # (on PostgreSQL, 3 runs in 20), a race this test is not about.
        wait_until(lambda: [item for item in client.get("/v1/deliveries", params={
                                "incident": incident["id"]}).json()["deliveries"]
                            if item["outcome"] == "delivered"],
                   timeout=10, what="the trigger's page to the log channel")
        acknowledge = client.post("/v2/enqueue", json=pagerduty_event(
            "pagerduty_acknowledge.json", dedup_key="samplekeyhere"))
        assert_pagerduty_success(acknowledge, "samplekeyhere")
        assert summary_of(show(client, incident["id"]))[3] == "acknowledged"
        resolve = client.post("/v2/enqueue", json=pagerduty_event(
            "pagerduty_resolve.json", dedup_key="samplekeyhere"))
        assert_pagerduty_success(resolve, "samplekeyhere")
        detail = show(client, incident["id"])
        assert summary_of(detail)[3] == "resolved"
        assert [entry["action"] for entry in detail["timeline"]][-2:] == [
            "acknowledged", "resolved"]

        # A trigger without a dedup key gets one, as from PagerDuty, and its own incident.
        keyless = pagerduty_event("pagerduty_trigger.json")
        del keyless["dedup_key"]
        answers = [client.post("/v2/enqueue", json=keyless) for _ in range(2)]
        keys = [answer.json()["dedup_key"] for answer in answers]
        for answer, key in zip(answers, keys, strict=True):
            assert re.fullmatch(r"[0-9a-f]{32}", key), key
            assert_pagerduty_success(answer, key)
        assert keys[0] != keys[1]
        found = incidents_by_key(client)
        assert {found[key]["state"] for key in keys} == {"triggered"}


GENERIC_WEBHOOK = """
  generic_webhooks:
    - name: opsgenie
      summary: alert.message
      severity: alert.priority
      status: action
      dedup_key: alert.alias
      service: alert.entity
      labels: alert.details
      severity_map: {P1: critical, P2: error, P3: warning, P4: info, P5: info}
      status_map: {Create: firing, Acknowledge: acknowledged, Close: resolved}
"""


def test_generic_webhook(start_daemon: StartDaemon, tmp_path: Path) -> None:
    config = textwrap.dedent(CONFIG).replace("  timezone: UTC\n",
                                             "  timezone: UTC\n" + GENERIC_WEBHOOK[1:], 1)
    (tmp_path / "generic.yaml").write_text(config)
    try:
        load_config([tmp_path / "generic.yaml"])
    except ConfigInvalid as invalid:
        pytest.skip(f"settings.generic_webhooks is not in this build: {invalid.problems[0]}")
    daemon = start_daemon(config)
    body = {"action": "Create", "alert": {
        "message": "Disk /var is 95% full on db-1", "alias": "disk-full/db-1/var",
        "entity": "database", "priority": "P2", "details": {"host": "db-1", "mount": "/var"}}}
    with daemon.client() as client:
        response = client.post("/v1/ingest/generic/opsgenie", content=json.dumps(body),
                               headers={"content-type": "application/json"})
        if response.status_code == 404:
            pytest.skip("POST /v1/ingest/generic/{name} is not served by this build")
        [incident_id] = incident_ids(response)
        detail = show(client, incident_id)
        assert summary_of(detail) == ("generic:opsgenie", "database", "error", "triggered")
        assert detail["incident"]["dedup_key"] == "disk-full/db-1/var"
        assert detail["incident"]["labels"] == {"host": "db-1", "mount": "/var"}
        assert client.post("/v1/ingest/generic/nonesuch", json=body).status_code == 404
