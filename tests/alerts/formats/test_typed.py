"""The typed path (msgspec structs) and the careful path (plain JSON values) agree.

Alertmanager's two formats, router's own and PagerDuty's are decoded into msgspec structs
first; any body the typed path refuses goes through the careful path, which words the error.
So the typed path may refuse more than the careful one, never accept a body the careful path
refuses, and never read a body into other alerts. Checked on the real payloads, on them with
fields replaced or deleted, and on random JSON; and `_json.decode`'s msgspec decoding
against the standard library's.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from router.alerts.formats import _json, alertmanager, alertmanager_v2, native, pagerduty
from router.alerts.model import Alert
from router.errors import BadRequest
from tests.alerts.formats import EXAMPLES, LIMITS, NOW, example
from tests.alerts.formats.test_robustness import SETTINGS, json_values, mutated

Parse = Callable[[bytes], list[Alert]]

PATHS: dict[str, tuple[Parse, Parse]] = {
    "alertmanager": (lambda body: alertmanager._typed(alertmanager._BODY.decode(body).alerts,
                                                      LIMITS),
                     lambda body: alertmanager._careful(_json.decode(body), LIMITS)),
    "alertmanager_v2": (lambda body: alertmanager_v2._typed(alertmanager_v2._BODY.decode(body),
                                                            NOW, LIMITS),
                        lambda body: alertmanager_v2._careful(_json.decode(body), NOW, LIMITS)),
    "native": (lambda body: native._typed(native._BODY.decode(body), LIMITS),
               lambda body: native.parse_document(_json.decode(body), limits=LIMITS)),
    "pagerduty": (lambda body: pagerduty._typed(body, LIMITS),
                  lambda body: pagerduty._careful(body, LIMITS)),
}


def agree(name: str, body: bytes) -> bool:
    """Whether the typed path took the body (and then read it as the careful path does)."""
    typed, careful = PATHS[name]
    try:
        fast = typed(body)
    except (*_json.TYPED_ERRORS, BadRequest):
        return False
    assert fast == careful(body)
    return True


@pytest.mark.parametrize("name", sorted(PATHS))
def test_the_typed_path_reads_every_example(name: str) -> None:
    for payload in EXAMPLES[name]:
        assert agree(name, json.dumps(example(payload)).encode())


@pytest.mark.parametrize("name", sorted(PATHS))
@SETTINGS
@given(data=st.data())
def test_the_typed_path_agrees_on_payloads_with_fields_replaced(
        name: str, data: st.DataObject) -> None:
    agree(name, data.draw(mutated(EXAMPLES[name])))


@pytest.mark.parametrize("name", sorted(PATHS))
@SETTINGS
@given(document=json_values)
def test_the_typed_path_agrees_on_random_json(name: str, document: object) -> None:
    agree(name, json.dumps(document).encode())


@SETTINGS
@given(document=json_values)
def test_decode_gives_the_standard_librarys_values(document: object) -> None:
    body = json.dumps(document, ensure_ascii=False).encode("utf-8", "surrogatepass")
    try:
        expected = _json._decode_carefully(body, "body")
    except BadRequest as refused:
        with pytest.raises(BadRequest) as error:
            _json.decode(body)
        assert error.value.message == refused.message
        return
    assert _json.decode(body) == expected


@pytest.mark.parametrize(("body", "message"), [
    (b"NaN", "invalid JSON: NaN is not a JSON number"),
    (b"\xef\xbb\xbf{}", "invalid JSON at line 1, column 1: Unexpected UTF-8 BOM (decode using "
                        "utf-8-sig)"),
    (b'"\\ud800"', "invalid JSON: a \\u escape names a lone UTF-16 surrogate"),
    (b'{"a": 1} x', "invalid JSON at line 1, column 10: Extra data"),
])
def test_decode_words_what_msgspec_refuses_as_before(body: bytes, message: str) -> None:
    with pytest.raises(BadRequest) as error:
        _json.decode(body)
    assert error.value.message == message


def test_an_integer_over_64_bits_is_still_read() -> None:
    assert _json.decode(b'{"n": 18446744073709551616}') == {"n": 18446744073709551616}


@pytest.mark.parametrize(("body", "field", "message"), [
    (b'[{"labels": {"instance": 7}}]', "[0].labels.instance", "expected text, got a number"),
    (b'[{"labels": {"a": "b"}, "endsAt": "yesterday"}]', "[0].endsAt",
     "expected an RFC 3339 timestamp like 2026-05-24T09:30:00Z, got 'yesterday'"),
    (b'[{"labels": {"a": "b"}, "startsAt": "2026-12-05T10:00:00Z", '
     b'"endsAt": "2026-12-05T09:00:00Z"}]', "[0].endsAt", "is before startsAt"),
])
def test_a_body_the_typed_path_refuses_is_worded_by_the_careful_path(
        body: bytes, field: str, message: str) -> None:
    with pytest.raises(BadRequest) as error:
        alertmanager_v2.parse(body, {}, limits=LIMITS, now=NOW)
    assert (error.value.field, error.value.message) == (field, message)


@SETTINGS
@given(st.from_regex(_json._RFC3339, fullmatch=True))
def test_timestamps_read_as_by_the_grammar(value: str) -> None:
    match = _json._RFC3339.fullmatch(value)
    assert match is not None
    try:
        expected = _json._read_match(match, value, "at")
    except BadRequest as refused:
        with pytest.raises(BadRequest) as error:
            _json._parse_time(value, "at")
        assert error.value.message == refused.message
        return
    assert _json._parse_time(value, "at") == expected
