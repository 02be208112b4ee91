"""Alertmanager API v2 `POST /api/v2/alerts`, as Prometheus sends it.

payloads/alertmanager_v2_firing.json is shaped as Prometheus sends (labels, annotations,
startsAt, endsAt a few minutes ahead, generatorURL) and was accepted by a real Alertmanager
0.25.0, which gave the two alerts the fingerprints 0f3ef813eb86bd39 and 1d3f58b2d7994044 (see
its webhook bodies in payloads/alertmanager_*.json). alertmanager_v2_resolved.json re-sends
the second one with endsAt in the past, which is how Prometheus resolves.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from router.alerts.formats import alertmanager, alertmanager_v2
from router.alerts.formats._json import MAX_ALERTS
from router.alerts.identity import alert_identity
from router.alerts.model import Alert, Link, Severity, Status
from router.errors import BadRequest
from tests.alerts.formats import LIMITS

PAYLOADS = Path(__file__).parent / "payloads"
GENERATOR = (
    "http://prometheus.example.com:9090/graph?g0.expr=job%3Aerror_rate%3Aratio5m+%3E+0.05&g0.tab=1"
)
ARRIVED = datetime(2026, 11, 23, 14, 17, 25, tzinfo=UTC)
RESOLVED_AT = datetime(2026, 11, 23, 14, 17, 31, 368000, tzinfo=UTC)


def payload(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


def expected(instance: str, fingerprint: str, failing: str, minute: int) -> Alert:
    """Keyed by the labels' identity; `fingerprint`, what Alertmanager 0.25 gave the alert, is
    what router computes from the labels where it shows it (GET /api/v2/alerts)."""
    labels = {"alertname": "HighErrorRate", "job": "api", "instance": instance,
              "severity": "critical", "service": "api"}
    assert alertmanager.fingerprint(labels) == fingerprint
    return Alert(
        summary=f"Error rate above 5% on {instance}",
        source="alertmanager_v2",
        severity=Severity.CRITICAL,
        status=Status.FIRING,
        labels=labels,
        annotations={"summary": f"Error rate above 5% on {instance}",
                     "description": f"{failing} of requests fail",
                     "runbook_url": "https://runbooks.example.com/HighErrorRate"},
        service="api",
        dedup_key=alert_identity(labels),
        starts_at=datetime(2026, 11, 23, 14, minute, 29, tzinfo=UTC),
        ends_at=datetime(2026, 11, 23, 14, 21, 29, tzinfo=UTC),
        links=(Link(href=GENERATOR, text="Source"),),
    )


def test_firing_alerts_get_alertmanagers_own_fingerprints() -> None:
    headers = {"content-type": "application/json", "user-agent": "Prometheus/2.42.0"}
    alerts = alertmanager_v2.parse(payload("alertmanager_v2_firing.json"), headers,
            limits=LIMITS, now=ARRIVED)
    assert alerts == [
        expected("api-1:8080", "0f3ef813eb86bd39", "15%", 14),
        expected("api-2:8080", "1d3f58b2d7994044", "9%", 15),
    ]


def test_ends_at_in_the_past_resolves() -> None:
    now = RESOLVED_AT + timedelta(seconds=1)
    (alert,) = alertmanager_v2.parse(payload("alertmanager_v2_resolved.json"), {},
            limits=LIMITS, now=now)
    assert (alert.status, alert.ends_at, alert.dedup_key) == (
        Status.RESOLVED, RESOLVED_AT, alert_identity(alert.labels)
    )


@pytest.mark.parametrize(
    ("now", "status"),
    [
        (RESOLVED_AT - timedelta(microseconds=1), Status.FIRING),
        (RESOLVED_AT, Status.RESOLVED),
        (RESOLVED_AT + timedelta(days=1), Status.RESOLVED),
    ],
)
def test_status_is_decided_against_now(now: datetime, status: Status) -> None:
    (alert,) = alertmanager_v2.parse(payload("alertmanager_v2_resolved.json"), {},
            limits=LIMITS, now=now)
    assert alert.status is status


def test_a_resend_of_a_firing_alert_stays_firing_with_the_same_key() -> None:
    first = alertmanager_v2.parse(payload("alertmanager_v2_firing.json"), {},
            limits=LIMITS, now=ARRIVED)
    later = ARRIVED + timedelta(minutes=1)
    again = alertmanager_v2.parse(payload("alertmanager_v2_firing.json"), {},
                                  limits=LIMITS, now=later)
    assert [alert.status for alert in again] == [Status.FIRING, Status.FIRING]
    assert [alert.dedup_key for alert in again] == [alert.dedup_key for alert in first]


def one(entry: dict[str, object], now: datetime = ARRIVED) -> Alert:
    (alert,) = alertmanager_v2.parse(json.dumps([entry]).encode(), {}, limits=LIMITS, now=now)
    return alert


def test_without_times_the_alert_starts_now_and_fires() -> None:
    alert = one({"labels": {"alertname": "A"}})
    assert (alert.starts_at, alert.ends_at, alert.status) == (ARRIVED, None, Status.FIRING)


def test_without_start_the_end_is_the_start() -> None:
    alert = one({"labels": {"alertname": "A"}, "endsAt": "2026-11-23T14:00:00Z"})
    assert alert.starts_at == alert.ends_at == datetime(2026, 11, 23, 14, tzinfo=UTC)
    assert alert.status is Status.RESOLVED


def test_gos_zero_time_is_no_end() -> None:
    alert = one({"labels": {"alertname": "A"}, "endsAt": "0001-01-01T00:00:00Z"})
    assert (alert.ends_at, alert.status) == (None, Status.FIRING)


def test_empty_label_values_are_dropped_before_the_fingerprint() -> None:
    alert = one({"labels": {"alertname": "A", "instance": ""}})
    assert alert.labels == {"alertname": "A"}
    assert alert.dedup_key == one({"labels": {"alertname": "A"}}).dedup_key


def test_summary_severity_and_service_follow_the_webhook() -> None:
    alert = one({"labels": {"alertname": "DiskFull", "severity": "page", "service": "db"}})
    assert (alert.summary, alert.severity, alert.service) == ("DiskFull", Severity.CRITICAL, "db")


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (b'{"labels": {}}', "", "expected a JSON list of alerts, got a mapping"),
        (json.dumps([{"labels": {"a": "b"}}] * (MAX_ALERTS + 1)).encode(), "",
         f"at most {MAX_ALERTS} alerts per request, got {MAX_ALERTS + 1}"),
        (b"[null]", "[0]", "expected an alert object, got null"),
        (b"[{}]", "[0].labels", "is required"),
        (b'[{"labels": {"a": "b"}}, {"labels": []}]', "[1].labels",
         "expected a mapping of label names to text, got a list"),
        (b'[{"labels": {}}]', "[0].labels", "must hold at least one non-empty label"),
        (b'[{"labels": {"a": ""}}]', "[0].labels", "must hold at least one non-empty label"),
        (b'[{"labels": {"a": 1}}]', "[0].labels.a", "expected text, got a number"),
        (b'[{"labels": {"a": "b"}, "annotations": {"s": false}}]', "[0].annotations.s",
         "expected text, got a boolean"),
        (b'[{"labels": {"a": "b"}, "startsAt": "now"}]', "[0].startsAt",
         "expected an RFC 3339 timestamp like 2026-05-24T09:30:00Z, got 'now'"),
        (b'[{"labels": {"a": "b"}, "startsAt": "2026-11-23T14:00:00Z",'
         b' "endsAt": "2026-11-23T13:59:59Z"}]', "[0].endsAt", "is before startsAt"),
        (b'[{"labels": {"a": "b"}, "generatorURL": 1}]', "[0].generatorURL",
         "expected text, got a number"),
    ],
)
def test_bad_input_names_the_field(body: bytes, field: str, message: str) -> None:
    with pytest.raises(BadRequest) as caught:
        alertmanager_v2.parse(body, {}, limits=LIMITS, now=ARRIVED)
    assert (caught.value.field, caught.value.message) == (field, message)
