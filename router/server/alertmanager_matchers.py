"""Alertmanager's matchers, as amtool and Grafana send them (room: server; imports errors).

The API v2 `filter` query parameter holds one matcher each (`alertname="Disk full"`,
`severity=~"crit.*"`, `{job!="node"}`, unquoted values allowed), and silences carry
`{"name", "value", "isRegex", "isEqual"}` objects. Both map onto router's own operators
`=`, `!=`, `=~`, `!~`, so a silence added by amtool is an ordinary router silence.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from router.errors import BadRequest

_MATCHER = re.compile(r"\s*([^\s=!~{}\"',]+)\s*(=~|!~|!=|=)\s*(.*?)\s*")
_OPERATORS = {(False, True): "=", (False, False): "!=", (True, True): "=~",
              (True, False): "!~"}
"""(isRegex, isEqual) -> router's operator."""


def parse_filter(text: str, field: str = "filter") -> tuple[str, str, str]:
    """One `filter` value as (name, operator, value).

    Raises:
        BadRequest: naming `field`, when the text is not `name OP value` or a regex value
            does not compile.
    """
    inner = text.strip()
    if inner.startswith("{") and inner.endswith("}"):
        inner = inner[1:-1]
    found = _MATCHER.fullmatch(inner)
    if found is None:
        raise BadRequest(field, f"bad matcher format: {text!r}; expected name=\"value\" "
                                "with one of = != =~ !~")
    name, operator, value = found.groups()
    if value.startswith('"'):
        try:
            value = json.loads(value)
        except ValueError:
            raise BadRequest(field, f"bad matcher value in {text!r}: an unterminated or "
                                    "badly escaped quoted value") from None
        if not isinstance(value, str):
            raise BadRequest(field, f"bad matcher value in {text!r}")
    _check_regex(operator, value, field)
    return name, operator, value


def from_silence_matcher(document: Any, field: str) -> tuple[str, str, str]:
    """A silence's `{"name", "value", "isRegex", "isEqual"}` as (name, operator, value);
    `isEqual` defaults to true, as in Alertmanager."""
    if not isinstance(document, dict):
        raise BadRequest(field, "expected an object with name, value and isRegex")
    name, value = document.get("name"), document.get("value")
    regex, equal = document.get("isRegex"), document.get("isEqual", True)
    if not isinstance(name, str) or not name:
        raise BadRequest(f"{field}.name", "expected a non-empty label name")
    if not isinstance(value, str):
        raise BadRequest(f"{field}.value", "expected text")
    if not isinstance(regex, bool) or not isinstance(equal, bool):
        raise BadRequest(f"{field}.isRegex", "expected isRegex (and isEqual) true or false")
    operator = _OPERATORS[(regex, equal)]
    _check_regex(operator, value, f"{field}.value")
    return name, operator, value


def to_silence_matcher(name: str, operator: str, value: str) -> dict[str, Any]:
    """Router's matcher as Alertmanager writes it."""
    return {"name": name, "value": value, "isRegex": "~" in operator,
            "isEqual": not operator.startswith("!")}


def matches(labels: Mapping[str, str], name: str, operator: str, value: str) -> bool:
    """Whether a label set passes one matcher; a missing label is the empty value and a
    regex must match the whole value, as in Alertmanager."""
    actual = labels.get(name, "")
    if operator in ("=", "!="):
        return (actual == value) == (operator == "=")
    return (re.fullmatch(value, actual) is not None) == (operator == "=~")


def _check_regex(operator: str, value: str, field: str) -> None:
    if "~" in operator:
        try:
            re.compile(value)
        except re.error as error:
            raise BadRequest(field, f"bad regex {value!r}: {error}") from None
