"""PagerDuty Events API v2, with the example events of PagerDuty's documentation.

payloads/pagerduty_*.json are the Trigger, Acknowledge and Resolve examples of
PagerDuty/developer-docs docs/events-API-v2/02-Trigger-Events.md (the trigger's leading
/* comment */ removed, as it is not JSON). Their routing keys ("samplekeyhere") are not the 32
characters PagerDuty requires, so PagerDuty itself refuses them as they stand; the tests show
that refusal, then use the events with a key of the right length.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from router.alerts.formats import pagerduty
from router.alerts.model import Alert, Link, Severity, Status
from router.errors import BadRequest
from tests.alerts.formats import LIMITS, NOW

PAYLOADS = Path(__file__).parent / "payloads"
KEY = "R0123456789abcdef0123456789abcde"
WRONG_LENGTH = "Length of 'routing_key' is incorrect (should be 32 characters)"


def event(name: str, **changes: object) -> bytes:
    document = json.loads((PAYLOADS / name).read_bytes())
    document.update({"routing_key": KEY, **changes})
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    "name", ["pagerduty_trigger.json", "pagerduty_acknowledge.json", "pagerduty_resolve.json"]
)
def test_the_documented_examples_as_they_stand_fail_as_pagerduty_fails_them(name: str) -> None:
    with pytest.raises(BadRequest) as caught:
        pagerduty.parse((PAYLOADS / name).read_bytes(), {}, limits=LIMITS, now=NOW)
    assert (caught.value.field, caught.value.message) == ("routing_key", WRONG_LENGTH)


def test_trigger_maps_every_field() -> None:
    assert len(KEY) == 32
    assert pagerduty.parse(event("pagerduty_trigger.json"), {}, limits=LIMITS, now=NOW) == [
        Alert(
            summary="Example alert on host1.example.com",
            source="pagerduty",
            severity=Severity.INFO,
            status=Status.FIRING,
            labels={
                "source": "monitoringtool:cloudvendor:central-region-dc-01:852559987:"
                          "cluster/api-stats-prod-003",
                "component": "postgres",
                "group": "prod-datapipe",
                "class": "deploy",
            },
            details={"ping time": "1500ms", "load avg": "0.75"},
            dedup_key="samplekeyhere",
            routing_key=KEY,
            starts_at=datetime(2015, 7, 17, 8, 42, 58, 315000, tzinfo=UTC),
            links=(
                Link(href="https://example.com/", text="Link text"),
                Link(href="https://www.pagerduty.com/wp-content/uploads/2016/05/"
                          "pagerduty-logo-green.png", text="Example text"),
            ),
            client="Sample Monitoring Service",
            client_url="https://monitoring.example.com",
        )
    ]


@pytest.mark.parametrize(
    ("name", "status"),
    [("pagerduty_acknowledge.json", Status.ACKNOWLEDGED),
     ("pagerduty_resolve.json", Status.RESOLVED)],
)
def test_acknowledge_and_resolve_need_only_the_keys(name: str, status: Status) -> None:
    assert pagerduty.parse(event(name), {}, limits=LIMITS, now=NOW) == [
        Alert(summary="", source="pagerduty", status=status, dedup_key="dedupkeyhere",
              routing_key=KEY)
    ]


def test_resolve_ignores_a_payload() -> None:
    (alert,) = pagerduty.parse(event("pagerduty_resolve.json", payload={"summary": 1}), {},
            limits=LIMITS, now=NOW)
    assert alert.status is Status.RESOLVED


def test_a_trigger_without_dedup_key_leaves_it_to_the_engine() -> None:
    (alert,) = pagerduty.parse(event("pagerduty_trigger.json", dedup_key=None), {},
                               limits=LIMITS, now=NOW)
    assert alert.dedup_key is None
    (alert,) = pagerduty.parse(event("pagerduty_trigger.json", dedup_key=""), {},
                               limits=LIMITS, now=NOW)
    assert alert.dedup_key is None


def test_timestamp_with_a_colon_in_the_offset_and_minimal_payload() -> None:
    minimal = {"summary": "s", "source": "h", "severity": "critical",
               "timestamp": "2015-07-17T10:42:58+02:00"}
    (alert,) = pagerduty.parse(event("pagerduty_trigger.json", payload=minimal, links=None,
                                     images=None, client=None, client_url=None), {},
                               limits=LIMITS, now=NOW)
    assert alert == Alert(summary="s", source="pagerduty", severity=Severity.CRITICAL,
                          labels={"source": "h"}, dedup_key="samplekeyhere", routing_key=KEY,
                          starts_at=datetime(2015, 7, 17, 8, 42, 58, tzinfo=UTC))


def test_an_image_without_alt_is_a_link_called_image() -> None:
    (alert,) = pagerduty.parse(
        event("pagerduty_trigger.json", links=[], images=[{"src": "https://i.example/a.png"}]),
        {}, limits=LIMITS,
     now=NOW)
    assert alert.links == (Link(href="https://i.example/a.png", text="Image"),)


def test_answers_are_pagerdutys_bytes() -> None:
    assert pagerduty.success_body("samplekeyhere") == (
        b'{"status":"success","message":"Event processed","dedup_key":"samplekeyhere"}'
    )
    assert pagerduty.error_body([WRONG_LENGTH]) == (
        b'{"status":"invalid event","message":"Event object is invalid",'
        b'"errors":["Length of \'routing_key\' is incorrect (should be 32 characters)"]}'
    )
    assert (pagerduty.SUCCESS_STATUS, pagerduty.ERROR_STATUS) == (202, 400)


def payload_with(**changes: object) -> dict[str, object]:
    document = json.loads((PAYLOADS / "pagerduty_trigger.json").read_bytes())["payload"]
    assert isinstance(document, dict)
    document.update(changes)
    return document


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (b"not json", "", "invalid JSON at line 1, column 1: Expecting value"),
        (b"[]", "", "expected a JSON object (a PagerDuty event), got a list"),
        (event("pagerduty_trigger.json", routing_key=None), "routing_key", "is required"),
        (event("pagerduty_trigger.json", routing_key=32), "routing_key",
         "expected text, got a number"),
        (event("pagerduty_trigger.json", routing_key=KEY + "f"), "routing_key", WRONG_LENGTH),
        (event("pagerduty_trigger.json", event_action=None), "event_action", "is required"),
        (event("pagerduty_trigger.json", event_action="Trigger"), "event_action",
         "expected one of trigger, acknowledge, resolve; got 'Trigger'"),
        (event("pagerduty_trigger.json", dedup_key="k" * 256), "dedup_key",
         "is longer than 255 characters (256)"),
        (event("pagerduty_resolve.json", dedup_key=None), "dedup_key",
         "is required to acknowledge or resolve"),
        (event("pagerduty_acknowledge.json", dedup_key=""), "dedup_key",
         "is required to acknowledge or resolve"),
        (event("pagerduty_trigger.json", payload=None), "payload",
         "is required for a trigger event"),
        (event("pagerduty_trigger.json", payload="x"), "payload", "expected a mapping, got text"),
        (event("pagerduty_trigger.json", payload=payload_with(summary=None)), "payload.summary",
         "is required"),
        (event("pagerduty_trigger.json", payload=payload_with(summary="s" * 1025)),
         "payload.summary", "is longer than 1024 characters (1025)"),
        (event("pagerduty_trigger.json", payload=payload_with(source="")), "payload.source",
         "must not be empty"),
        (event("pagerduty_trigger.json", payload=payload_with(severity=None)),
         "payload.severity", "is required"),
        (event("pagerduty_trigger.json", payload=payload_with(severity="high")),
         "payload.severity", "expected one of critical, error, warning, info; got 'high'"),
        (event("pagerduty_trigger.json", payload=payload_with(timestamp="1437122578")),
         "payload.timestamp",
         "expected an RFC 3339 timestamp like 2026-05-24T09:30:00Z, got '1437122578'"),
        (event("pagerduty_trigger.json", payload=payload_with(component=5)),
         "payload.component", "expected text, got a number"),
        (event("pagerduty_trigger.json", payload=payload_with(custom_details="x")),
         "payload.custom_details", "expected a mapping, got text"),
        (event("pagerduty_trigger.json", client=["x"]), "client", "expected text, got a list"),
        (event("pagerduty_trigger.json", links=[{"text": "t"}]), "links[0].href", "is required"),
        (event("pagerduty_trigger.json", images={}), "images",
         "expected a list of images, got a mapping"),
        (event("pagerduty_trigger.json", images=[1]), "images[0]",
         "expected an image {src, href, alt}, got a number"),
        (event("pagerduty_trigger.json", images=[{"href": "h"}]), "images[0].src",
         "is required"),
        (event("pagerduty_trigger.json", images=[{"src": "s", "href": 1}]), "images[0].href",
         "expected text, got a number"),
    ],
)
def test_bad_input_names_the_field(body: bytes, field: str, message: str) -> None:
    with pytest.raises(BadRequest) as caught:
        pagerduty.parse(body, {}, limits=LIMITS, now=NOW)
    assert (caught.value.field, caught.value.message) == (field, message)
