"""Zabbix through the webhook media type docs/formats.md gives (payloads/SOURCES.md)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from router.alerts.formats import zabbix
from router.alerts.model import Alert, Link, Severity, Status
from router.errors import BadRequest
from tests.alerts.formats import LIMITS, NOW, example


def parse(document: Any) -> list[Alert]:
    return zabbix.parse(json.dumps(document).encode(), {}, limits=LIMITS, now=NOW)


def test_a_problem_fires_and_its_recovery_resolves_the_same_key() -> None:
    [problem] = parse(example("zabbix_problem.json"))
    [recovery] = parse(example("zabbix_recovery.json"))
    assert problem == Alert(
        summary="/var: Disk space is critically low (used > 90%)", source="zabbix",
        severity=Severity.ERROR, status=Status.FIRING,
        labels={"scope": "capacity", "component": "storage", "service": "database",
                "host": "db-1", "trigger_id": "23712"},
        annotations={"description": "Two conditions should match: First, space utilization "
                                    "should be above 90%.",
                     "operational_data": "Space utilization: 95.2 %"},
        details={"host_ip": "192.0.2.17", "item_value": "95.2 %", "event_source": "0",
                 "event_date": "2026.11.23", "event_time": "14:17:25"},
        service="database", dedup_key="zabbix:1000452",
        links=(Link(href="https://zabbix.example.com/tr_events.php?triggerid=23712&"
                         "eventid=1000452", text="Zabbix event"),),
    )
    assert (recovery.status, recovery.dedup_key) == (Status.RESOLVED, "zabbix:1000452")
    assert len(recovery.links) == 1  # {TRIGGER.URL} was left unresolved: absent


@pytest.mark.parametrize(("severity", "expected"), [
    ("Disaster", Severity.CRITICAL), ("Average", Severity.WARNING),
    ("Information", Severity.INFO), ("Not classified", Severity.INFO),
    ("{TRIGGER.SEVERITY}", Severity.ERROR)])  # unresolved: event_nseverity 4
def test_severities(severity: str, expected: Severity) -> None:
    [alert] = parse(example("zabbix_problem.json") | {"trigger_severity": severity})
    assert alert.severity is expected


def test_an_acknowledging_update_acknowledges() -> None:
    [alert] = parse(example("zabbix_problem.json") | {"event_update_status": "1",
                                                      "event_ack_status": "Yes"})
    assert alert.status is Status.ACKNOWLEDGED


def test_repeated_tags_join_their_values() -> None:
    [alert] = parse(example("zabbix_problem.json") | {"event_tags": "team:a, team:b, solo"})
    assert (alert.labels["team"], alert.labels["solo"]) == ("a,b", "")


@pytest.mark.parametrize(("change", "field"), [
    ({"trigger_name": ""}, "trigger_name"), ({"event_id": None}, "event_id"),
    ({"event_value": "2"}, "event_value"), ({"host_name": ["db"]}, "host_name")])
def test_refusals_name_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse(example("zabbix_problem.json") | change)
    assert caught.value.field == field
