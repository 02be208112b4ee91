"""An alert history read for `router replay` (room: replay; imports alerts, errors).

Two shapes, told apart by what each JSON object holds (docs/replay.md):
- `router export alerts` lines: objects with `received_at`;
- Alertmanager webhook payloads (objects with `alerts`), as a webhook receiver captured
  them: parsed by the same parser as `POST /v1/ingest/alertmanager`. A payload carries no
  arrival time, so a firing alert arrives at its `startsAt` and a resolved one at `endsAt`.

Either one JSON object a line (JSONL), or one JSON array of them. Anything else is an error
naming the file's line and the field. Pure: the caller reads the file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from router.alerts.formats import alertmanager
from router.alerts.formats._json import FieldLimits
from router.alerts.model import Alert, Severity, Status
from router.errors import BadRequest

T = TypeVar("T")
_STATUSES = {status.value: status for status in Status}
_SEVERITIES = {severity.value: severity for severity in Severity}
_EARLIEST, _LATEST = datetime(1000, 1, 1, tzinfo=UTC), datetime(9000, 1, 1, tzinfo=UTC)
_RANGE = "expected an instant between the years 1000 and 9000"
_TOO_DEEP = "nested too deeply"
"""Python's JSON reader recurses; nesting past its limit is a RecursionError."""


class HistoryInvalid(Exception):
    """A line of the history is neither shape, or a field is wrong: `str()` says where."""


@dataclass(frozen=True, slots=True)
class Arrival:
    """An alert arriving at `at`. `fresh_until`: the alert was re-sent until then (an
    exported line's `last_received_at`), so it does not go stale before."""

    at: datetime
    alert: Alert
    fresh_until: datetime


def read_history(text: str, name: str, limits: FieldLimits) -> list[Arrival]:
    """Every arrival of the history `text` (the file `name`), in the order of their instants
    (equal instants in the file's order).

    Raises:
        HistoryInvalid: naming the line and what is wrong with it.
    """
    arrivals: list[Arrival] = []
    for line, document in _documents(text, name):
        where = f"{name}:{line}"
        if not isinstance(document, dict):
            raise HistoryInvalid(f"{where}: expected a JSON object (an exported alert or an "
                                 f"Alertmanager webhook payload), got {_kind(document)}")
        if "received_at" in document:
            arrivals.extend(_exported(document, where))
        elif "alerts" in document:
            arrivals.extend(_payload(document, where, limits))
        else:
            raise HistoryInvalid(f"{where}: neither an exported alert (no received_at) nor "
                                 "an Alertmanager webhook payload (no alerts)")
    arrivals.sort(key=lambda arrival: arrival.at)  # stable: equal instants keep file order
    return arrivals


def _documents(text: str, name: str) -> Iterator[tuple[int, Any]]:
    """(line, value) of each JSON value: the elements of one array, or one per line."""
    stripped = text.lstrip()
    if stripped.startswith("["):
        yield from _array(text, name)
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as error:
            raise HistoryInvalid(f"{name}:{number}:{error.colno}: not JSON: {error.msg} "
                                 "(expected one JSON object a line, or one JSON array)"
                                 ) from None
        except RecursionError:
            raise HistoryInvalid(f"{name}:{number}: not JSON: {_TOO_DEEP} (expected one "
                                 "JSON object a line, or one JSON array)") from None


def _array(text: str, name: str) -> Iterator[tuple[int, Any]]:
    decoder = json.JSONDecoder()
    position = text.index("[") + 1
    expect_value, line, counted = True, 1, 0  # `line`: the line of `counted`, kept as it goes
    while True:
        position = _skip_blank(text, position)
        if position >= len(text):
            raise HistoryInvalid(f"{name}:{_line(text, position)}: the JSON array is not "
                                 "closed")
        if text[position] == "]":
            if _skip_blank(text, position + 1) < len(text):
                raise HistoryInvalid(f"{name}:{_line(text, position + 1)}: text after the "
                                     "JSON array")
            return
        if not expect_value:
            if text[position] != ",":
                raise HistoryInvalid(f"{name}:{_line(text, position)}: expected , or ] "
                                     "in the JSON array")
            position, expect_value = position + 1, True
            continue
        try:
            value, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            raise HistoryInvalid(f"{name}:{error.lineno}:{error.colno}: not JSON: "
                                 f"{error.msg}") from None
        except RecursionError:
            line += text.count("\n", counted, position)
            raise HistoryInvalid(f"{name}:{line}: not JSON: {_TOO_DEEP}") from None
        line, counted = line + text.count("\n", counted, position), position
        yield line, value
        position, expect_value = end, False


