"""Datadog webhooks, in the template docs/formats.md recommends and in Datadog's default payload.

Datadog's body is a user template, so there is no captured payload to copy: the payloads are
the templates filled with the example values Datadog's Webhooks page gives for each variable
(https://docs.datadoghq.com/integrations/webhooks/: $AGGREG_KEY 9bd4ac313a4d1e8fae2482df7b77628,
$DATE 1406662672000, $ALERT_SCOPE "availability-zone:us-east-1a, role:computing-node", $TAGS
"monitor, name:myService, role:computing-node", $EVENT_TITLE "[Triggered] [Memory Alert]",
...). datadog_default.json is Datadog's default payload as the reference gives it.
"""

from __future__ import annotations

import json
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path

import pytest

from router.alerts.formats import datadog
from router.alerts.model import Alert, Link, Severity, Status
from router.errors import BadRequest
from tests.alerts.formats import LIMITS, NOW

PAYLOADS = Path(__file__).parent / "payloads"
LABELS = {"monitor": "", "name": "myService", "role": "computing-node", "service": "api",
          "availability-zone": "us-east-1a", "host": "ip-012345"}


def payload(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


def details(event_id: str) -> dict[str, str]:
    return {"id": event_id, "alert_id": "1234", "alert_type": "error", "alert_priority": "P2",
            "priority": "normal", "alert_metric": "datadog.agent.up",
            "last_updated": "1406662672000", "event_type": "service_check",
            "org.id": "123456", "org.name": "Datadog"}


def test_the_recommended_template_triggered() -> None:
    assert datadog.parse(payload("datadog_triggered.json"), {}, limits=LIMITS, now=NOW) == [
        Alert(
            summary="[Triggered on {host:ip-012345}] Host is Down",
            source="datadog",
            severity=Severity.ERROR,
            status=Status.FIRING,
            labels=LABELS,
            annotations={"description": "Host ip-012345 has stopped reporting."},
            details=details("1234567"),
            service="api",
            dedup_key="7035780875230145089",
            starts_at=datetime(2014, 7, 29, 19, 37, 52, tzinfo=UTC),
            links=(Link(href="https://app.datadoghq.com/event/jump_to?event_id=1234567",
                        text="Datadog event"),),
        )
    ]


def test_the_recommended_template_recovered_resolves_the_same_key() -> None:
    (alert,) = datadog.parse(payload("datadog_recovered.json"), {}, limits=LIMITS, now=NOW)
    assert (alert.status, alert.dedup_key, alert.starts_at, alert.ends_at) == (
        Status.RESOLVED, "7035780875230145089", None, datetime(2014, 7, 29, 19, 42, 52, tzinfo=UTC)
    )
    assert alert.severity is Severity.ERROR  # the monitor's priority, not "success"


def test_the_default_payload() -> None:
    assert datadog.parse(payload("datadog_default.json"), {}, limits=LIMITS, now=NOW) == [
        Alert(
            summary="[Triggered] [Memory Alert]",
            source="datadog",
            annotations={"description": "%%%\nMemory usage is above 90% on host ip-012345"
                                        "\n\n@webhook-router\n%%%"},
            details={"last_updated": "1406662672000", "event_type": "metric_alert_monitor",
                     "org.id": "123456", "org.name": "Datadog", "id": "1234567"},
            starts_at=datetime(2014, 7, 29, 19, 37, 52, tzinfo=UTC),
        )
    ]


def test_encode_as_form_reads_the_same_fields() -> None:
    document = json.loads(payload("datadog_triggered.json"))
    del document["org"]
    body = urllib.parse.urlencode(document).encode()
    headers = {"content-type": "application/x-www-form-urlencoded; charset=utf-8"}
    (alert,) = datadog.parse(body, headers, limits=LIMITS, now=NOW)
    (expected,) = datadog.parse(json.dumps(document).encode(), {}, limits=LIMITS, now=NOW)
    assert alert == expected and alert.dedup_key == "7035780875230145089"


def one(**fields: object) -> Alert:
    (alert,) = datadog.parse(json.dumps({"title": "t", **fields}).encode(), {},
                             limits=LIMITS, now=NOW)
    return alert


@pytest.mark.parametrize(
    ("transition", "status"),
    [("Triggered", Status.FIRING), ("Re-Triggered", Status.FIRING), ("Warn", Status.FIRING),
     ("Re-Warn", Status.FIRING), ("No Data", Status.FIRING), ("Re-No Data", Status.FIRING),
     ("Renotify", Status.FIRING), ("Recovered", Status.RESOLVED), (" Recovered ", Status.RESOLVED)],
)
def test_transition_gives_status(transition: str, status: Status) -> None:
    assert one(alert_transition=transition).status is status


@pytest.mark.parametrize(
    ("title", "status"),
    [("[Recovered] [Memory Alert]", Status.RESOLVED), ("[P1] [Recovered on {host:a}] x",
                                                       Status.RESOLVED),
     ("[Re-Triggered] x", Status.FIRING), ("[No Data] x", Status.FIRING),
     ("Memory Alert", Status.FIRING)],
)
def test_without_transition_the_title_gives_status(title: str, status: Status) -> None:
    assert one(title=title, alert_transition="").status is status


@pytest.mark.parametrize(
    ("fields", "severity"),
    [({"alert_priority": "P1"}, Severity.CRITICAL), ({"alert_priority": "P2"}, Severity.ERROR),
     ({"alert_priority": "p3"}, Severity.WARNING), ({"alert_priority": "P4"}, Severity.INFO),
     ({"alert_priority": "P5", "alert_type": "error"}, Severity.INFO),
     ({"alert_priority": "", "alert_type": "error"}, Severity.ERROR),
     ({"alert_type": "warning"}, Severity.WARNING), ({"alert_type": "info"}, Severity.INFO),
     ({"alert_type": "success"}, Severity.INFO), ({"alert_type": "odd"}, Severity.WARNING),
     ({}, Severity.WARNING)],
)
def test_priority_then_alert_type_give_severity(
    fields: dict[str, str], severity: Severity
) -> None:
    assert one(**fields).severity is severity


@pytest.mark.parametrize(
    ("fields", "dedup_key"),
    [({"alert_cycle_key": "c", "aggreg_key": "a", "alert_id": "1"}, "c"),
     ({"alert_cycle_key": "", "aggreg_key": "a", "alert_id": "1"}, "a"),
     ({"alert_id": 1234}, "1234"), ({}, None)],
)
def test_dedup_key_prefers_the_cycle_key(fields: dict[str, object], dedup_key: str) -> None:
    assert one(**fields).dedup_key == dedup_key


def test_tags_repeat_and_hostname_does_not_override_a_host_tag() -> None:
    alert = one(tags="role:a, role:b,role:a, :x, ,env:prod:eu, host:h1", hostname="h2")
    assert alert.labels == {"role": "a,b", "env": "prod:eu", "host": "h1"}


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (b"[]", "", "expected a JSON object (a Datadog webhook), got a list"),
        (b"{}", "title", "is required"),
        (b'{"title": ""}', "title", "must not be empty"),
        (b'{"title": "t", "alert_transition": "Null"}', "alert_transition",
         "expected one of Triggered, Re-Triggered, Warn, Re-Warn, No Data, Re-No Data, "
         "Renotify, Recovered; got 'Null'"),
        (b'{"title": "t", "tags": ["a:b"]}', "tags", "expected text, got a list"),
        (b'{"title": "t", "date": "2014-07-29"}', "date",
         "expected milliseconds since 1970 ($DATE), got '2014-07-29'"),
        (b'{"title": "t", "date": 1.5}', "date", "expected text, got a number"),
        (b'{"title": "t", "date": "999999999999999"}', "date",
         "'999999999999999' is out of range"),
        (b'{"title": "t", "link": 5}', "link", "expected text, got a number"),
        (b'{"title": "t", "alert_cycle_key": true}', "alert_cycle_key",
         "expected text, got a boolean"),
    ],
)
def test_bad_input_names_the_field(body: bytes, field: str, message: str) -> None:
    with pytest.raises(BadRequest) as caught:
        datadog.parse(body, {}, limits=LIMITS, now=NOW)
    assert (caught.value.field, caught.value.message) == (field, message)


@pytest.mark.parametrize(
    ("body", "message"),
    [(b"title=%FF", "the form body is not valid UTF-8"),
     (b"title=\xff", "the form body is not valid UTF-8"),
     (b"&".join([b"a=1"] * 201), "a form body has at most 200 fields")],
)
def test_bad_form_bodies(body: bytes, message: str) -> None:
    headers = {"content-type": "application/x-www-form-urlencoded"}
    with pytest.raises(BadRequest) as caught:
        datadog.parse(body, headers, limits=LIMITS, now=NOW)
    assert (caught.value.field, caught.value.message) == ("", message)
