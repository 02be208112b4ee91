"""Labels and annotations over `settings.alert_limits` are refused by every format, naming the
field, before any work is done on them (issue 13: a 100 KB label froze the daemon)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from router.alerts.formats import (
    alertmanager,
    alertmanager_v2,
    datadog,
    generic,
    grafana,
    native,
    pagerduty,
)
from router.alerts.model import Alert
from router.config.model import AlertLimits, GenericWebhook
from router.errors import BadRequest
from tests.alerts.formats import LIMITS

NOW = datetime(2026, 11, 23, 14, 17, 25, tzinfo=UTC)
BIG = "x" * 102_400
FLAT = GenericWebhook(name="flat", summary="title", labels="tags", annotations={"text": "text"})


def _alertmanager(labels: dict[str, str], annotations: dict[str, str]) -> bytes:
    return json.dumps({"alerts": [{"status": "firing", "labels": labels,
                                   "annotations": annotations}]}).encode()


def _v2(labels: dict[str, str], annotations: dict[str, str]) -> bytes:
    return json.dumps([{"labels": labels, "annotations": annotations}]).encode()


def _native(labels: dict[str, str], annotations: dict[str, str]) -> bytes:
    return json.dumps({"summary": "s", "labels": labels, "annotations": annotations}).encode()


def _generic(labels: dict[str, str], annotations: dict[str, str]) -> bytes:
    return json.dumps({"title": "t", "tags": labels, **annotations}).encode()


Parse = Callable[[bytes, AlertLimits], list[Alert]]
FORMATS: dict[str, tuple[Callable[[dict[str, str], dict[str, str]], bytes], Parse, str]] = {
    "alertmanager": (_alertmanager, lambda body, limits: alertmanager.parse(
        body, {}, limits=limits, now=NOW), "alerts[0]."),
    "grafana": (_alertmanager, lambda body, limits: grafana.parse(body, {}, limits=limits, now=NOW),
                "alerts[0]."),
    "alertmanager_v2": (_v2, lambda body, limits: alertmanager_v2.parse(
        body, {}, limits=limits, now=NOW), "[0]."),
    "native": (_native, lambda body, limits: native.parse(body, {}, limits=limits, now=NOW), ""),
    "generic": (_generic, lambda body, limits: generic.parse(body, {}, FLAT, limits=limits),
                ""),
}


def refusal(parse: Callable[[], object]) -> str:
    with pytest.raises(BadRequest) as caught:
        parse()
    return str(caught.value)


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_a_label_value_over_the_limit_is_refused_naming_it(name: str) -> None:
    encode, parse, prefix = FORMATS[name]
    body = encode({"alertname": "Big", "instance": BIG}, {})
    field = f"{prefix}labels.instance" if name != "generic" else "tags.instance"
    assert refusal(lambda: parse(body, LIMITS)) == (
        f"{field}: label value is 102400 bytes, over the limit of 16384")


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_a_label_value_at_the_limit_is_accepted(name: str) -> None:
    encode, parse, _ = FORMATS[name]
    labels = {"alertname": "Edge", "instance": "é" * 8192}  # 16384 bytes of UTF-8
    [alert] = parse(encode(labels, {}), LIMITS)
    assert alert.labels["instance"] == labels["instance"]


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_too_many_labels_or_a_long_name_are_refused(name: str) -> None:
    encode, parse, prefix = FORMATS[name]
    field = f"{prefix}labels" if name != "generic" else "tags"
    many = {f"label{number}": "v" for number in range(129)}
    assert refusal(lambda: parse(encode(many, {}), LIMITS)) == (
        f"{field}: 129 labels, over the limit of 128")
    long_name = {"n" * 1025: "v"}
    assert refusal(lambda: parse(encode(long_name, {}), LIMITS)) == (
        f"{field}: label name '{'n' * 60}...' is 1025 bytes, over the limit of 1024")


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_an_annotation_over_its_own_limit_is_refused(name: str) -> None:
    encode, parse, prefix = FORMATS[name]
    annotations = {"text": "d" * 70_000}
    field = f"{prefix}annotations.text" if name != "generic" else "text"
    assert refusal(lambda: parse(encode({"alertname": "A"}, annotations), LIMITS)) == (
        f"{field}: annotation value is 70000 bytes, over the limit of 65536")
    roomy = AlertLimits(annotation_value_bytes=70_000)
    [alert] = parse(encode({"alertname": "A"}, annotations), roomy)
    assert alert.annotations["text"] == annotations["text"]


def test_limits_come_from_the_settings_given() -> None:
    tight = AlertLimits(label_value_bytes=10, labels_per_alert=1)
    assert refusal(lambda: native.parse(_native({"a": "12345678901"}, {}), {},
                                        limits=tight, now=NOW)) == (
        "labels.a: label value is 11 bytes, over the limit of 10")
    assert refusal(lambda: native.parse(_native({"a": "1", "b": "2"}, {}), {},
                                        limits=tight, now=NOW)) == (
        "labels: 2 labels, over the limit of 1")


def test_pagerduty_labels_are_named_by_their_payload_field() -> None:
    event = {"routing_key": "R" * 32, "event_action": "trigger",
             "payload": {"summary": "s", "source": BIG, "severity": "info"}}
    assert refusal(lambda: pagerduty.parse(json.dumps(event).encode(), {},
                                           limits=LIMITS, now=NOW)) == (
        "payload.source: label value is 102400 bytes, over the limit of 16384")


def test_datadog_labels_are_named_by_their_tag_or_hostname() -> None:
    def parse(**fields: str) -> object:
        return datadog.parse(json.dumps({"title": "t", **fields}).encode(), {},
                             limits=LIMITS, now=NOW)

    assert refusal(lambda: parse(tags=f"instance:{BIG}")) == (
        "tags.instance: label value is 102400 bytes, over the limit of 16384")
    assert refusal(lambda: parse(hostname=BIG)) == (
        "hostname: label value is 102400 bytes, over the limit of 16384")
    assert refusal(lambda: parse(body="b" * 70_000)) == (
        "body: annotation value is 70000 bytes, over the limit of 65536")


def test_datadog_many_values_of_one_tag_are_linear_work() -> None:
    """100,000 values of one tag (a 1.3 MB body) were joined by searching the joined text
    for each new value: quadratic, minutes of CPU. A child process with a 60 s guard."""
    script = (
        "import json\n"
        "from datetime import UTC, datetime\n"
        "from router.alerts.formats import datadog\n"
        "from router.config.model import AlertLimits\n"
        "tags = ','.join(f'role:r{n}' for n in range(100_000))\n"
        "body = json.dumps({'title': 't', 'tags': tags}).encode()\n"
        "limits = AlertLimits(label_value_bytes=10**7)\n"
        "[alert] = datadog.parse(body, {}, limits=limits, now=datetime.now(UTC))\n"
        "print(len(alert.labels['role'].split(',')))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=True, cwd=Path(__file__).parents[3])
    assert done.stdout.strip() == "100000"
