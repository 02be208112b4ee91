"""PagerDuty Events API v2, `POST /v2/enqueue` (room: alerts.formats; imports alerts.model, errors).

Any tool that can page PagerDuty can page router instead: the event is validated as PagerDuty
validates it and answered with PagerDuty's own bodies (success_body, error_body), so the
sender's retry logic keeps working. One event is one Alert.

| event field              | Alert field                                                   |
| ------------------------ | ------------------------------------------------------------- |
| routing_key (required,   | routing_key (picks the service). Exactly 32 characters, as    |
| 32 characters)           | PagerDuty requires; its own wording is the error message      |
| event_action (required)  | status: trigger firing, acknowledge acknowledged, resolve     |
|                          | resolved                                                      |
| dedup_key (<= 255)       | dedup_key; required to acknowledge or resolve; a trigger      |
|                          | without one leaves it None and the engine generates one and   |
|                          | answers it, as PagerDuty does                                 |
| payload (trigger only)   | required for trigger                                          |
| payload.summary (<=1024) | summary (required)                                            |
| payload.source           | labels.source (required)                                      |
| payload.severity         | severity (required): critical, error, warning, info map 1:1   |
| payload.timestamp        | starts_at; RFC 3339, offset with or without colon             |
| payload.component, group, class | labels.component, labels.group, labels.class         |
| payload.custom_details   | details; values that are not text become compact JSON text    |
| client, client_url       | client, client_url                                            |
| links [{href, text}]     | links                                                         |
| images [{src, href, alt}]| links to `src`, text `alt` or "Image" (Alert has no images)   |

Acknowledge and resolve events need only routing_key, event_action and dedup_key; their other
fields are ignored, so such an Alert has an empty summary and the default severity.

An event is decoded into an `Event` struct by msgspec; one that does not fit it goes through
the careful path over plain JSON values, which names the field at fault
(`_structs.or_careful`): so does an acknowledge or resolve whose ignored fields do not fit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

import msgspec

from router.alerts.formats import _json, _structs
from router.alerts.model import Alert, Link, Severity, Status
from router.errors import BadRequest

SOURCE = "pagerduty"

SUCCESS_STATUS = 202
ERROR_STATUS = 400

ROUTING_KEY_LENGTH = 32
DEDUP_KEY_MAX = 255
SUMMARY_MAX = 1024

ACTIONS: Mapping[str, Status] = {
    "trigger": Status.FIRING,
    "acknowledge": Status.ACKNOWLEDGED,
    "resolve": Status.RESOLVED,
}
SEVERITIES: Mapping[str, Severity] = {severity.value: severity for severity in Severity}
LABELS = ("source", "component", "group", "class")


class Payload(msgspec.Struct):
    """A trigger's `payload` as msgspec decodes it; null counts as absent."""

    summary: str
    source: str
    severity: str
    timestamp: str | None = None
    component: str | None = None
    group: str | None = None
    class_: str | None = msgspec.field(default=None, name="class")
    custom_details: dict[str, Any] | None = None


class Image(msgspec.Struct):
    src: str
    href: str | None = None
    alt: str | None = None


class TypedLink(msgspec.Struct):
    href: str
    text: str | None = None


class Event(msgspec.Struct):
    """An Events API v2 event; unknown keys are ignored."""

    routing_key: str
    event_action: str
    dedup_key: str | None = None
    payload: Payload | None = None
    links: list[TypedLink] | None = None
    images: list[Image] | None = None
    client: str | None = None
    client_url: str | None = None


_BODY = msgspec.json.Decoder(Event)
_ENCODE = msgspec.json.Encoder().encode


def parse(body: bytes, headers: Mapping[str, str], *, limits: _json.FieldLimits,
          now: datetime) -> list[Alert]:
    """The one alert an Events API v2 event describes.

    Raises:
        BadRequest: naming the field at fault; answer it with error_body([str(error)]).
    """
    return _structs.or_careful(lambda: _typed(body, limits), lambda: _careful(body, limits))


