"""Every inbound format keeps router/alerts/formats/contract.py's `Format` contract at run time
(mypy checks the registry statically): `parse(body, headers, *, limits, now)` gives a list of
Alert carrying the format's source, and bad input is a BadRequest, never another exception.
A generic webhook, made from its declared mapping, is held to the same contract.

A new format in `FORMATS` fails here until it has a payload in tests/alerts/formats' EXAMPLES.
"""

from __future__ import annotations

import json
import types
from typing import Any

import pytest

from router.alerts.formats import FORMATS, generic
from router.alerts.model import Alert
from router.config.model import GenericWebhook
from router.errors import BadRequest
from tests.alerts.formats import EXAMPLES, LIMITS, NOW, example

FLAT = GenericWebhook(name="flat", summary="title", labels="tags")
EVERY: dict[str, Any] = {**FORMATS, "generic:flat": generic.GenericFormat(FLAT)}
"""Every format by the source its alerts carry."""
GENERIC_BODY = json.dumps({"title": "Disk full", "tags": {"host": "db-1"}}).encode()
BAD_BODIES = [b"", b"\xff\xfe", b"{", b"[1,", b"NaN", b'"\\ud800"']
"""Not a JSON document, whatever the format: refused naming the body itself (field "")."""


def body_of(source: str) -> bytes:
    if source.startswith("generic:"):
        return GENERIC_BODY
    assert source in EXAMPLES, f"add a payload of format {source!r} to EXAMPLES"
    return json.dumps(example(EXAMPLES[source][0])).encode()


def broken_parts(module: object) -> list[str]:
    """What `module` lacks of the contract; [] when it keeps it."""
    return [] if callable(getattr(module, "parse", None)) else ["parse: expected a function"]


@pytest.mark.parametrize("source", sorted(EVERY))
def test_every_format_parses_with_limits_and_now_into_alerts_of_its_source(
        source: str) -> None:
    inbound = EVERY[source]
    assert broken_parts(inbound) == []
    alerts = inbound.parse(body_of(source), {"content-type": "application/json"},
                           limits=LIMITS, now=NOW)
    assert isinstance(alerts, list) and alerts
    assert all(isinstance(alert, Alert) for alert in alerts)
    assert {alert.source for alert in alerts} == {source}


def test_a_module_without_parse_breaks_the_contract() -> None:
    assert broken_parts(types.ModuleType("partial")) == ["parse: expected a function"]


@pytest.mark.parametrize("source", sorted(EVERY))
def test_limits_and_now_are_keywords(source: str) -> None:
    with pytest.raises(TypeError):
        EVERY[source].parse(body_of(source), {}, LIMITS, NOW)


@pytest.mark.parametrize("source", sorted(EVERY))
@pytest.mark.parametrize("body", BAD_BODIES)
def test_a_body_that_is_not_json_is_a_bad_request(source: str, body: bytes) -> None:
    with pytest.raises(BadRequest) as caught:
        EVERY[source].parse(body, {}, limits=LIMITS, now=NOW)
    assert caught.value.field == ""
    assert caught.value.message