def _skip_blank(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def _line(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def _exported(document: Mapping[str, Any], where: str) -> list[Arrival]:
    """A `router export alerts` line: its first arrival, and its last when it repeated."""
    received = _instant(document, "received_at", where, required=True)
    assert received is not None
    last = _instant(document, "last_received_at", where) or received
    if last < received:
        raise HistoryInvalid(f"{where}: last_received_at: before received_at")
    status = _choice(document, "status", _STATUSES, where, Status.FIRING)
    alert = Alert(
        summary=_text(document, "summary", where, "replayed alert"),
        source=_text(document, "source", where, "native"),
        severity=_choice(document, "severity", _SEVERITIES, where, Severity.WARNING),
        status=status,
        labels=_texts(document, "labels", where),
        annotations=_texts(document, "annotations", where),
        dedup_key=_optional_text(document, "dedup_key", where),
        service=_optional_text(document, "service", where),
        starts_at=_instant(document, "starts_at", where),
        ends_at=_instant(document, "ends_at", where))
    if status is not Status.FIRING or last == received:
        return [Arrival(received, alert, received)]
    return [Arrival(received, alert, last), Arrival(last, alert, last)]


def _payload(document: Mapping[str, Any], where: str, limits: FieldLimits) -> list[Arrival]:
    body = json.dumps(document).encode()
    try:
        alerts = alertmanager.parse(body, {}, limits=limits, now=datetime.min)
    except BadRequest as error:
        raise HistoryInvalid(f"{where}: Alertmanager payload: {error}") from None
    arrivals = []
    for position, alert in enumerate(alerts):
        at = alert.starts_at if alert.status is Status.FIRING else alert.ends_at
        field = "startsAt" if alert.status is Status.FIRING else "endsAt"
        if at is None:
            raise HistoryInvalid(f"{where}: alerts[{position}].{field}: needed as the "
                                 f"instant a {alert.status.value} alert arrived")
        if not _in_range(at):
            raise HistoryInvalid(f"{where}: alerts[{position}].{field}: {_RANGE}, got "
                                 f"{at.isoformat()}")
        arrivals.append(Arrival(at, alert, at))
    return arrivals


def _instant(document: Mapping[str, Any], field: str, where: str, *,
             required: bool = False) -> datetime | None:
    value = document.get(field)
    if value is None:
        if required:
            raise HistoryInvalid(f"{where}: {field}: required")
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise HistoryInvalid(f"{where}: {field}: expected an ISO 8601 instant with an "
                             f"offset, got {json.dumps(value)}")
    if not _in_range(moment):
        raise HistoryInvalid(f"{where}: {field}: {_RANGE}, got {json.dumps(value)}")
    return moment


def _in_range(moment: datetime) -> bool:
    """Whether the replay can do its time math on `moment` (the window adds the longest
    escalation to the last arrival; UTC conversion of year 1 overflows)."""
    return _EARLIEST <= moment < _LATEST


def _text(document: Mapping[str, Any], field: str, where: str, default: str) -> str:
    value = document.get(field, default)
    if not isinstance(value, str) or not value:
        raise HistoryInvalid(f"{where}: {field}: expected text, got {json.dumps(value)}")
    return value


def _optional_text(document: Mapping[str, Any], field: str, where: str) -> str | None:
    value = document.get(field)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise HistoryInvalid(f"{where}: {field}: expected text, got {json.dumps(value)}")
    return value


def _texts(document: Mapping[str, Any], field: str, where: str) -> Mapping[str, str]:
    value = document.get(field) or {}
    if not isinstance(value, dict) or not all(
            isinstance(item, str) for pair in value.items() for item in pair):
        raise HistoryInvalid(f"{where}: {field}: expected a mapping of text to text")
    return value


def _choice(document: Mapping[str, Any], field: str, choices: Mapping[str, T], where: str,
               default: T) -> T:
    value = document.get(field)
    if value is None:
        return default
    if not isinstance(value, str) or value not in choices:
        raise HistoryInvalid(f"{where}: {field}: expected one of {', '.join(choices)}, got "
                             f"{json.dumps(value)}")
    return choices[value]


def _kind(value: object) -> str:
    return {list: "a list", str: "text", int: "a number", float: "a number",
            bool: "true or false"}.get(type(value), "null")
