"""What channels and the transport share (room: notify; imports config.model, alerts.model,
errors).

A channel module is pure: `render(message, settings, *, now) -> Request | None` turns one
notification into one request (None: nothing to send for this event, e.g. a PagerDuty
severity mapped to "none"), and `classify(response) -> Outcome` reads the receiver's answer
(notify/contract.py). Only `notify/transport.py` performs a Request; these types are what
channels and the transport share.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from typing import Literal

from router.alerts.model import Incident, Notification
from router.config.model import Secret
from router.errors import Outcome


def _empty() -> Mapping[str, str]:
    return {}


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """Everything a channel may say about one notification, gathered by the deliverer.

    `title` and `text` (and `html` when the channel has such a template) are already
    rendered from the channel's templates or the defaults in `notify/templates.py`, so
    channel modules format, they never evaluate templates. `payload` is a webhook's
    rendered body template, None for the documented default body.
    """

    notification: Notification
    incident: Incident
    service_name: str
    service_description: str = ""
    person_name: str | None = None
    incident_url: str
    acknowledge_url: str | None = None
    title: str
    text: str
    html: str | None = None
    payload: str | None = None
    test: bool = False
    """A test notification (`router test-channel`): receivers should not open anything."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpRequest:
    """One HTTP request. `target` is what the delivery log shows: never a secret (PagerDuty
    routing keys travel in the body, Slack webhook URLs are secrets, so those show the host
    and a fixed label only)."""

    method: Literal["GET", "POST", "PUT"]
    """GET only for an http health check (router/probes/http.py); channels POST or PUT."""
    url: str = field(repr=False)  # a Slack webhook URL is a secret
    body: bytes = field(repr=False)  # a PagerDuty body holds the routing key
    target: str
    headers: Mapping[str, str] = field(default_factory=_empty)
    timeout: timedelta
    """The channel's: its settings or its DEFAULT_TIMEOUT (every Request has one)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpResponse:
    """The receiver's answer; header names are lower case."""

    status: int
    headers: Mapping[str, str] = field(default_factory=_empty)
    body: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class SmtpMessage:
    """One mail to send through an SMTP server (smtplib, in a worker thread).

    `ca_file` (PEM) replaces the system's certificate authorities for checking the server's
    certificate (a private CA); None uses the system's. The check itself is never off.
    """

    host: str
    port: int
    security: Literal["starttls", "tls", "none"]
    message: EmailMessage
    recipients: tuple[str, ...]
    target: str
    username: str | None = None
    password: Secret | None = None
    timeout: timedelta
    ca_file: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SmtpReply:
    """The server's answer: `code` of the final reply (250 when accepted); `refused` holds
    the recipients the server refused, each with its code and text."""

    code: int
    text: str = ""
    refused: Mapping[str, tuple[int, str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class LogLine:
    """A line for the daemon's log (the log channel)."""

    level: Literal["debug", "info", "warning", "error"]
    text: str
    target: str = "log"
    timeout: timedelta


Request = HttpRequest | SmtpMessage | LogLine
Response = HttpResponse | SmtpReply | None
"""None answers a LogLine: writing to the log cannot be refused."""


def retry_after(headers: Mapping[str, str]) -> timedelta | None:
    """A Retry-After header in seconds (the form PagerDuty and Slack send); None if absent
    or written as an HTTP date (the deliverer's backoff applies then)."""
    value = headers.get("retry-after", "").strip()
    if not value.isdigit():
        return None
    return timedelta(seconds=int(value))


def classify_http(response: HttpResponse, what: str = "") -> Outcome:
    """The common reading of an HTTP answer: 2xx delivered; 408, 429 and 5xx try again
    (429 and 503 after their Retry-After); any other 4xx is permanent: sending the same
    request again cannot succeed. `what` names the receiver in the reason."""
    status = response.status
    label = f"{what} answered {status}" if what else f"answered {status}"
    detail = _excerpt(response.body)
    reason = f"{label}: {detail}" if detail else label
    if 200 <= status < 300:
        return Outcome.ok()
    if status in (429, 503):
        return Outcome.retry(reason, retry_after(response.headers))
    if status == 408 or status >= 500:
        return Outcome.retry(reason)
    return Outcome.failed(reason)


def _excerpt(body: bytes, limit: int = 300) -> str:
    """The start of a response body for an error message, on one line."""
    text = body[:limit].decode("utf-8", "replace")
    return " ".join(text.split())
