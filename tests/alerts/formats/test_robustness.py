"""No body makes a parser raise anything but BadRequest (DESIGN: never a 500, never a crash).

Every parser gets random bytes, random JSON, and the real payloads of payloads/ with one to
three of their fields replaced by random JSON or deleted, which reaches far deeper into each
parser than random JSON alone.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from router.alerts.formats import FORMATS
from router.alerts.model import Alert, Link, Severity, Status
from router.errors import BadRequest
from tests.alerts.formats import EXAMPLES, LIMITS, NOW, example

FORM = {"content-type": "application/x-www-form-urlencoded"}

Parser = Callable[[bytes, Mapping[str, str]], list[Alert]]

PARSERS: dict[str, Parser] = {
    **{name: partial(inbound.parse, limits=LIMITS, now=NOW)
       for name, inbound in FORMATS.items()},
    "datadog_form": lambda body, headers: FORMATS["datadog"].parse(body, FORM, limits=LIMITS,
                                                                   now=NOW),
}

# Keys the parsers look for, so random mappings often reach past the first check.
KEYS = sorted({
    "alerts", "labels", "annotations", "status", "summary", "severity", "startsAt", "endsAt",
    "starts_at", "ends_at", "fingerprint", "generatorURL", "links", "href", "text", "details",
    "routing_key", "event_action", "dedup_key", "payload", "source", "images", "src",
    "custom_details", "timestamp", "values", "orgId", "title", "alert_transition", "tags",
    "date", "alert_priority", "alert_type",
})

texts = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["", "\ud800", "firing", "resolved", "trigger", "critical", "P1",
                     "Recovered", "2026-11-23T14:17:31.368Z", "0001-01-01T00:00:00Z",
                     "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00",
                     "1406662672000", "R0123456789abcdef0123456789abcde"]),
)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), texts,
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), children,
                        max_size=5),
    ),
    max_leaves=20,
)

DELETE = object()
SETTINGS = settings(
    max_examples=200, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def paths(document: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(document, dict):
        for key, value in document.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(document, list):
        for position, value in enumerate(document):
            yield from paths(value, (*prefix, position))


def replaced(document: Any, path: tuple[Any, ...], value: object) -> Any:
    if not path:
        return document if value is DELETE else value
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    if value is DELETE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return document


@st.composite
def mutated(draw: st.DrawFn, names: list[str]) -> bytes:
    document = copy.deepcopy(example(draw(st.sampled_from(names))))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(list(paths(document))))
        value = draw(st.one_of(st.just(DELETE), json_values))
        document = replaced(document, path, value)
    return json.dumps(document).encode()


def check(parser: Parser, body: bytes) -> None:
    """Either alerts of the right types, or a BadRequest with text in it."""
    try:
        alerts = parser(body, {"content-type": "application/json"})
    except BadRequest as error:
        assert isinstance(error.field, str) and isinstance(error.message, str)
        assert error.message and str(error)
        return
    for alert in alerts:
        assert isinstance(alert, Alert) and isinstance(alert.summary, str)
        assert isinstance(alert.severity, Severity) and isinstance(alert.status, Status)
        for mapping in (alert.labels, alert.annotations, alert.details):
            assert all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items())
        assert all(isinstance(link, Link) and isinstance(link.href, str) for link in alert.links)
        for moment in (alert.starts_at, alert.ends_at):
            assert moment is None or moment.tzinfo is not None
        json.dumps([alert.summary, alert.dedup_key, dict(alert.labels)]).encode("utf-8")


@pytest.mark.parametrize("name", sorted(PARSERS))
@SETTINGS
@given(body=st.binary(max_size=300))
def test_random_bytes(name: str, body: bytes) -> None:
    check(PARSERS[name], body)


@pytest.mark.parametrize("name", sorted(PARSERS))
@SETTINGS
@given(document=json_values)
def test_random_json(name: str, document: object) -> None:
    check(PARSERS[name], json.dumps(document).encode())


@pytest.mark.parametrize("name", sorted(EXAMPLES))
@SETTINGS
@given(data=st.data())
def test_real_payloads_with_fields_replaced(name: str, data: st.DataObject) -> None:
    check(PARSERS[name], data.draw(mutated(EXAMPLES[name])))


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_the_unmutated_examples_parse(name: str) -> None:
    for payload in EXAMPLES[name]:
        assert PARSERS[name](json.dumps(example(payload)).encode(), {})