def _typed(body: bytes, limits: _json.FieldLimits) -> list[Alert]:
    event = _BODY.decode(body)
    routing_key, dedup_key = event.routing_key, event.dedup_key or None
    if len(routing_key) != ROUTING_KEY_LENGTH or not routing_key.strip():
        raise BadRequest("routing_key", "not a routing key")
    status = _structs.choice(event.event_action, ACTIONS)
    if dedup_key is not None and len(dedup_key) > DEDUP_KEY_MAX:
        raise BadRequest("dedup_key", "too long")
    if status is not Status.FIRING:
        if dedup_key is None:
            raise BadRequest("dedup_key", "is required to acknowledge or resolve")
        return [Alert(summary="", source=SOURCE, status=status, dedup_key=dedup_key,
                      routing_key=routing_key)]
    payload = event.payload
    if payload is None or not payload.summary.strip() or len(payload.summary) > SUMMARY_MAX \
            or not payload.source.strip():
        raise BadRequest("payload", "not a trigger's payload")
    labels = {"source": payload.source}
    for name, value in (("component", payload.component), ("group", payload.group),
                        ("class", payload.class_)):
        if value:
            labels[name] = value
    _json.check_sizes(labels, "payload", "label", limits)
    return [Alert(
        summary=payload.summary, source=SOURCE,
        severity=_structs.choice(payload.severity, SEVERITIES), status=Status.FIRING,
        labels=MappingProxyType(labels), details=_structs.detail_map(payload.custom_details),
        dedup_key=dedup_key, routing_key=routing_key,
        starts_at=_structs.timestamp(payload.timestamp),
        links=_typed_links(event), client=event.client or None,
        client_url=event.client_url or None,
    )]


def _typed_links(event: Event) -> tuple[Link, ...]:
    links = event.links or []
    images = event.images or []
    if not all(link.href.strip() for link in links) or not all(
            image.src.strip() for image in images):
        raise BadRequest("links", "href or src must not be empty")
    return tuple([Link(href=link.href, text=link.text or "") for link in links]
                 + [Link(href=image.src, text=image.alt or "Image") for image in images])


def _careful(body: bytes, limits: _json.FieldLimits) -> list[Alert]:
    event = _json.as_object(_json.decode(body), "", "a JSON object (a PagerDuty event)")
    routing_key = _routing_key(event)
    status = _json.choice(event, "event_action", "", ACTIONS)
    dedup_key = _json.text(event, "dedup_key", "", max_length=DEDUP_KEY_MAX) or None
    if status is not Status.FIRING:
        if dedup_key is None:
            raise BadRequest("dedup_key", "is required to acknowledge or resolve")
        return [Alert(summary="", source=SOURCE, status=status, dedup_key=dedup_key,
                      routing_key=routing_key)]
    return [_trigger(event, routing_key, dedup_key, limits)]


def _routing_key(event: Mapping[str, object]) -> str:
    routing_key = _json.required_text(event, "routing_key", "")
    if len(routing_key) != ROUTING_KEY_LENGTH:
        raise BadRequest(
            "routing_key",
            f"Length of 'routing_key' is incorrect (should be {ROUTING_KEY_LENGTH} characters)",
        )
    return routing_key


def _trigger(event: Mapping[str, object], routing_key: str, dedup_key: str | None,
             limits: _json.FieldLimits) -> Alert:
    if event.get("payload") is None:
        raise BadRequest("payload", "is required for a trigger event")
    payload = _json.as_object(event["payload"], "payload", "a mapping")
    summary = _json.required_text(payload, "summary", "payload", max_length=SUMMARY_MAX)
    labels = {"source": _json.required_text(payload, "source", "payload")}
    for name in LABELS[1:]:
        value = _json.text(payload, name, "payload")
        if value:
            labels[name] = value
    _json.check_sizes(labels, "payload", "label", limits,
                      lambda name: _json.member("payload", name))
    return Alert(
        summary=summary,
        source=SOURCE,
        severity=_json.choice(payload, "severity", "payload", SEVERITIES),
        status=Status.FIRING,
        labels=MappingProxyType(labels),
        details=_json.detail_map(payload, "custom_details", "payload"),
        dedup_key=dedup_key,
        routing_key=routing_key,
        starts_at=_json.timestamp(payload, "timestamp", "payload"),
        links=_json.links(event, "links", "") + _images(event),
        client=_json.text(event, "client", "") or None,
        client_url=_json.text(event, "client_url", "") or None,
    )


def _images(event: Mapping[str, object]) -> tuple[Link, ...]:
    value = event.get("images")
    if value is None:
        return ()
    if not isinstance(value, list):
        raise BadRequest("images", f"expected a list of images, got {_json.kind(value)}")
    found = []
    for position, item in enumerate(value):
        path = _json.index("images", position)
        image = _json.as_object(item, path, "an image {src, href, alt}")
        source = _json.required_text(image, "src", path)
        _json.text(image, "href", path)
        found.append(Link(href=source, text=_json.text(image, "alt", path) or "Image"))
    return tuple(found)


def success_body(dedup_key: str) -> bytes:
    """PagerDuty's 202 answer: the event was accepted under `dedup_key`."""
    answer = {"status": "success", "message": "Event processed", "dedup_key": dedup_key}
    return _ENCODE(answer)


def error_body(errors: list[str]) -> bytes:
    """PagerDuty's 400 answer for an event it refuses; `errors` says why, one line each."""
    answer = {"status": "invalid event", "message": "Event object is invalid", "errors": errors}
    return json.dumps(answer, separators=(",", ":")).encode("utf-8")
