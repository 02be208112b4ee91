"""The generic JSON webhook: any body, read through a field mapping from the config.

An Opsgenie outgoing-webhook body (its shape from docs.opsgenie.com, webhook integration and
alert action data), a flat body of an in-house tool, batch bodies, and every way to get one
wrong; random bodies and random paths never raise anything but BadRequest.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from router.alerts.formats import generic
from router.alerts.formats._json import MAX_ALERTS
from router.alerts.model import Alert, Severity, Status
from router.config.model import GenericWebhook
from router.errors import BadRequest
from tests.alerts.formats import LIMITS
from tests.alerts.formats.test_robustness import DELETE, check, json_values, replaced
from tests.alerts.formats.test_robustness import paths as document_paths

OPSGENIE = GenericWebhook(
    name="opsgenie",
    summary="alert.message",
    severity="alert.priority",
    status="action",
    dedup_key="alert.alias",
    service="alert.entity",
    labels="alert.details",
    annotations={"description": "alert.description", "tiny_id": "alert.tinyId",
                 "tags": "alert.tags", "team": "alert.teams[0]"},
    severity_map={"P1": "critical", "P2": "error", "P3": "warning", "P4": "info", "P5": "info"},
    status_map={"Create": "firing", "Acknowledge": "acknowledged", "Close": "resolved"},
)

CREATE: dict[str, Any] = {
    "action": "Create",
    "alert": {
        "alertId": "6f0fb0b7-3c1a-4a2e-9f64-1f1a2c3d4e5f-1717000000000",
        "message": "Disk /var is 95% full on db-1",
        "alias": "disk-full/db-1/var",
        "tinyId": "42",
        "entity": "database",
        "source": "nagios",
        "priority": "P2",
        "tags": ["disk", "prod"],
        "teams": ["storage"],
        "recipients": ["storage"],
        "username": "System",
        "userId": "",
        "createdAt": 1717000000000,
        "updatedAt": 1717000000000000000,
        "description": "Only 5% of /var is left.",
        "details": {"host": "db-1", "mount": "/var", "free bytes": 5368709120},
    },
    "source": {"name": "", "type": "API"},
    "integrationId": "a7c1e6b0-0000-4000-8000-000000000001",
    "integrationName": "router",
}

FLAT = GenericWebhook(
    name="backups",
    summary="title",
    severity="level",
    status="state",
    dedup_key="job_id",
    labels={"host": "machine.name", "job": "kind", "attempt": "attempt"},
)


def encode(document: object) -> bytes:
    return json.dumps(document).encode()


def opsgenie(**changes: Any) -> bytes:
    document = json.loads(json.dumps(CREATE))
    document["alert"].update(changes)
    return encode(document)


def test_an_opsgenie_create_maps_every_field() -> None:
    assert generic.parse(encode(CREATE), {}, OPSGENIE, limits=LIMITS) == [
        Alert(
            summary="Disk /var is 95% full on db-1",
            source="generic:opsgenie",
            severity=Severity.ERROR,
            status=Status.FIRING,
            labels={"host": "db-1", "mount": "/var", "free bytes": "5368709120"},
            annotations={"description": "Only 5% of /var is left.", "tiny_id": "42",
                         "tags": '["disk","prod"]', "team": "storage"},
            service="database",
            dedup_key="disk-full/db-1/var",
        )
    ]


@pytest.mark.parametrize(("action", "status"), [
    ("Create", Status.FIRING), ("Acknowledge", Status.ACKNOWLEDGED), ("Close", Status.RESOLVED),
])
def test_opsgenie_actions_through_the_status_map(action: str, status: Status) -> None:
    body = encode({**CREATE, "action": action})
    [alert] = generic.parse(body, {}, OPSGENIE, limits=LIMITS)
    assert alert.status is status and alert.dedup_key == "disk-full/db-1/var"


def test_a_flat_body_numbers_become_text_and_defaults_apply() -> None:
    body = encode({"title": "Backup of db-1 failed", "job_id": 7311, "kind": "backup",
                   "machine": {"name": "db-1"}, "attempt": 3})
    assert generic.parse(body, {"content-type": "application/json"}, FLAT, limits=LIMITS) == [
        Alert(summary="Backup of db-1 failed", source="generic:backups",
              labels={"host": "db-1", "job": "backup", "attempt": "3"}, dedup_key="7311")
    ]


def test_router_s_own_names_need_no_map() -> None:
    body = encode({"title": "t", "level": "critical", "state": "resolved"})
    [alert] = generic.parse(body, {}, FLAT, limits=LIMITS)
    assert (alert.severity, alert.status) == (Severity.CRITICAL, Status.RESOLVED)


def test_the_map_wins_over_router_s_own_names_and_is_case_sensitive() -> None:
    mapping = dataclasses.replace(FLAT, severity_map={"critical": "info", "HIGH": "error"})
    [alert] = generic.parse(encode({"title": "t", "level": "critical"}), {}, mapping, limits=LIMITS)
    assert alert.severity is Severity.INFO
    with pytest.raises(BadRequest) as caught:
        generic.parse(encode({"title": "t", "level": "high"}), {}, mapping, limits=LIMITS)
    assert caught.value == BadRequest(
        "level", "expected one of critical, HIGH, error, warning, info; got 'high'")


def test_numbers_and_booleans_are_looked_up_as_their_text() -> None:
    mapping = dataclasses.replace(FLAT, severity_map={"1": "critical", "2.5": "error"},
                                  status_map={"true": "resolved", "false": "firing"},
                                  status="recovered")
    [first, second] = [
        generic.parse(encode({"title": "t", "level": level, "recovered": recovered}), {},
                      mapping, limits=LIMITS)[0]
        for level, recovered in ((1, True), (2.5, False))
    ]
    assert (first.severity, first.status) == (Severity.CRITICAL, Status.RESOLVED)
    assert (second.severity, second.status) == (Severity.ERROR, Status.FIRING)


@pytest.mark.parametrize("level", [None, "", "bogus"])
def test_the_defaults_stand_in_for_an_absent_or_unknown_value(level: str | None) -> None:
    mapping = dataclasses.replace(FLAT, default_severity="critical",
                                  default_status="acknowledged")
    [alert] = generic.parse(encode({"title": "t", "level": level, "state": level}), {},
                            mapping, limits=LIMITS)
    assert (alert.severity, alert.status) == (Severity.CRITICAL, Status.ACKNOWLEDGED)


def test_without_defaults_an_absent_value_is_warning_and_firing() -> None:
    [alert] = generic.parse(encode({"title": "t", "level": None, "state": ""}), {}, FLAT,
            limits=LIMITS)
    assert (alert.severity, alert.status) == (Severity.WARNING, Status.FIRING)
    mapping = GenericWebhook(name="bare", summary="$")
    assert generic.parse(b'"just a line"', {}, mapping, limits=LIMITS) == [
        Alert(summary="just a line", source="generic:bare")]


def test_labels_from_an_object_skip_nulls_and_keep_nested_values_as_json() -> None:
    mapping = GenericWebhook(name="x", summary="s", labels="tags", annotations="notes")
    body = encode({"s": "t", "tags": {"a": "1", "b": None, "c": {"d": [1, True]}, "e": False},
                   "notes": {"runbook": "https://runbooks.example.com/x"}})
    [alert] = generic.parse(body, {}, mapping, limits=LIMITS)
    assert alert.labels == {"a": "1", "c": '{"d":[1,true]}', "e": "false"}
    assert alert.annotations == {"runbook": "https://runbooks.example.com/x"}


def test_labels_from_a_mapping_skip_absent_paths() -> None:
    body = encode({"title": "t", "kind": "backup", "machine": None})
    [alert] = generic.parse(body, {}, FLAT, limits=LIMITS)
    assert alert.labels == {"job": "backup"}


def test_empty_dedup_key_and_service_count_as_absent() -> None:
    [alert] = generic.parse(opsgenie(alias="", entity=None), {}, OPSGENIE, limits=LIMITS)
    assert alert.dedup_key is None and alert.service is None


def test_a_number_is_a_summary_too() -> None:
    mapping = GenericWebhook(name="x", summary='data["check name"]')
    [alert] = generic.parse(b'{"data": {"check name": 5.5e-3}}', {}, mapping, limits=LIMITS)
    assert alert.summary == "0.0055"


def test_a_quoted_key_and_a_position_past_the_end() -> None:
    mapping = GenericWebhook(name="x", summary='data["check name"]',
                             dedup_key="ids[3]", service="$.svc")
    body = encode({"data": {"check name": "HTTP on web-1"}, "ids": ["a"], "svc": "web"})
    [alert] = generic.parse(body, {}, mapping, limits=LIMITS)
    assert (alert.summary, alert.dedup_key, alert.service) == ("HTTP on web-1", None, "web")


BATCH = GenericWebhook(name="batch", alerts="data.items", summary="title", severity="level",
                       labels="labels", severity_map={"high": "critical"})


def test_a_batch_gives_one_alert_per_entry_with_paths_inside_each() -> None:
    body = encode({"data": {"items": [
        {"title": "one", "level": "high", "labels": {"host": "a"}},
        {"title": "two", "level": "info"},
    ]}})
    assert generic.parse(body, {}, BATCH, limits=LIMITS) == [
        Alert(summary="one", source="generic:batch", severity=Severity.CRITICAL,
              labels={"host": "a"}),
        Alert(summary="two", source="generic:batch", severity=Severity.INFO),
    ]
    assert generic.parse(encode({"data": {"items": []}}), {}, BATCH, limits=LIMITS) == []


def test_a_batch_body_that_is_itself_the_list() -> None:
    mapping = dataclasses.replace(BATCH, alerts="$")
    body = encode([{"title": "one"}, {"title": "two"}])
    assert [alert.summary for alert in generic.parse(body, {}, mapping,
            limits=LIMITS)] == ["one", "two"]
    with pytest.raises(BadRequest) as caught:
        generic.parse(encode([{"title": "one"}, {"title": ""}]), {}, mapping, limits=LIMITS)
    assert caught.value == BadRequest("[1].title", "must not be empty")


TOO_MANY = encode({"data": {"items": [{"title": "t"}] * (MAX_ALERTS + 1)}})


@pytest.mark.parametrize(
    ("mapping", "body", "field", "message"),
    [
        (OPSGENIE, b"", "", "invalid JSON at line 1, column 1: Expecting value"),
        (OPSGENIE, b'{"alert": {"message": "caf\xe9"}}', "",
         "the body is not valid UTF-8 (byte 26)"),
        (OPSGENIE, b'{"alert": {"message": NaN}}', "", "invalid JSON: NaN is not a JSON number"),
        (OPSGENIE, b"[1]", "", "expected a mapping, got a list"),
        (OPSGENIE, b"{}", "alert.message", "is required"),
        (OPSGENIE, opsgenie(message=None), "alert.message", "is required"),
        (OPSGENIE, opsgenie(message=" "), "alert.message", "must not be empty"),
        (OPSGENIE, opsgenie(message=["a"]), "alert.message",
         "expected text, a number or a boolean, got a list"),
        (OPSGENIE, b'{"alert": "down"}', "alert", "expected a mapping, got text"),
        (OPSGENIE, opsgenie(priority="P9"), "alert.priority",
         "expected one of P1, P2, P3, P4, P5, critical, error, warning, info; got 'P9'"),
        (OPSGENIE, opsgenie(priority={"level": 1}), "alert.priority",
         "expected text, a number or a boolean, got a mapping"),
        (OPSGENIE, encode({**CREATE, "action": "AddNote"}), "action",
         "expected one of Create, Acknowledge, Close, firing, acknowledged, resolved; "
         "got 'AddNote'"),
        (OPSGENIE, opsgenie(alias=[1]), "alert.alias",
         "expected text, a number or a boolean, got a list"),
        (OPSGENIE, opsgenie(entity={}), "alert.entity",
         "expected text, a number or a boolean, got a mapping"),
        (OPSGENIE, opsgenie(details=["host=db-1"]), "alert.details",
         "expected a mapping of label names to values, got a list"),
        (OPSGENIE, opsgenie(details={"": "x"}), "alert.details", "label names must not be empty"),
        (OPSGENIE, opsgenie(teams={"0": "storage"}), "alert.teams",
         "expected a list, got a mapping"),
        (dataclasses.replace(OPSGENIE, annotations="alert.description"),
         encode(CREATE), "alert.description",
         "expected a mapping of annotation names to values, got text"),
        (GenericWebhook(name="x", summary='data["check name"].text'),
         b'{"data": {"check name": 1}}', 'data["check name"]', "expected a mapping, got a number"),
        (FLAT, b'{"title": "t", "machine": [1]}', "machine", "expected a mapping, got a list"),
        (BATCH, b"{}", "data.items", "is required"),
        (BATCH, b'{"data": {"items": {"title": "t"}}}', "data.items",
         "expected a list of alerts, got a mapping"),
        (BATCH, TOO_MANY, "data.items",
         f"at most {MAX_ALERTS} alerts per request, got {MAX_ALERTS + 1}"),
        (BATCH, b'{"data": {"items": [{"title": "t"}, {}]}}', "data.items[1].title",
         "is required"),
        (BATCH, b'{"data": {"items": [{"title": "t"}, 7]}}', "data.items[1]",
         "expected a mapping, got a number"),
        (BATCH, b'{"data": {"items": [{"title": "t", "labels": "a=b"}]}}',
         "data.items[0].labels", "expected a mapping of label names to values, got text"),
        (BATCH, b'{"data": {"items": [{"title": "t", "level": "low"}]}}',
         "data.items[0].level",
         "expected one of high, critical, error, warning, info; got 'low'"),
    ],
)
def test_bad_input_names_the_field(
    mapping: GenericWebhook, body: bytes, field: str, message: str
) -> None:
    with pytest.raises(BadRequest) as caught:
        generic.parse(body, {}, mapping, limits=LIMITS)
    assert (caught.value.field, caught.value.message) == (field, message)


def test_a_long_value_is_cut_short_in_the_message() -> None:
    with pytest.raises(BadRequest) as caught:
        generic.parse(opsgenie(priority="x" * 500), {}, OPSGENIE, limits=LIMITS)
    assert caught.value.message.endswith("got '" + "x" * 60 + "...'")


@pytest.mark.parametrize(("text", "steps"), [
    ("alert", ("alert",)),
    ("alert.message", ("alert", "message")),
    ("$.alert.message", ("alert", "message")),
    ("$", ()),
    ("$[0]", (0,)),
    ("[2].labels", (2, "labels")),
    ('details["ping time"]', ("details", "ping time")),
    ('$["a.b"]["\\"q\\""][10].c-d_1', ("a.b", '"q"', 10, "c-d_1")),
    ('x["\\u00e9t\\u00e9"]', ("x", "été")),
])
def test_compile_path(text: str, steps: generic.Path) -> None:
    assert generic.compile_path(text) == steps


@pytest.mark.parametrize("text", [
    "", ".alert", "alert.", "alert..message", "$alert", "$$", "a[", "a[-1]", "a[x]", "a['x']",
    'a["x]', "a b", "a.b c", "a[0]b", '["\\q"]', "a.*", "$.",
])
def test_compile_path_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="is not a field path"):
        generic.compile_path(text)


def test_paths_are_compiled_once() -> None:
    assert generic.compile_path("alert.tags[0]") is generic.compile_path("alert.tags[0]")


def test_any_object_with_the_attributes_will_do() -> None:
    @dataclasses.dataclass(frozen=True)
    class PlainMapping:
        name: str = "plain"
        summary: str = "m"
        severity: str | None = "p"
        status: str | None = None
        dedup_key: str | None = None
        service: str | None = None
        labels: str | dict[str, str] | None = None
        annotations: str | dict[str, str] | None = None
        severity_map: dict[str, str] = dataclasses.field(default_factory=lambda: {"1": "info"})
        status_map: dict[str, str] = dataclasses.field(default_factory=dict)
        alerts: str | None = None
        default_severity: str | None = None
        default_status: str | None = None

    [alert] = generic.parse(b'{"m": "hi", "p": 1}', {}, PlainMapping(), limits=LIMITS)
    assert alert == Alert(summary="hi", source="generic:plain", severity=Severity.INFO)


# -- never anything but BadRequest ---------------------------------------------------------

SETTINGS = settings(
    max_examples=200, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MAPPINGS = {"opsgenie": OPSGENIE, "flat": FLAT, "batch": BATCH,
            "list": dataclasses.replace(BATCH, alerts="$")}
paths = st.from_regex(generic.FIELD_PATH, fullmatch=True)
short_paths = st.one_of(
    st.sampled_from(["$", "a", "a.b", "a[0]", "[0]", "[1].a", "a.b[0].c", 'a["b c"]']),
    paths.filter(lambda text: len(text) < 40),
)


@pytest.mark.parametrize("name", sorted(MAPPINGS))
@SETTINGS
@given(body=st.binary(max_size=300))
def test_random_bytes(name: str, body: bytes) -> None:
    check(lambda body, headers: generic.parse(body, headers, MAPPINGS[name], limits=LIMITS), body)


@pytest.mark.parametrize("name", sorted(MAPPINGS))
@SETTINGS
@given(document=json_values)
def test_random_json(name: str, document: object) -> None:
    check(lambda body, headers: generic.parse(body, headers, MAPPINGS[name], limits=LIMITS),
          encode(document))


@SETTINGS
@given(data=st.data())
def test_an_opsgenie_body_with_fields_replaced(data: st.DataObject) -> None:
    document = json.loads(json.dumps(CREATE))
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(list(document_paths(document))))
        document = replaced(document, path, data.draw(st.one_of(st.just(DELETE), json_values)))
    check(lambda body, headers: generic.parse(body, headers, OPSGENIE,
            limits=LIMITS), encode(document))


@SETTINGS
@given(
    summary=short_paths, severity=st.none() | short_paths, labels=st.none() | short_paths,
    annotations=st.dictionaries(st.text(max_size=5), short_paths, max_size=3),
    alerts=st.none() | short_paths, document=json_values,
)
def test_random_paths_over_random_json(
    summary: str, severity: str | None, labels: str | None, annotations: dict[str, str],
    alerts: str | None, document: object,
) -> None:
    mapping = GenericWebhook(name="random", summary=summary, severity=severity, labels=labels,
                             annotations=annotations, alerts=alerts,
                             severity_map={"P1": "critical"})
    check(lambda body, headers: generic.parse(body, headers, mapping,
            limits=LIMITS), encode(document))


@SETTINGS
@given(text=paths)
def test_every_path_compiles_and_its_field_name_reads_back(text: str) -> None:
    steps = generic.compile_path(text)
    if steps:  # "" names the whole body in messages; `$` in a path
        assert generic.compile_path(generic.field_name("", steps)) == steps
