"""JSON helpers shared by the inbound formats (room: alerts.formats; imports alerts.model, errors).

Every format must answer any body with either alerts or a `BadRequest` naming the field at
fault. Decoding, the typed getters, the timestamp grammar and the alert-count limit live here so
that promise is kept in one place and each format module stays a short description of its
mapping. Paths name fields the way jq would: `alerts[2].labels.severity`; "" is the whole body.

Per-alert work is bounded twice: by the body's size (the server refuses a body over
`settings.max_body_bytes`) with every step here linear in it, and by `FieldLimits` on the
labels and annotations of each alert, checked before anything (the fingerprint, the store,
a notification) works on them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from types import MappingProxyType
from typing import Protocol, TypeVar

import msgspec

from router.alerts.model import Alert, Link
from router.errors import BadRequest, json_kind

MAX_ALERTS = 1000
"""Most alerts one request may carry (Prometheus sends at most 256 per request)."""

ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)
"""Go's zero `time.Time`, which Alertmanager and Grafana write for "no end time"."""

EMPTY: Mapping[str, str] = MappingProxyType({})

_QUOTE_LIMIT = 60
_CACHED_INSTANT = 40  # 2026-05-24T09:30:00.123456789+02:00 is 35
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(?:([Zz])|([+-])([0-9]{2}):?([0-9]{2}))",
    re.ASCII,
)

Choice = TypeVar("Choice")

TYPED_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, RecursionError)
"""What msgspec raises for a body it will not decode (RecursionError: nested too deeply)."""

_FAST_DECODE = msgspec.json.Decoder().decode


class FieldLimits(Protocol):
    """What one alert's labels and annotations may hold, in bytes of UTF-8 and in entries.

    Read-only properties, so the config's frozen `AlertLimits` (`settings.alert_limits`, where
    the defaults live) satisfies it; this module may not import the config.
    """

    @property
    def name_bytes(self) -> int: ...
    @property
    def label_value_bytes(self) -> int: ...
    @property
    def labels_per_alert(self) -> int: ...
    @property
    def annotation_value_bytes(self) -> int: ...
    @property
    def annotations_per_alert(self) -> int: ...


class _Constant(ValueError):
    """NaN and Infinity: Python's json accepts them, JSON (RFC 8259) does not."""


def _reject_constant(name: str) -> object:
    raise _Constant(f"invalid JSON: {name} is not a JSON number")


# Built once: json.loads with a parse_constant builds a new decoder per call.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def _loads(text: str) -> object:
    """json.loads(text, parse_constant=_reject_constant), with the decoder built once."""
    if text.startswith("\ufeff"):
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    return _DECODER.decode(text)


def decode(body: bytes, what: str = "body") -> object:
    """The JSON document in `body` (`what` names it in messages: "body", "line").

    msgspec decodes it; a body msgspec refuses goes to the standard library's decoder, which
    words the error (or accepts what msgspec cannot hold: an integer over 64 bits). msgspec
    is the stricter of the two (NaN, a BOM, a lone surrogate, bad UTF-8 are errors to both),
    so what it accepts the careful path accepts alike, into the same values.

    Raises:
        BadRequest: with field "" when the body is not UTF-8, not JSON, or holds a string no
            store could keep (a lone UTF-16 surrogate written as a \\u escape).
    """
    try:
        return _FAST_DECODE(body)
    except TYPED_ERRORS:
        return _decode_carefully(body, what)


def _decode_carefully(body: bytes, what: str) -> object:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest("", f"the {what} is not valid UTF-8 (byte {exc.start})") from None
    try:
        document = _loads(text)
        if _SURROGATE_ESCAPE.search(text):  # rare, so only then pay for the check
            json.dumps(document, ensure_ascii=False).encode("utf-8")
    except json.JSONDecodeError as exc:
        message = f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        raise BadRequest("", message) from None
    except _Constant as exc:
        raise BadRequest("", str(exc)) from None
    except UnicodeEncodeError:
        raise BadRequest("", "invalid JSON: a \\u escape names a lone UTF-16 surrogate") from None
    except RecursionError:
        raise BadRequest("", "invalid JSON: nested too deeply") from None
    except ValueError:  # int() refuses numbers of more than 4300 digits
        raise BadRequest("", "invalid JSON: a number has too many digits") from None
    return document


class DecodedParse(Protocol):
    """A format's reading of a body already decoded from JSON (contract.DecodedFormat)."""

    def __call__(self, decoded: object, headers: Mapping[str, str], *, limits: FieldLimits,
                 now: datetime) -> list[Alert]: ...


class BytesParse(Protocol):
    """A format's `parse` of a body's bytes (contract.Format)."""

    def __call__(self, body: bytes, headers: Mapping[str, str], *, limits: FieldLimits,
                 now: datetime) -> list[Alert]: ...


