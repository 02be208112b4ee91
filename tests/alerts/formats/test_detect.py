"""Auto-detection (alerts/formats/detect.py): every documented payload is recognised as its
format by its top-level fields, most specific first and the generic reading last; only the
chosen format parses the body; a body no format claims lists what each looked for."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given

from router.alerts.formats import FieldLimits, decode_json, detect
from router.alerts.model import Alert, Status
from router.errors import BadRequest
from tests.alerts.formats import EXAMPLES, LIMITS, NOW, example
from tests.alerts.formats import test_robustness as robustness

DETECTED = {name: files for name, files in EXAMPLES.items() if name != "pagerduty"}
"""The Events API has its own endpoint and its routing key for a credential."""


def body(document: Any) -> bytes:
    return json.dumps(document).encode()


@pytest.mark.parametrize(("name", "file"), [
    (name, file) for name, files in sorted(DETECTED.items()) for file in files])
def test_each_documented_payload_is_detected_as_its_format(name: str, file: str) -> None:
    chosen, alerts = detect.parse(body(example(file)), {}, limits=LIMITS, now=NOW)
    assert chosen == name
    assert alerts and {alert.source for alert in alerts} == {name}


def test_grafana_is_chosen_before_alertmanager_whose_fields_it_also_carries() -> None:
    document = example("grafana.json")
    assert detect.choose(document).name == "grafana"
    del document["orgId"]
    assert detect.choose(document).name == "alertmanager"


def test_the_generic_reading_comes_last_and_reads_title_or_name() -> None:
    chosen, alerts = detect.parse(body({"title": "Backup failed", "severity": "critical",
                                        "labels": {"job": "backup"}}), {},
                                  limits=LIMITS, now=NOW)
    assert chosen == "generic"
    assert [(alert.summary, alert.source, alert.labels) for alert in alerts] == [
        ("Backup failed", "generic:auto", {"job": "backup"})]
    chosen, alerts = detect.parse(body({"alerts": [{"name": "a", "status": "ok"},
                                                   {"name": "b"}]}), {},
                                  limits=LIMITS, now=NOW)
    assert chosen == "generic"
    assert [(alert.summary, alert.status) for alert in alerts] == [
        ("a", Status.RESOLVED), ("b", Status.FIRING)]


def test_a_body_no_format_claims_lists_what_each_looked_for() -> None:
    with pytest.raises(detect.Undetected) as caught:
        detect.parse(body({"hello": "world"}), {}, limits=LIMITS, now=NOW)
    looked_for = dict(caught.value.looked_for)
    assert looked_for["zabbix"] == "event_id + trigger_id + trigger_name + trigger_severity"
    assert looked_for["opsgenie"] == "alert + action, or integrationId"
    assert list(looked_for)[-1] == "generic"
    assert caught.value.field == ""
    for document in ([], [1], "text", 3):
        with pytest.raises(detect.Undetected):
            detect.choose(document)


def test_a_refusal_of_the_chosen_format_names_the_format_and_the_field() -> None:
    document = example("zabbix_problem.json") | {"event_value": "7"}
    with pytest.raises(detect.Refused) as caught:
        detect.parse(body(document), {}, limits=LIMITS, now=NOW)
    assert (caught.value.format, caught.value.field) == ("zabbix", "event_value")


def test_a_body_that_is_not_json_is_refused_before_detection() -> None:
    with pytest.raises(BadRequest) as caught:
        detect.parse(b"{", {}, limits=LIMITS, now=NOW)
    assert not isinstance(caught.value, detect.Undetected)
    assert caught.value.message.startswith("invalid JSON")


class _Spy:
    def __init__(self) -> None:
        self.calls = 0

    def parse(self, body: bytes, headers: Any, *, limits: FieldLimits,
              now: datetime) -> list[Alert]:
        self.calls += 1
        raise AssertionError("a format other than the chosen one parsed the body")

    def parse_decoded(self, decoded: object, headers: Any, *, limits: FieldLimits,
                      now: datetime) -> list[Alert]:
        return self.parse(b"", headers, limits=limits, now=now)


def test_only_the_chosen_format_parses_the_body(monkeypatch: pytest.MonkeyPatch) -> None:
    """Detection reads top-level keys; it never tries formats one after another (which
    would cost a parse per format on every large body)."""
    spies = []
    candidates = []
    for candidate in detect.CANDIDATES:
        if candidate.name != "zabbix":
            spy = _Spy()
            spies.append(spy)
            candidate = detect.Candidate(candidate.name, candidate.looks_for,
                                         candidate.matches, spy, candidate.in_list)
        candidates.append(candidate)
    monkeypatch.setattr(detect, "CANDIDATES", tuple(candidates))
    big = example("zabbix_problem.json") | {"event_tags": ", ".join(
        f"tag{number}:{number}" for number in range(100))}
    chosen, _ = detect.parse(body(big), {}, limits=LIMITS, now=NOW)
    assert chosen == "zabbix"
    assert sum(spy.calls for spy in spies) == 0


def test_a_list_body_is_judged_by_its_first_entry() -> None:
    assert detect.choose([{"summary": "s"}]).name == "native"
    assert detect.choose([{"labels": {"alertname": "A"}}]).name == "alertmanager_v2"


def _detected(body: bytes, headers: Any) -> list[Alert]:
    return detect.parse(body, headers, limits=LIMITS, now=NOW)[1]


@robustness.SETTINGS
@given(body=robustness.mutated(sorted(
    file for name, files in DETECTED.items() for file in files)))
def test_a_mutated_payload_of_any_format_gives_alerts_or_a_bad_request(body: bytes) -> None:
    """Whatever a sender's body becomes, detection and the chosen parse answer alerts or a
    BadRequest (Undetected and Refused are BadRequests), never another exception."""
    robustness.check(_detected, body)


@robustness.SETTINGS
@given(document=robustness.json_values)
def test_random_json_is_detected_or_refused(document: Any) -> None:
    robustness.check(_detected, json.dumps(document).encode())


def _outcome(read: Callable[[], list[Alert]]) -> list[Alert] | tuple[str, str]:
    try:
        return read()
    except BadRequest as refusal:
        return refusal.field, refusal.message


class _Bytes:
    """A chosen format that must not be handed the bytes again: it reads what detection
    decoded (`parse_decoded`)."""

    def __init__(self, inbound: Any) -> None:
        self.inbound = inbound

    def parse(self, body: bytes, headers: Any, *, limits: FieldLimits,
              now: datetime) -> list[Alert]:
        raise AssertionError("the chosen format decoded the body again")

    def parse_decoded(self, decoded: object, headers: Any, *, limits: FieldLimits,
                      now: datetime) -> list[Alert]:
        alerts: list[Alert] = self.inbound.parse_decoded(decoded, headers, limits=limits,
                                                         now=now)
        return alerts


def test_the_chosen_format_reads_the_body_detection_decoded(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(detect, "CANDIDATES", tuple(
        detect.Candidate(item.name, item.looks_for, item.matches, _Bytes(item.inbound),
                         item.in_list) for item in detect.CANDIDATES))
    for name, files in sorted(DETECTED.items()):
        for file in files:
            chosen, alerts = detect.parse(body(example(file)), {}, limits=LIMITS, now=NOW)
            assert (chosen, bool(alerts)) == (name, True), file


@robustness.SETTINGS
@given(body=robustness.mutated(sorted(
    file for name, files in DETECTED.items() for file in files)))
def test_a_decoded_body_reads_as_its_bytes_do(body: bytes) -> None:
    """Each format's `parse_decoded` gives what its `parse` of the bytes gives: the same
    alerts, or the same refusal naming the same field."""
    try:
        document = decode_json(body)
        candidate = detect.choose(document)
    except BadRequest:
        return
    inbound = candidate.inbound
    assert _outcome(lambda: inbound.parse_decoded(document, {}, limits=LIMITS, now=NOW)) \
        == _outcome(lambda: inbound.parse(body, {}, limits=LIMITS, now=NOW))
