"""Opsgenie's outgoing webhook (payloads/SOURCES.md says where each copy came from)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from router.alerts.formats import opsgenie
from router.alerts.model import Alert, Severity, Status
from router.errors import BadRequest
from tests.alerts.formats import LIMITS, NOW, example


def parse(document: Any) -> list[Alert]:
    return opsgenie.parse(json.dumps(document).encode(), {}, limits=LIMITS, now=NOW)


def test_a_created_alert_fires_under_its_alias() -> None:
    assert parse(example("opsgenie_create.json")) == [Alert(
        summary="Test alert from monitoring", source="opsgenie", status=Status.FIRING,
        severity=Severity.WARNING, dedup_key="monitoring-alert-001",
        details={"alertId": "44f717bf-44bd-11c9-44c7-2d0cf1d07b23", "tinyId": "454",
                 "username": "admin@example.com"},
    )]


def test_a_closed_alert_resolves_with_its_details_as_labels() -> None:
    [alert] = parse(example("opsgenie_close.json"))
    assert (alert.status, alert.severity, alert.dedup_key) == (
        Status.RESOLVED, Severity.ERROR, "disk-full/db-1/var")
    assert alert.labels == {"host": "db-1", "mount": "/var", "entity": "database",
                            "teams": "storage"}
    assert alert.annotations == {"description": "Only 5% of /var is left.", "tags": "disk,prod"}
    assert alert.details["integrationName"] == "router"


@pytest.mark.parametrize(("action", "status"), [
    ("Acknowledge", Status.ACKNOWLEDGED), ("UnAcknowledge", Status.FIRING),
    ("Delete", Status.RESOLVED)])
def test_actions_that_change_the_state(action: str, status: Status) -> None:
    [alert] = parse(example("opsgenie_close.json") | {"action": action})
    assert alert.status is status
    assert (alert.starts_at is not None) == (status is Status.FIRING)


def test_a_firing_alert_starts_at_its_creation() -> None:
    [alert] = parse(example("opsgenie_close.json") | {"action": "Create"})
    assert alert.starts_at == datetime(2024, 5, 29, 16, 26, 40, tzinfo=UTC)


@pytest.mark.parametrize("action", ["AddNote", "AssignOwnership", "Escalate"])
def test_other_actions_give_no_alert(action: str) -> None:
    assert parse(example("opsgenie_close.json") | {"action": action}) == []


@pytest.mark.parametrize(("change", "field"), [
    ({"action": None}, "action"), ({"alert": None}, "alert"), ({"alert": []}, "alert"),
    ({"alert": {"alias": "x"}}, "alert.message"),
    ({"alert": {"message": "m", "tags": "disk"}}, "alert.tags"),
])
def test_refusals_name_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse(example("opsgenie_create.json") | change)
    assert caught.value.field == field
