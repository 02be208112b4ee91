"""PagerDuty's outgoing webhooks, V3 and V2 (payloads/SOURCES.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from router.alerts.formats import pagerduty_webhook
from router.alerts.model import Alert, Severity, Status
from router.errors import BadRequest
from tests.alerts.formats import LIMITS, NOW, example


def parse(document: Any) -> list[Alert]:
    return pagerduty_webhook.parse(json.dumps(document).encode(), {}, limits=LIMITS, now=NOW)


def test_a_v3_incident_event_is_one_alert_keyed_by_the_incident() -> None:
    [alert] = parse(example("pagerduty_webhook_v3.json"))
    assert (alert.summary, alert.source, alert.status, alert.severity) == (
        "A little bump in the road", "pagerduty_webhook", Status.FIRING, Severity.CRITICAL)
    assert alert.dedup_key == "pagerduty:PGR0VU2"
    assert alert.labels == {"pagerduty_service": "API Service", "urgency": "high",
                            "priority": "P1", "escalation_policy": "Default",
                            "teams": "Engineering"}
    assert alert.details == {"event_type": "incident.priority_updated",
                             "event_id": "5ac64822-4adc-4fda-ade0-410becf0de4f",
                             "incident_number": "2"}


def test_a_v3_resolved_incident_resolves() -> None:
    document = example("pagerduty_webhook_v3.json")
    document["event"]["event_type"] = "incident.resolved"
    document["event"]["data"]["status"] = "resolved"
    [alert] = parse(document)
    assert alert.status is Status.RESOLVED


def test_a_v3_event_without_the_status_takes_it_from_its_type() -> None:
    document = example("pagerduty_webhook_v3.json")
    document["event"]["event_type"] = "incident.acknowledged"
    del document["event"]["data"]["status"]
    assert parse(document)[0].status is Status.ACKNOWLEDGED


def test_a_v3_event_about_a_note_gives_no_alert() -> None:
    document = {"event": {"event_type": "incident.annotated", "data": {
        "type": "incident_note", "content": "I sure am glad we are using PagerDuty!"}}}
    assert parse(document) == []


def test_a_v2_message_gives_the_same_key_as_v3_would() -> None:
    [alert] = parse(example("pagerduty_webhook_v2.json"))
    assert (alert.summary, alert.status, alert.severity, alert.dedup_key) == (
        "My new incident", Status.FIRING, Severity.ERROR, "pagerduty:PRORDTY")
    assert alert.starts_at == datetime(2017, 9, 26, 15, 14, 36, tzinfo=UTC)
    assert alert.labels["pagerduty_service"] == "Production XDB Cluster"


@pytest.mark.parametrize(("document", "field"), [
    ({"event": {"data": {}}}, "event.event_type"),
    ({"event": "incident.triggered"}, "event"),
    ({"messages": {}}, "messages"),
    ({"messages": [{"incident": {"id": "P1"}}]}, "messages[0].incident.title"),
    ({"messages": [{"incident": {"id": "P1", "title": "t", "status": "gone"}}]},
     "messages[0].incident.status"),
])
def test_refusals_name_the_field(document: Any, field: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse(document)
    assert caught.value.field == field