def from_bytes(parse_decoded: DecodedParse) -> BytesParse:
    """The `parse` of a format that reads decoded JSON: `decode` the body, then
    `parse_decoded` it (detect.py calls `parse_decoded` with what it decoded itself)."""
    def parse(body: bytes, headers: Mapping[str, str], *, limits: FieldLimits,
              now: datetime) -> list[Alert]:
        return parse_decoded(decode(body), headers, limits=limits, now=now)
    parse.__doc__ = parse_decoded.__doc__
    return parse


def member(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def index(path: str, position: int) -> str:
    return f"{path}[{position}]"


kind = json_kind  # what a JSON value is, in words: errors.json_kind, shared with the engine


def quote(value: str) -> str:
    """`value` quoted for a message, cut short so a message never echoes a whole body."""
    if len(value) > _QUOTE_LIMIT:
        value = value[:_QUOTE_LIMIT] + "..."
    return f"'{value}'"


def as_object(value: object, path: str, what: str = "a mapping") -> dict[str, object]:
    if not isinstance(value, dict):
        raise BadRequest(path, f"expected {what}, got {kind(value)}")
    return value


def bounded(value: object, path: str, what: str = "a list of alerts") -> list[object]:
    """A list of at most MAX_ALERTS entries."""
    if not isinstance(value, list):
        raise BadRequest(path, f"expected {what}, got {kind(value)}")
    if len(value) > MAX_ALERTS:
        raise BadRequest(path, f"at most {MAX_ALERTS} alerts per request, got {len(value)}")
    return value


def alert_list(document: Mapping[str, object], key: str, path: str) -> list[object]:
    """The required list of alerts under `key`, at most MAX_ALERTS long."""
    value = document.get(key)
    if value is None:
        raise BadRequest(member(path, key), "is required")
    return bounded(value, member(path, key))


def text(
    document: Mapping[str, object], key: str, path: str, *, max_length: int | None = None
) -> str | None:
    """An optional text field; null counts as absent."""
    value = document.get(key)
    if value is None:
        return None
    field = member(path, key)
    if not isinstance(value, str):
        raise BadRequest(field, f"expected text, got {kind(value)}")
    if max_length is not None and len(value) > max_length:
        raise BadRequest(field, f"is longer than {max_length} characters ({len(value)})")
    return value


def required_text(
    document: Mapping[str, object], key: str, path: str, *, max_length: int | None = None
) -> str:
    """A text field that must be present and not blank."""
    value = text(document, key, path, max_length=max_length)
    if value is None:
        raise BadRequest(member(path, key), "is required")
    if not value.strip():
        raise BadRequest(member(path, key), "must not be empty")
    return value


def number(document: Mapping[str, object], key: str, path: str) -> int | float | None:
    value = document.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequest(member(path, key), f"expected a number, got {kind(value)}")
    return value


def choice(
    document: Mapping[str, object],
    key: str,
    path: str,
    choices: Mapping[str, Choice],
    default: Choice | None = None,
) -> Choice:
    """The value `choices` maps the field's text to; without a default the field is required."""
    value = text(document, key, path)
    if value is None:
        if default is None:
            raise BadRequest(member(path, key), "is required")
        return default
    if value not in choices:
        expected = ", ".join(choices)
        raise BadRequest(member(path, key), f"expected one of {expected}; got {quote(value)}")
    return choices[value]


def text_map(
    document: Mapping[str, object], key: str, path: str, noun: str, limits: FieldLimits,
    *, required: bool = False,
) -> Mapping[str, str]:
    """A mapping of names to text, labels or annotations (`noun`), within `limits`."""
    value = document.get(key)
    field = member(path, key)
    if value is None:
        if required:
            raise BadRequest(field, "is required")
        return EMPTY
    if not isinstance(value, dict):
        raise BadRequest(field, f"expected a mapping of {noun} names to text, got {kind(value)}")
    for name, item in value.items():
        if not name:
            raise BadRequest(field, f"{noun} names must not be empty")
        if not isinstance(item, str):
            raise BadRequest(member(field, name), f"expected text, got {kind(item)}")
    check_sizes(value, field, noun, limits)
    return MappingProxyType(dict(value))


def check_sizes(
    items: Mapping[str, str], field: str, noun: str, limits: FieldLimits,
    field_of: Callable[[str], str] | None = None,
) -> None:
    """Refuse labels or annotations (`noun`) over `limits`.

    Args:
        field: the mapping's path; a count or a name over its limit is named by it.
        field_of: the path of one entry's value, by name (default: `field.name`).

    Raises:
        BadRequest: `alerts[0].labels.instance: label value is 102400 bytes, over the
            limit of 16384`.
    """
    if noun == "label":
        most, value_bytes = limits.labels_per_alert, limits.label_value_bytes
    else:
        most, value_bytes = limits.annotations_per_alert, limits.annotation_value_bytes
    if len(items) > most:
        raise BadRequest(field, f"{len(items)} {noun}s, over the limit of {most}")
    if not items or (max(map(len, items)) * 4 <= limits.name_bytes
                     and max(map(len, items.values())) * 4 <= value_bytes):
        return  # the usual case, in two passes in C: a character is at most 4 bytes
    for name, value in items.items():
        if (size := _size_over(name, limits.name_bytes)) is not None:
            raise BadRequest(field, f"{noun} name {quote(name)} is {size} bytes, over the "
                                    f"limit of {limits.name_bytes}")
        if (size := _size_over(value, value_bytes)) is not None:
            place = field_of(name) if field_of is not None else member(field, name)
            raise BadRequest(place, f"{noun} value is {size} bytes, over the limit of "
                                    f"{value_bytes}")


def _size_over(text: str, limit: int) -> int | None:
    """The size of `text` in UTF-8 if over `limit`, else None; encodes only long text (a
    character is at most 4 bytes)."""
    if len(text) * 4 <= limit:
        return None
    size = len(text.encode("utf-8", "surrogatepass"))
    return size if size > limit else None


def detail_text(value: object, field: str) -> str:
    """Free-form JSON as text: strings as they are, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except RecursionError:
        raise BadRequest(field, "nested too deeply") from None


def detail_map(document: Mapping[str, object], key: str, path: str) -> Mapping[str, str]:
    """A free-form object whose values become text (see detail_text)."""
    value = document.get(key)
    field = member(path, key)
    if value is None:
        return EMPTY
    if not isinstance(value, dict):
        raise BadRequest(field, f"expected a mapping, got {kind(value)}")
    return MappingProxyType(
        {name: detail_text(item, member(field, name)) for name, item in value.items()}
    )


def timestamp(document: Mapping[str, object], key: str, path: str) -> datetime | None:
    value = text(document, key, path)
    if value is None:
        return None
    return parse_time(value, member(path, key))


def parse_time(value: str, field: str) -> datetime:
    """An RFC 3339 instant, in UTC.

    Accepts any number of fractional digits (Go writes nine; kept to microseconds) and an
    offset with or without its colon (PagerDuty's own examples write `+0000`). An offset is
    required: an instant without one names no instant.
    """
    known = _recent_instants.get(value)
    if known is not None:
        return known
    moment = _parse_time(value, field)
    if len(value) > _CACHED_INSTANT:  # any number of fraction digits is valid: keep keys small
        return moment
    if len(_recent_instants) >= 1024:
        _recent_instants.clear()
    _recent_instants[value] = moment
    return moment


# Senders repeat timestamps: Prometheus re-sends an alert with its unchanging startsAt every
# cycle, and alerts of one evaluation share it.
_recent_instants: dict[str, datetime] = {}


def _parse_time(value: str, field: str) -> datetime:
    match = _RFC3339.fullmatch(value)
    if match is None:
        raise BadRequest(
            field, f"expected an RFC 3339 timestamp like 2026-05-24T09:30:00Z, got {quote(value)}"
        )
    if match[8] or (match[10] <= "23" and match[11] <= "59"):
        # The grammar checked, Python's own parser reads it (truncating the fraction to
        # microseconds as below) in a fraction of the time; it refuses a lower-case t or z,
        # which the code below reads, and an impossible date, which it words.
        try:
            return datetime.fromisoformat(value).astimezone(UTC)
        except (ValueError, OverflowError):
            pass
    return _read_match(match, value, field)


def _read_match(match: re.Match[str], value: str, field: str) -> datetime:
    year, month, day, hour, minute, second = (int(match[group]) for group in range(1, 7))
    micro = int((match[7] or "0")[:6].ljust(6, "0"))
    offset = timedelta(0)
    if not match[8]:
        offset_hours, offset_minutes = int(match[10]), int(match[11])
        if offset_hours > 23 or offset_minutes > 59:
            raise BadRequest(field, f"{quote(value)} has no valid UTC offset")
        offset = timedelta(hours=offset_hours, minutes=offset_minutes)
        offset = -offset if match[9] == "-" else offset
    try:
        moment = datetime(year, month, day, hour, minute, second, micro, timezone(offset))
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise BadRequest(field, f"{quote(value)} is not a valid instant") from None


def links(document: Mapping[str, object], key: str, path: str) -> tuple[Link, ...]:
    """A list of `{href, text}` objects; href is required."""
    value = document.get(key)
    field = member(path, key)
    if value is None:
        return ()
    if not isinstance(value, list):
        raise BadRequest(field, f"expected a list of links, got {kind(value)}")
    found = []
    for position, item in enumerate(value):
        entry = as_object(item, index(field, position), "a link {href, text}")
        href = required_text(entry, "href", index(field, position))
        found.append(Link(href=href, text=text(entry, "text", index(field, position)) or ""))
    return tuple(found)


def url_links(
    document: Mapping[str, object], path: str, fields: Iterable[tuple[str, str]]
) -> tuple[Link, ...]:
    """One Link per non-empty URL field, in the order of `fields` (key, link text)."""
    found = []
    for key, label in fields:
        href = text(document, key, path)
        if href:
            found.append(Link(href=href, text=label))
    return tuple(found)


def reject_unknown(document: Mapping[str, object], known: Iterable[str], path: str) -> None:
    allowed = sorted(known)
    for key in document:
        if key not in allowed:
            raise BadRequest(
                member(path, key), f"is not a known field (expected one of {', '.join(allowed)})"
            )
