"""Alertmanager's matchers, as amtool and Grafana send them (room: server; imports
alerts.formats, errors).

The API v2 `filter` query parameter holds one matcher each (`alertname="Disk full"`,
`severity=~"crit.*"`, `{job!="node"}`, unquoted values allowed), and silences carry
`{"name", "value", "isRegex", "isEqual"}` objects (read in
alerts/formats/alertmanager_silences.py). Both map onto router's own operators
`=`, `!=`, `=~`, `!~`, so a silence added by amtool is an ordinary router silence.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from router.alerts.formats import alertmanager_silences
from router.errors import BadRequest

_MATCHER = re.compile(r"\s*([^\s=!~{}\"',]+)\s*(=~|!~|!=|=)\s*(.*?)\s*")
# A silence's matcher objects are read and written where `router test` reads them too.
from_silence_matcher = alertmanager_silences.from_matcher
to_silence_matcher = alertmanager_silences.to_matcher


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
    alertmanager_silences.check_regex(operator, value, field)
    return name, operator, value


def matches(labels: Mapping[str, str], name: str, operator: str, value: str) -> bool:
    """Whether a label set passes one matcher; a missing label is the empty value and a
    regex must match the whole value, as in Alertmanager."""
    actual = labels.get(name, "")
    if operator in ("=", "!="):
        return (actual == value) == (operator == "=")
    return (re.fullmatch(value, actual) is not None) == (operator == "=~")
