"""New Relic webhooks: the classic channel's payload and a workflow's default template
(payloads/SOURCES.md says where each copy came from)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from router.alerts.formats import new_relic
from router.alerts.model import Link, Severity, Status
from router.errors import BadRequest
from tests.alerts.formats import LIMITS, NOW, example


def parse(document: Any) -> list[Any]:
    return new_relic.parse(json.dumps(document).encode(), {}, limits=LIMITS, now=NOW)


def test_the_classic_payload_is_one_firing_alert_per_incident() -> None:
    [alert] = parse(example("new_relic_classic.json"))
    assert (alert.summary, alert.source, alert.status, alert.severity) == (
        "All", "new_relic", Status.FIRING, Severity.CRITICAL)
    assert alert.dedup_key == "new_relic:incident:163450695"
    assert alert.labels["policy"] == "srodev2 synthetic policy"
    assert alert.labels["target"] == "srodev2 - synthetic"
    assert alert.labels["monitorType"] == "Scripted API"
    assert alert.annotations == {"description": "Monitor failed for location San Francisco, "
                                                "CA, USA on 'srodev2 - synthetic'"}
    assert alert.starts_at == datetime(2020, 9, 18, 19, 37, 30, 876000, tzinfo=UTC)
    assert alert.links[0] == Link(
        href="https://alerts.newrelic.com/accounts/2857531/incidents/163450695",
        text="New Relic incident")


@pytest.mark.parametrize(("state", "status"), [
    ("acknowledged", Status.ACKNOWLEDGED), ("CLOSED", Status.RESOLVED), ("open", Status.FIRING)])
def test_the_classic_state_decides_the_status(state: str, status: Status) -> None:
    document = example("new_relic_classic.json") | {"current_state": state}
    [alert] = parse(document)
    assert alert.status is status
    assert alert.dedup_key == "new_relic:incident:163450695"
    assert (alert.ends_at is not None) == (status is Status.RESOLVED)


def test_an_unknown_classic_state_is_refused_naming_it() -> None:
    with pytest.raises(BadRequest) as caught:
        parse(example("new_relic_classic.json") | {"current_state": "snoozed"})
    assert caught.value.field == "current_state"
    assert "open, acknowledged, closed" in caught.value.message


def test_the_workflow_payload_is_read_by_its_issue() -> None:
    [alert] = parse(example("new_relic_workflow.json"))
    assert alert.summary.startswith("zulip_app query result is > 1.0")
    assert (alert.status, alert.severity) == (Status.FIRING, Severity.CRITICAL)
    assert alert.dedup_key == "new_relic:issue:c5faa7e6-7b54-402d-af79-f99601e0278c"
    assert alert.labels == {"policy": "Zulip Server Alert Policy",
                            "condition": "Zulip Server Low Storage",
                            "entities": "zulip_app", "workflow": "zulip workflow"}
    assert alert.links[0].text == "New Relic issue"


@pytest.mark.parametrize(("state", "priority", "status", "severity"), [
    ("CLOSED", "HIGH", Status.RESOLVED, Severity.ERROR),
    ("ACKNOWLEDGED", "LOW", Status.ACKNOWLEDGED, Severity.INFO),
    ("CREATED", "MEDIUM", Status.FIRING, Severity.WARNING)])
def test_the_workflow_state_and_priority(state: str, priority: str, status: Status,
                                         severity: Severity) -> None:
    [alert] = parse(example("new_relic_workflow.json") | {"state": state, "priority": priority})
    assert (alert.status, alert.severity) == (status, severity)


def test_a_workflow_title_list_gives_its_first_entry() -> None:
    [alert] = parse(example("new_relic_workflow.json") | {"title": ["Disk full", "other"]})
    assert alert.summary == "Disk full"


@pytest.mark.parametrize(("change", "field"), [
    ({"incident_id": None}, "incident_id"),
    ({"condition_name": None, "policy_name": None}, "condition_name"),
    ({"timestamp": "yesterday"}, "timestamp"),
    ({"timestamp": 999999999999999}, "timestamp"),  # past year 9999: out of range, not a 500
    ({"targets": [{"labels": ["a"]}]}, "targets[0].labels"),
])
def test_classic_refusals_name_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse(example("new_relic_classic.json") | change)
    assert caught.value.field == field
