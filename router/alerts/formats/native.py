"""router's own alert JSON (room: alerts.formats; imports alerts.model, errors).

The format for scripts and tools that speak to router directly (`POST /v1/alerts`, and the
unix socket). The body is one alert object or a list of them. Being our own, it is strict:
an unknown field is refused, so a typo such as `sevrity` is an error rather than a silent
default. docs/formats.md documents it for users.

| field        | type                                  | Alert field                         |
| ------------ | ------------------------------------- | ----------------------------------- |
| summary      | text, required, not blank             | summary                             |
| severity     | critical, error, warning, info        | severity (default warning)          |
| status       | firing, acknowledged, resolved        | status (default firing)             |
| labels       | mapping of text to text               | labels                              |
| annotations  | mapping of text to text               | annotations                         |
| details      | mapping; values that are not text     | details                             |
|              | become compact JSON text              |                                     |
| service      | text                                  | service                             |
| dedup_key    | text                                  | dedup_key (else the engine derives) |
| starts_at    | RFC 3339 timestamp with offset        | starts_at                           |
| ends_at      | RFC 3339 timestamp, not before start  | ends_at                             |
| links        | list of {href (required), text}       | links                               |

Severity needs no table: the format's levels are router's own. Empty `service` and
`dedup_key` count as absent.

A body is decoded into `NativeAlert` structs by msgspec; a body that does not fit them goes
through the careful path over plain JSON values, which names the field at fault
(`_structs.or_careful`). The unix socket's messages, decoded already, take the careful path.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import msgspec

from router.alerts.formats import _json, _structs
from router.alerts.model import Alert, Link, Severity, Status
from router.errors import BadRequest

SOURCE = "native"

FIELDS = frozenset({
    "summary", "severity", "status", "labels", "annotations", "details", "service",
    "dedup_key", "starts_at", "ends_at", "links",
})

SEVERITIES: Mapping[str, Severity] = {severity.value: severity for severity in Severity}
STATUSES: Mapping[str, Status] = {status.value: status for status in Status}


class TypedLink(msgspec.Struct):
    """`{href, text}`; other keys are ignored, as on the careful path."""

    href: str
    text: str | None = None


class NativeAlert(msgspec.Struct, forbid_unknown_fields=True):
    """One alert as msgspec decodes it; the fields are `FIELDS`, null counts as absent."""

    summary: str
    severity: str | None = None
    status: str | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    details: dict[str, Any] | None = None
    service: str | None = None
    dedup_key: str | None = None
    starts_at: str | None = None
    ends_at: str | None = None
    links: list[TypedLink] | None = None


_BODY = msgspec.json.Decoder(NativeAlert | list[NativeAlert])


def parse(body: bytes, headers: Mapping[str, str], *, limits: _json.FieldLimits,
          now: datetime) -> list[Alert]:
    """One alert, or a list of alerts, in router's own JSON.

    Raises:
        BadRequest: naming the field at fault: `summary` for a single alert, `[2].summary` for
            the third of a list.
    """
    return _structs.or_careful(lambda: _typed(_BODY.decode(body), limits),
                               lambda: parse_document(_json.decode(body), limits=limits))


def parse_decoded(decoded: object, headers: Mapping[str, str], *,
                  limits: _json.FieldLimits, now: datetime) -> list[Alert]:
    """`parse` of a body already decoded from JSON (detect.py decodes it once): msgspec
    converts it into the structs its decoder makes, else the careful path reads it."""
    return _structs.or_careful(
        lambda: _typed(msgspec.convert(decoded, NativeAlert | list[NativeAlert]), limits),
        lambda: parse_document(decoded, limits=limits))


def _typed(document: NativeAlert | list[NativeAlert], limits: _json.FieldLimits
           ) -> list[Alert]:
    if isinstance(document, NativeAlert):
        return [_typed_alert(document, limits)]
    if len(document) > _json.MAX_ALERTS:
        raise BadRequest("", "too many alerts")
    return [_typed_alert(entry, limits) for entry in document]


def _typed_alert(entry: NativeAlert, limits: _json.FieldLimits) -> Alert:
    if not entry.summary.strip():
        raise BadRequest("summary", "must not be empty")
    starts_at = _structs.timestamp(entry.starts_at)
    ends_at = _structs.timestamp(entry.ends_at)
    if starts_at is not None and ends_at is not None and ends_at < starts_at:
        raise BadRequest("ends_at", "is before starts_at")
    return Alert(
        summary=entry.summary,
        source=SOURCE,
        severity=_structs.choice(entry.severity, SEVERITIES, Severity.WARNING),
        status=_structs.choice(entry.status, STATUSES, Status.FIRING),
        labels=_structs.text_map(entry.labels, "label", limits),
        annotations=_structs.text_map(entry.annotations, "annotation", limits),
        details=_structs.detail_map(entry.details),
        service=entry.service or None,
        dedup_key=entry.dedup_key or None,
        starts_at=starts_at,
        ends_at=ends_at,
        links=_typed_links(entry.links),
    )


def _typed_links(links: list[TypedLink] | None) -> tuple[Link, ...]:
    if not links:
        return ()
    if not all(link.href.strip() for link in links):
        raise BadRequest("links", "href must not be empty")
    return tuple(Link(href=link.href, text=link.text or "") for link in links)


def parse_document(document: object, *, limits: _json.FieldLimits) -> list[Alert]:
    """`parse` of a document already decoded from JSON, or built as one: the unix socket
    decodes each line once, and writes the alert of a message as a native document.

    Raises:
        BadRequest: as `parse`.
    """
    if isinstance(document, list):
        entries = _json.bounded(document, "")
        return [_parse_alert(entry, _json.index("", position), limits)
                for position, entry in enumerate(entries)]
    return [_parse_alert(document, "", limits)]


def _parse_alert(entry: object, path: str, limits: _json.FieldLimits) -> Alert:
    document = _json.as_object(entry, path, "an alert object or a list of alert objects")
    _json.reject_unknown(document, FIELDS, path)
    summary = _json.required_text(document, "summary", path)
    starts_at = _json.timestamp(document, "starts_at", path)
    ends_at = _json.timestamp(document, "ends_at", path)
    if starts_at is not None and ends_at is not None and ends_at < starts_at:
        raise BadRequest(_json.member(path, "ends_at"), "is before starts_at")
    return Alert(
        summary=summary,
        source=SOURCE,
        severity=_json.choice(document, "severity", path, SEVERITIES, Severity.WARNING),
        status=_json.choice(document, "status", path, STATUSES, Status.FIRING),
        labels=_json.text_map(document, "labels", path, "label", limits),
        annotations=_json.text_map(document, "annotations", path, "annotation", limits),
        details=_json.detail_map(document, "details", path),
        service=_json.text(document, "service", path) or None,
        dedup_key=_json.text(document, "dedup_key", path) or None,
        starts_at=starts_at,
        ends_at=ends_at,
        links=_json.links(document, "links", path),
    )
