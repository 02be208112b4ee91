"""Grafana's webhook contact point, with the example payload of Grafana's documentation.

payloads/grafana.json is the "Webhook JSON payload" example of grafana/grafana
docs/sources/alerting/configure-notifications/manage-contact-points/integrations/
webhook-notifier.md, unchanged.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from router.alerts.formats import grafana
from router.alerts.model import Alert, Link, Severity, Status
from router.errors import BadRequest
from tests.alerts.formats import LIMITS, NOW

PAYLOADS = Path(__file__).parent / "payloads"
SILENCE = (
    "https://play.grafana.org/alerting/silence/new?alertmanager=grafana&matchers="
    "alertname%3D{name}%2Cteam%3Dblue%2Czone%3D{zone}"
)


def expected(name: str, zone: str, what: str, rule: str, fingerprint: str, minute: int,
             silenced: str) -> Alert:
    return Alert(
        summary=f"This alert was triggered for zone {zone}",
        source="grafana",
        severity=Severity.WARNING,
        status=Status.FIRING,
        labels={"alertname": name, "team": "blue", "zone": zone},
        annotations={"description": f"The system has high {what} usage",
                     "runbook_url": "https://myrunbook.com/runbook/1234",
                     "summary": f"This alert was triggered for zone {zone}"},
        details={"values.B": "44.23943737541908", "values.C": "1", "orgId": "1"},
        dedup_key=fingerprint,
        starts_at=datetime(2021, 10, 12, 7, minute, 3, 157076, tzinfo=UTC),
        links=(
            Link(href=f"https://play.grafana.org/alerting/{rule}/edit", text="Alert rule"),
            Link(href=SILENCE.format(name=silenced, zone=zone), text="Silence"),
        ),
    )


def test_the_documented_example_maps_every_field() -> None:
    body = (PAYLOADS / "grafana.json").read_bytes()
    assert grafana.parse(body, {"content-type": "application/json"}, limits=LIMITS, now=NOW) == [
        expected("High memory usage", "us-1", "memory", "1afz29v7z", "c6eadffa33fcdf37", 51,
                 "T2"),
        expected("High CPU usage", "eu-1", "CPU", "d1rdpdv7k", "bc97ff14869b13e3", 56, "T1"),
    ]


def one(entry: dict[str, object], **document: object) -> Alert:
    alert = {"status": "resolved", "labels": {"alertname": "A"}, **entry}
    (parsed,) = grafana.parse(json.dumps({"alerts": [alert], **document}).encode(), {},
            limits=LIMITS, now=NOW)
    return parsed


def test_every_link_value_string_image_and_own_org() -> None:
    alert = one({
        "generatorURL": "g", "silenceURL": "s", "dashboardURL": "d", "panelURL": "p",
        "imageURL": "i", "valueString": "[ var='B' value=44 ]", "orgId": 7,
        "endsAt": "2021-10-12T10:00:00+02:00",
    }, orgId=1)
    assert alert.links == (
        Link(href="g", text="Alert rule"), Link(href="s", text="Silence"),
        Link(href="d", text="Dashboard"), Link(href="p", text="Panel"),
        Link(href="i", text="Image"),
    )
    assert alert.details == {"valueString": "[ var='B' value=44 ]", "orgId": "7"}
    assert (alert.status, alert.ends_at) == (
        Status.RESOLVED, datetime(2021, 10, 12, 8, tzinfo=UTC)
    )


def test_severity_label_and_service_as_alertmanager() -> None:
    alert = one({"labels": {"alertname": "A", "severity": "Critical", "service": "web"}})
    assert (alert.severity, alert.service) == (Severity.CRITICAL, "web")


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (b"1", "", "expected a JSON object (a Grafana webhook), got a number"),
        (b'{"orgId": 1}', "alerts", "is required"),
        (b'{"orgId": "1", "alerts": []}', "orgId", "expected a number, got text"),
        (b'{"alerts": [{"status": "alerting", "labels": {}}]}', "alerts[0].status",
         "expected one of firing, resolved; got 'alerting'"),
        (b'{"alerts": [{"status": "firing", "labels": {"a": "b"}, "values": [1]}]}',
         "alerts[0].values", "expected a mapping, got a list"),
        (b'{"alerts": [{"status": "firing", "labels": {"a": "b"}, "valueString": 1}]}',
         "alerts[0].valueString", "expected text, got a number"),
        (b'{"alerts": [{"status": "firing", "labels": {"a": "b"}, "orgId": true}]}',
         "alerts[0].orgId", "expected a number, got a boolean"),
        (b'{"alerts": [{"status": "firing", "labels": {"a": "b"}, "silenceURL": {}}]}',
         "alerts[0].silenceURL", "expected text, got a mapping"),
    ],
)
def test_bad_input_names_the_field(body: bytes, field: str, message: str) -> None:
    with pytest.raises(BadRequest) as caught:
        grafana.parse(body, {}, limits=LIMITS, now=NOW)
    assert (caught.value.field, caught.value.message) == (field, message)
