"""Generic JSON webhook channel (room: notify; imports notify.wire, config.model, errors).

`render` sends the channel's body template (its `payload`, written `body` or
`templates.payload` in the config) or, without one, the documented default JSON body below.
With `hmac_secret` every request is signed as Slack signs its own: `X-Router-Timestamp` holds
the Unix time of signing, and the signature header `sha256=<hex>`, the HMAC-SHA256 of
`"<timestamp>.<body>"` under the secret. A receiver recomputes it over the raw body and
refuses a timestamp too far from its own clock, so a recorded request cannot be replayed
later; docs/channels.md shows the check in Python.

Every request carries the notification id twice: `X-Router-Notification` (plain) and
`Idempotency-Key` (an RFC 8941 string, as draft-ietf-httpapi-idempotency-key-header defines
it), the same on every retry and on every node, so a receiver can drop a repeat (a send
repeated after a daemon or a node died before recording the answer; docs/delivery.md).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import msgspec

from router import redaction
from router.alerts.model import JOB_ALERT_TARGET
from router.config.model import Secret, frozen_mapping
from router.errors import Outcome
from router.notify.wire import HttpRequest, HttpResponse, Message, classify_http

BODY_VERSION = 1
"""The version of the default JSON body; raised only when a field changes meaning."""

NOTIFICATION_HEADER = "X-Router-Notification"
IDEMPOTENCY_HEADER = "Idempotency-Key"
"""Both carry the notification id; a header of the same name in the channel's `headers`
replaces router's."""
TIMESTAMP_HEADER = "X-Router-Timestamp"
"""The target prefix of a job's alert target, whose address is the URL to post to."""

DEFAULT_RATE: float | None = None
"""No pacing unless the channel sets `rate`: the receiver is the operator's own."""
DEFAULT_CONCURRENCY = 16
"""Sends at once when the channel does not set `concurrency`. A channel pages at most
`concurrency` / round trip a second, and the round trip as the deliverer sees it includes its
wait for a turn of the daemon's loop: under ingest load, 4 slots to a local sink answering at
once (4-8 ms) sent about 500-900 pages a second, below the daemon's accepting rate, and the
pages fell seconds behind (issue 15 item 3). 16 stays under the client's 20 kept connections
a receiver (notify/http_client.py `PlainClient.IDLE`)."""
DEFAULT_TIMEOUT = timedelta(seconds=10)


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """The body template is not here but in the channel's templates, as `payload`."""

    url: str
    method: Literal["POST", "PUT"] = "POST"
    headers: Mapping[str, str] = field(default_factory=frozen_mapping)
    hmac_secret: Secret | None = None
    signature_header: str = "X-Router-Signature"
    timeout: timedelta = DEFAULT_TIMEOUT


def render(message: Message, settings: Settings, *, now: datetime) -> HttpRequest:
    """The request for one notification.

    Args:
        now: when the request is signed, for `X-Router-Timestamp`: the time of the attempt,
            as receivers refuse a timestamp more than a few minutes old and a retry may
            come an hour after the notification was written.
    """
    body = (message.payload.encode("utf-8") if message.payload is not None
            else default_body(message))
    headers = {**identity_headers(message.notification.id, settings.headers),
               **settings.headers}
    if not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = "application/json"
    if settings.hmac_secret is not None:
        signed_at = int(now.timestamp())
        headers[TIMESTAMP_HEADER] = str(signed_at)
        headers[settings.signature_header] = signature(settings.hmac_secret.reveal(),
                                                       signed_at, body)
    # A job's alert target (engine/jobs.py) carries its own URL as the address.
    url = (message.notification.address if message.notification.target.startswith(JOB_ALERT_TARGET)
           else settings.url)
    return HttpRequest(method=settings.method, url=url, body=body,
                       target=display_url(url), headers=headers,
                       timeout=settings.timeout)


def identity_headers(notification_id: str, configured: Mapping[str, str]
                     ) -> dict[str, str]:
    """The notification id as `X-Router-Notification` and as `Idempotency-Key`, less any
    the channel's own `headers` set (in any case), which win."""
    ours = {NOTIFICATION_HEADER: notification_id,
            IDEMPOTENCY_HEADER: idempotency_key(notification_id)}
    taken = {name.lower() for name in configured}
    return {name: value for name, value in ours.items() if name.lower() not in taken}


def idempotency_key(notification_id: str) -> str:
    """The id as an RFC 8941 sf-string, `"01JQ..."` (the draft's form: a ULID starting with a
    digit is no sf-token). Ids are router's own (ASCII letters, digits, `-`), but a quote or
    a backslash would be escaped."""
    return '"' + notification_id.replace("\\", "\\\\").replace('"', '\\"') + '"'


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`sha256=` and the hex HMAC-SHA256 of `"<timestamp>.<body>"` under `secret`."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body,
                      hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def display_url(url: str) -> str:
    """The URL for the delivery log: without user name, password, query or fragment, any of
    which may hold a token, even when the URL does not parse (router/redaction.py)."""
    return redaction.display_url(url)


def default_body(message: Message) -> bytes:
    """The documented JSON body (docs/channels.md), UTF-8: the bytes of stdlib json's compact
    form, from msgspec's encoder at a fraction of its cost per page (issue 15 item 3)."""
    incident = message.incident
    notification = message.notification
    document: dict[str, Any] = {
        "version": BODY_VERSION,
        "event": notification.event,
        "notification": notification.id,
        "test": message.test,
        "incident": {
            "id": incident.id, "number": incident.number, "state": incident.state.value,
            "severity": incident.severity.value, "summary": incident.summary,
            "service": incident.service, "service_name": message.service_name,
            "dedup_key": incident.dedup_key, "url": message.incident_url,
            "labels": dict(incident.labels), "opened_at": incident.opened_at.isoformat(),
            "alert_count": incident.alert_count, "level": incident.level,
            "assigned_to": incident.assigned_to,
            "acknowledged_by": incident.acknowledged_by,
        },
        "target": notification.target,
        "address": notification.address,
        "title": message.title,
        "text": message.text,
        "acknowledge_url": message.acknowledge_url,
    }
    return _ENCODER.encode(document)


_ENCODER = msgspec.json.Encoder()


def classify(response: HttpResponse) -> Outcome:
    """2xx delivered; 408, 429 and 5xx again later (429/503 after Retry-After); other 4xx
    failed for good."""
    return classify_http(response, "webhook")
