"""router's own alert JSON: the examples of docs/formats.md, and every way to get it wrong."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from router.alerts.formats import native
from router.alerts.formats._json import MAX_ALERTS
from router.alerts.model import Alert, Link, Severity, Status
from router.errors import BadRequest
from tests.alerts.formats import LIMITS, NOW

PAYLOADS = Path(__file__).parent / "payloads"


def payload(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


def test_one_alert_maps_every_field() -> None:
    assert native.parse(payload("native_single.json"), {}, limits=LIMITS, now=NOW) == [
        Alert(
            summary="Disk /var is 95% full on db-1",
            source="native",
            severity=Severity.ERROR,
            status=Status.FIRING,
            labels={"host": "db-1", "mount": "/var", "team": "storage"},
            annotations={"runbook": "https://runbooks.example.com/disk-full"},
            details={"used_bytes": "96636764160", "free": "5%", "checked_by": "cron"},
            service="database",
            dedup_key="disk-full/db-1/var",
            starts_at=datetime(2026, 5, 24, 9, 30, tzinfo=UTC),
            links=(Link(href="https://grafana.example.com/d/disk?var-host=db-1",
                        text="Disk dashboard"),),
        )
    ]


def test_a_list_gives_one_alert_each_with_defaults_and_utc_times() -> None:
    assert native.parse(payload("native_list.json"), {}, limits=LIMITS, now=NOW) == [
        Alert(
            summary="Backup of db-1 failed",
            source="native",
            severity=Severity.CRITICAL,
            labels={"host": "db-1", "job": "backup"},
        ),
        Alert(
            summary="Backup of db-2 finished late",
            source="native",
            severity=Severity.INFO,
            status=Status.RESOLVED,
            labels={"host": "db-2", "job": "backup"},
            starts_at=datetime(2026, 5, 24, 0, 0, tzinfo=UTC),
            ends_at=datetime(2026, 5, 24, 1, 15, 30, 250000, tzinfo=UTC),
        ),
    ]


def test_only_a_summary_is_needed() -> None:
    (alert,) = native.parse(b'{"summary": "hello"}', {}, limits=LIMITS, now=NOW)
    assert alert == Alert(summary="hello", source="native")
    assert alert.severity is Severity.WARNING and alert.status is Status.FIRING


def test_acknowledged_status_and_empty_list() -> None:
    (alert,) = native.parse(b'{"summary": "s", "status": "acknowledged"}', {},
                            limits=LIMITS, now=NOW)
    assert alert.status is Status.ACKNOWLEDGED
    assert native.parse(b"[]", {}, limits=LIMITS, now=NOW) == []


def test_empty_service_and_dedup_key_count_as_absent() -> None:
    (alert,) = native.parse(b'{"summary": "s", "service": "", "dedup_key": ""}', {},
                            limits=LIMITS, now=NOW)
    assert alert.service is None and alert.dedup_key is None


def test_nested_details_become_compact_json_text() -> None:
    body = b'{"summary": "s", "details": {"a": {"b": [1, true, null]}, "c": 0.5, "d": "x"}}'
    (alert,) = native.parse(body, {}, limits=LIMITS, now=NOW)
    assert alert.details == {"a": '{"b":[1,true,null]}', "c": "0.5", "d": "x"}


TOO_MANY = ("[" + ",".join(['{"summary":"s"}'] * (MAX_ALERTS + 1)) + "]").encode()


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (b"", "", "invalid JSON at line 1, column 1: Expecting value"),
        (b'{"summary": }', "", "invalid JSON at line 1, column 13: Expecting value"),
        (b'{\n  "summary": "s",\n}', "",
         "invalid JSON at line 3, column 1: Expecting property name enclosed in double quotes"),
        (b'{"summary": "caf\xe9"}', "", "the body is not valid UTF-8 (byte 16)"),
        (b'{"summary": NaN}', "", "invalid JSON: NaN is not a JSON number"),
        (b'{"summary": "\\ud800"}', "",
         "invalid JSON: a \\u escape names a lone UTF-16 surrogate"),
        (b"[" * 100000, "", "invalid JSON: nested too deeply"),
        (b'{"summary": ' + b"9" * 5000 + b"}", "", "invalid JSON: a number has too many digits"),
        (b'"summary"', "", "expected an alert object or a list of alert objects, got text"),
        (b"[1]", "[0]", "expected an alert object or a list of alert objects, got a number"),
        (TOO_MANY, "", f"at most {MAX_ALERTS} alerts per request, got {MAX_ALERTS + 1}"),
        (b"{}", "summary", "is required"),
        (b'{"summary": null}', "summary", "is required"),
        (b'{"summary": "  "}', "summary", "must not be empty"),
        (b'{"summary": 7}', "summary", "expected text, got a number"),
        (b'[{"summary": "a"}, {"summary": ["b"]}]', "[1].summary", "expected text, got a list"),
        (b'{"summary": "s", "sevrity": "info"}', "sevrity",
         "is not a known field (expected one of annotations, dedup_key, details, ends_at, "
         "labels, links, service, severity, starts_at, status, summary)"),
        (b'{"summary": "s", "severity": "fatal"}', "severity",
         "expected one of critical, error, warning, info; got 'fatal'"),
        (b'{"summary": "s", "severity": true}', "severity", "expected text, got a boolean"),
        (b'{"summary": "s", "status": "open"}', "status",
         "expected one of firing, acknowledged, resolved; got 'open'"),
        (b'{"summary": "s", "labels": ["a"]}', "labels",
         "expected a mapping of label names to text, got a list"),
        (b'{"summary": "s", "labels": {"a": 1}}', "labels.a", "expected text, got a number"),
        (b'{"summary": "s", "labels": {"": "x"}}', "labels", "label names must not be empty"),
        (b'{"summary": "s", "annotations": {"a": null}}', "annotations.a",
         "expected text, got null"),
        (b'{"summary": "s", "details": "x"}', "details", "expected a mapping, got text"),
        (b'{"summary": "s", "service": {}}', "service", "expected text, got a mapping"),
        (b'{"summary": "s", "starts_at": "yesterday"}', "starts_at",
         "expected an RFC 3339 timestamp like 2026-05-24T09:30:00Z, got 'yesterday'"),
        (b'{"summary": "s", "starts_at": "2026-05-24T09:30:00"}', "starts_at",
         "expected an RFC 3339 timestamp like 2026-05-24T09:30:00Z, got '2026-05-24T09:30:00'"),
        (b'{"summary": "s", "starts_at": "2026-02-30T09:30:00Z"}', "starts_at",
         "'2026-02-30T09:30:00Z' is not a valid instant"),
        (b'{"summary": "s", "starts_at": "2026-05-24T09:30:00+24:00"}', "starts_at",
         "'2026-05-24T09:30:00+24:00' has no valid UTC offset"),
        (b'{"summary": "s", "starts_at": "0001-01-01T00:00:00+01:00"}', "starts_at",
         "'0001-01-01T00:00:00+01:00' is not a valid instant"),
        (b'{"summary": "s", "starts_at": "2026-05-24T10:00:00Z",'
         b' "ends_at": "2026-05-24T09:00:00Z"}', "ends_at", "is before starts_at"),
        (b'{"summary": "s", "links": {}}', "links", "expected a list of links, got a mapping"),
        (b'{"summary": "s", "links": ["x"]}', "links[0]",
         "expected a link {href, text}, got text"),
        (b'{"summary": "s", "links": [{"text": "x"}]}', "links[0].href", "is required"),
        (b'{"summary": "s", "links": [{"href": "h", "text": 1}]}', "links[0].text",
         "expected text, got a number"),
    ],
)
def test_bad_input_names_the_field(body: bytes, field: str, message: str) -> None:
    with pytest.raises(BadRequest) as caught:
        native.parse(body, {}, limits=LIMITS, now=NOW)
    assert (caught.value.field, caught.value.message) == (field, message)


def test_a_long_value_is_cut_short_in_the_message() -> None:
    with pytest.raises(BadRequest) as caught:
        native.parse(b'{"summary": "s", "severity": "' + b"x" * 500 + b'"}', {},
                     limits=LIMITS, now=NOW)
    assert caught.value.message == (
        "expected one of critical, error, warning, info; got '" + "x" * 60 + "...'"
    )


@pytest.mark.parametrize("name", ["native_single.json", "native_list.json"])
def test_a_decoded_document_reads_as_its_json(name: str) -> None:
    """The unix socket hands the native format documents, never JSON text (it decoded the
    line once already, and builds the alert of a message as a document)."""
    document = json.loads(payload(name))
    assert native.parse_document(document, limits=LIMITS) == native.parse(
        payload(name), {}, limits=LIMITS, now=NOW)


def test_a_decoded_document_names_the_field_as_its_json() -> None:
    with pytest.raises(BadRequest) as caught:
        native.parse_document([{"summary": "s"}, {"summary": "s", "labels": []}],
                              limits=LIMITS)
    assert (caught.value.field, caught.value.message) == (
        "[1].labels", "expected a mapping of label names to text, got a list")
