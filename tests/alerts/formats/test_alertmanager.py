"""The Alertmanager webhook, with payloads a real Alertmanager sent.

payloads/alertmanager_firing.json and alertmanager_resolved.json are the exact bodies Debian's
prometheus-alertmanager 0.25.0 POSTed to a webhook receiver (User-Agent Alertmanager/0.25.0)
after payloads/alertmanager_v2_firing.json, then alertmanager_v2_resolved.json, were posted to
its /api/v2/alerts; the fingerprints in them are Alertmanager's own.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from router.alerts.formats import alertmanager
from router.alerts.formats._json import MAX_ALERTS
from router.alerts.identity import alert_identity
from router.alerts.model import Alert, Link, Severity, Status
from router.errors import BadRequest
from tests.alerts.formats import LIMITS, NOW

PAYLOADS = Path(__file__).parent / "payloads"
GENERATOR = (
    "http://prometheus.example.com:9090/graph?g0.expr=job%3Aerror_rate%3Aratio5m+%3E+0.05&g0.tab=1"
)


def payload(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


def expected(instance: str, fingerprint: str, failing: str, minute: int) -> Alert:
    """The alert router makes of an entry; `fingerprint` is the one Alertmanager gave it,
    which router computes from the labels only where it shows it."""
    labels = {"alertname": "HighErrorRate", "instance": instance, "job": "api",
              "service": "api", "severity": "critical"}
    assert alertmanager.fingerprint(labels) == fingerprint
    return Alert(
        summary=f"Error rate above 5% on {instance}",
        source="alertmanager",
        severity=Severity.CRITICAL,
        status=Status.FIRING,
        labels=labels,
        annotations={"description": f"{failing} of requests fail",
                     "runbook_url": "https://runbooks.example.com/HighErrorRate",
                     "summary": f"Error rate above 5% on {instance}"},
        service="api",
        dedup_key=alert_identity(labels),
        starts_at=datetime(2026, 11, 23, 14, minute, 29, tzinfo=UTC),
        links=(Link(href=GENERATOR, text="Source"),),
    )


FIRST = expected("api-1:8080", "0f3ef813eb86bd39", "15%", 14)
SECOND = expected("api-2:8080", "1d3f58b2d7994044", "9%", 15)


def test_a_firing_group_gives_one_alert_per_entry_keyed_by_fingerprint() -> None:
    headers = {"content-type": "application/json", "user-agent": "Alertmanager/0.25.0"}
    assert alertmanager.parse(payload("alertmanager_firing.json"), headers,
            limits=LIMITS, now=NOW) == [FIRST, SECOND]


def test_each_alert_keeps_its_own_status_and_end() -> None:
    resolved = dataclasses.replace(
        SECOND,
        status=Status.RESOLVED,
        ends_at=datetime(2026, 11, 23, 14, 17, 31, 368000, tzinfo=UTC),
    )
    assert alertmanager.parse(payload("alertmanager_resolved.json"), {},
            limits=LIMITS, now=NOW) == [FIRST, resolved]


def test_fields_of_newer_alertmanagers_are_ignored() -> None:
    document = json.loads(payload("alertmanager_firing.json"))
    document["notification_reason"] = "new alerts added"
    document["routeLabels"] = {"team": "api"}
    document["alerts"][0]["somethingNew"] = {"nested": [1, 2]}
    assert alertmanager.parse(json.dumps(document).encode(), {},
                              limits=LIMITS, now=NOW) == [FIRST, SECOND]


def test_the_key_is_the_labels_identity_with_or_without_the_fingerprint_field() -> None:
    """Keyed by the labels, as alerts straight from Prometheus (alertmanager_v2) are, so the
    same alert joins one incident whichever way it comes."""
    document = json.loads(payload("alertmanager_firing.json"))
    for entry in document["alerts"]:
        del entry["fingerprint"]
    alerts = alertmanager.parse(json.dumps(document).encode(), {}, limits=LIMITS, now=NOW)
    assert [alert.dedup_key for alert in alerts] == [FIRST.dedup_key, SECOND.dedup_key]
    assert FIRST.dedup_key == alert_identity(FIRST.labels) != SECOND.dedup_key


def test_fingerprint_of_no_labels_is_the_fnv_offset() -> None:
    assert alertmanager.fingerprint({}) == "cbf29ce484222325"


# Computed independently: FNV-1a 64 in C on uint64_t (name 0xff value 0xff, names sorted).
_HUGE_FINGERPRINTS = {100_000: "3efd351878fd51d7", 1_000_000: "c0e2f31644824347"}


def _huge_labels(size: int) -> dict[str, str]:
    value = "".join("0123456789abcdef"[(position * 7) % 16] for position in range(size))
    return {"job": "café", "instance": value, "alertname": "Huge"}


def test_fingerprint_of_a_label_set_computed_independently() -> None:
    assert alertmanager.fingerprint({"alertname": "HighErrorRate"}) == "271f101352bce682"
    assert alertmanager.fingerprint(_huge_labels(100_000)) == _HUGE_FINGERPRINTS[100_000]


def test_fingerprint_of_a_1_mb_label_is_linear_work() -> None:
    """The quadratic digest took about an hour for 1 MB; linear work takes well under a
    second. A child process, so the old code fails on the 60 s guard instead of hanging."""
    script = (
        "from router.alerts.formats import alertmanager\n"
        "from tests.alerts.formats.test_alertmanager import _huge_labels\n"
        "print(alertmanager.fingerprint(_huge_labels(1_000_000)))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=True, cwd=Path(__file__).parents[3])
    assert done.stdout.strip() == _HUGE_FINGERPRINTS[1_000_000]


def test_fingerprint_is_the_same_for_cached_and_uncached_label_sets() -> None:
    small = {"alertname": "Small", "instance": "x" * 100}
    large = {"alertname": "Large", "instance": "x" * 5000}  # over the cache's size
    for labels in (small, large):
        assert alertmanager.fingerprint(labels) == alertmanager.fingerprint(dict(labels))


def one(entry: dict[str, object]) -> Alert:
    body = json.dumps({"version": "4", "alerts": [{"status": "firing", **entry}]}).encode()
    (alert,) = alertmanager.parse(body, {}, limits=LIMITS, now=NOW)
    return alert


@pytest.mark.parametrize(
    ("level", "severity"),
    [
        ("critical", Severity.CRITICAL), ("page", Severity.CRITICAL),
        ("error", Severity.ERROR), ("high", Severity.ERROR), ("ERROR", Severity.ERROR),
        ("warning", Severity.WARNING), ("warn", Severity.WARNING),
        ("medium", Severity.WARNING), ("info", Severity.INFO), ("low", Severity.INFO),
        ("none", Severity.INFO), (" Critical ", Severity.CRITICAL),
        ("disaster", Severity.WARNING), ("", Severity.WARNING),
    ],
)
def test_severity_label_maps_onto_router_levels(level: str, severity: Severity) -> None:
    assert one({"labels": {"alertname": "A", "severity": level}}).severity is severity


def test_no_severity_label_is_warning() -> None:
    assert one({"labels": {"alertname": "A"}}).severity is Severity.WARNING


@pytest.mark.parametrize(
    ("labels", "annotations", "summary"),
    [
        ({"alertname": "A"}, {"summary": "S", "description": "D"}, "S"),
        ({"alertname": "A"}, {"summary": "", "description": "D"}, "D"),
        ({"alertname": "A"}, {"runbook_url": "r"}, "A"),
        ({"job": "api", "instance": "i"}, {}, "instance=i, job=api"),
    ],
)
def test_summary_falls_back_from_annotations_to_labels(
    labels: dict[str, str], annotations: dict[str, str], summary: str
) -> None:
    assert one({"labels": labels, "annotations": annotations}).summary == summary


def test_no_service_label_no_times_no_link() -> None:
    alert = one({"labels": {"alertname": "A"}, "generatorURL": "", "endsAt": None})
    assert (alert.service, alert.starts_at, alert.ends_at, alert.links) == (None, None, None, ())


def alerts_body(*entries: object) -> bytes:
    return json.dumps({"alerts": list(entries)}).encode()


FIRING = {"status": "firing", "labels": {"alertname": "A"}}


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (b"{", "", "invalid JSON at line 1, column 2: "
         "Expecting property name enclosed in double quotes"),
        (b"[]", "", "expected a JSON object (an Alertmanager webhook), got a list"),
        (b"{}", "alerts", "is required"),
        (b'{"alerts": {}}', "alerts", "expected a list of alerts, got a mapping"),
        (alerts_body(*[FIRING] * (MAX_ALERTS + 1)), "alerts",
         f"at most {MAX_ALERTS} alerts per request, got {MAX_ALERTS + 1}"),
        (alerts_body(FIRING, "x"), "alerts[1]", "expected an alert object, got text"),
        (alerts_body({"labels": {"a": "b"}}), "alerts[0].status", "is required"),
        (alerts_body({**FIRING, "status": "pending"}), "alerts[0].status",
         "expected one of firing, resolved; got 'pending'"),
        (alerts_body({"status": "firing"}), "alerts[0].labels", "is required"),
        (alerts_body(FIRING, FIRING, {**FIRING, "labels": ["a"]}), "alerts[2].labels",
         "expected a mapping of label names to text, got a list"),
        (alerts_body({**FIRING, "labels": {"severity": 3}}), "alerts[0].labels.severity",
         "expected text, got a number"),
        (alerts_body({**FIRING, "annotations": "x"}), "alerts[0].annotations",
         "expected a mapping of annotation names to text, got text"),
        (alerts_body({**FIRING, "startsAt": "2026-11-23 14:14"}), "alerts[0].startsAt",
         "expected an RFC 3339 timestamp like 2026-05-24T09:30:00Z, got '2026-11-23 14:14'"),
        (alerts_body({**FIRING, "endsAt": 0}), "alerts[0].endsAt", "expected text, got a number"),
        (alerts_body({**FIRING, "fingerprint": 12}), "alerts[0].fingerprint",
         "expected text, got a number"),
        (alerts_body({**FIRING, "generatorURL": []}), "alerts[0].generatorURL",
         "expected text, got a list"),
    ],
)
def test_bad_input_names_the_field(body: bytes, field: str, message: str) -> None:
    with pytest.raises(BadRequest) as caught:
        alertmanager.parse(body, {}, limits=LIMITS, now=NOW)
    assert (caught.value.field, caught.value.message) == (field, message)
