"""PagerDuty Events API v2 channel (room: notify; imports notify.wire, config.model,
alerts.model, errors).

One router incident is one PagerDuty alert: every event is keyed by the incident's dedup key,
so a trigger sent twice (a retry after a timeout, an escalation) never opens a second alert,
and the incident's acknowledge and resolve close the same one. The routing key travels in the
body, so it never appears in a request's `target`, a reason or a log line.

The dedup key is PagerDuty's idempotency key: a trigger repeated after a daemon or a node
died before recording PagerDuty's answer folds into the open alert (and notifies no one
again), a repeated acknowledge or resolve changes nothing. The notification id rides along
in a trigger's `custom_details` (`notification`), the one free-form place the Events API
has, so the alert's log shows which notification each event was; acknowledge and resolve
carry no payload and so no id.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from router.config.model import Secret, frozen_mapping
from router.errors import Outcome
from router.notify.wire import HttpRequest, HttpResponse, Message, classify_http, retry_after

DEFAULT_RATE: float | None = None
"""No pacing: the Events API takes bursts, and answers an excess with 429 and Retry-After."""
DEFAULT_CONCURRENCY = 4
"""Sends at once unless the channel sets `concurrency` (the Events API throttles per
routing key anyway)."""
DEFAULT_TIMEOUT = timedelta(seconds=10)

DEFAULT_SEVERITY_MAP = {"critical": "critical", "error": "error", "warning": "warning",
                        "info": "none"}

ACTIONS = {"trigger": "trigger", "escalate": "trigger", "acknowledge": "acknowledge",
           "resolve": "resolve", "notify": "trigger"}
"""Router notification events -> PagerDuty event actions. A "message" (chat) event has none:
PagerDuty is not a chat channel. A direct message (`POST /v1/notify`) to a PagerDuty channel
pages: a trigger with its own dedup key."""

SUMMARY_LIMIT = 1024
DEDUP_KEY_LIMIT = 255
EVENT_SIZE_LIMIT = 512_000
"""PagerDuty refuses events over 512 KB; like Alertmanager, drop the custom details then."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """`severity_map` maps router severities to PagerDuty's; "none" is not paged, and a
    severity the map leaves out keeps its entry in DEFAULT_SEVERITY_MAP."""

    routing_key: Secret
    url: str = "https://events.pagerduty.com/v2/enqueue"
    severity_map: Mapping[str, str] = field(
        default_factory=lambda: frozen_mapping(DEFAULT_SEVERITY_MAP))
    client: str = "router"
    timeout: timedelta = DEFAULT_TIMEOUT


def render(message: Message, settings: Settings, *, now: datetime) -> HttpRequest | None:
    """The Events API v2 request for one notification, or None when PagerDuty is not to be
    told: a "message" event, or an incident whose severity maps to "none" (then neither
    its trigger nor its acknowledge or resolve is sent: an incident's severity only rises,
    so an incident that was paged is never silenced by this)."""
    if message.test:
        return _request(event_for_test(message, settings), settings)
    action = ACTIONS.get(message.notification.event)
    severity = pagerduty_severity(message.incident.severity.value, settings)
    if action is None or severity is None:
        return None
    if action == "trigger":
        return _request(trigger_event(message, settings, severity), settings)
    return _request({"routing_key": settings.routing_key.reveal(), "event_action": action,
                     "dedup_key": dedup_key(message.incident.dedup_key)}, settings)


def classify(response: HttpResponse) -> Outcome:
    """202 delivered; 400 is permanent (the reason quotes PagerDuty's `errors`); 429 and
    5xx try again, after Retry-After when PagerDuty sends one."""
    if response.status == 400:
        return Outcome.failed(f"PagerDuty refused the event (400): {_explain(response.body)}")
    if response.status == 429 or response.status >= 500:
        detail = _explain(response.body)
        reason = f"PagerDuty answered {response.status}" + (f": {detail}" if detail else "")
        return Outcome.retry(reason, retry_after(response.headers))
    return classify_http(response, "PagerDuty")


def pagerduty_severity(severity: str, settings: Settings) -> str | None:
    """PagerDuty's severity for a router severity; None when it is not paged."""
    mapped = settings.severity_map.get(severity, DEFAULT_SEVERITY_MAP.get(severity, "none"))
    return None if mapped == "none" else mapped


def dedup_key(key: str) -> str:
    """The incident's dedup key, or its SHA-256 in hex when longer than PagerDuty's 255."""
    if len(key) <= DEDUP_KEY_LIMIT:
        return key
    return hashlib.sha256(key.encode()).hexdigest()


def trigger_event(message: Message, settings: Settings, severity: str) -> dict[str, Any]:
    """A trigger for the incident; an escalation sends it again, which PagerDuty folds into
    the open alert (same dedup key)."""
    incident = message.incident
    labels = dict(incident.labels)
    payload: dict[str, Any] = {
        "summary": _cut(message.title or incident.summary or incident.id, SUMMARY_LIMIT),
        "source": _first(labels, "source", "host", "hostname", "instance")
        or message.service_name or incident.service or settings.client,
        "severity": severity,
        "timestamp": incident.opened_at.isoformat(),
        "custom_details": {"incident": incident.id,
                           "notification": message.notification.id,
                           "service": message.service_name,
                           "description": message.text, "labels": labels},
    }
    optional = {"component": _first(labels, "component", "job"),
                "group": _first(labels, "group") or incident.service,
                "class": _first(labels, "class", "alertname")}
    payload.update({name: value for name, value in optional.items() if value})
    event: dict[str, Any] = {
        "routing_key": settings.routing_key.reveal(), "event_action": "trigger",
        "dedup_key": dedup_key(incident.dedup_key), "payload": payload,
        "client": settings.client,
    }
    if message.incident_url:
        event["client_url"] = message.incident_url
        event["links"] = [{"href": message.incident_url, "text": f"{incident.id} in router"}]
    return event


def event_for_test(message: Message, settings: Settings) -> dict[str, Any]:
    """A test trigger (like PagerDuty's "Send test event"): its own dedup key, unique to the
    notification, so it never touches a real alert; paged at the incident's mapped severity,
    or "info" when that severity is not paged."""
    severity = pagerduty_severity(message.incident.severity.value, settings) or "info"
    event = trigger_event(message, settings, severity)
    title = message.title or message.incident.summary
    event["dedup_key"] = dedup_key(f"router-test-{message.notification.id}")
    event["payload"]["summary"] = _cut(f"Test notification from {settings.client}: {title}",
                                       SUMMARY_LIMIT)
    event["payload"]["custom_details"]["test"] = True
    return event


def target(settings: Settings) -> str:
    """What the delivery log shows: the receiving host, never the routing key."""
    parts = urlsplit(settings.url)
    host = parts.hostname or "?"
    return f"pagerduty {host}:{parts.port}" if parts.port else f"pagerduty {host}"


def _request(event: dict[str, Any], settings: Settings) -> HttpRequest:
    body = json.dumps(event, ensure_ascii=False).encode()
    if len(body) > EVENT_SIZE_LIMIT and "payload" in event:
        details = event["payload"]["custom_details"]
        event["payload"]["custom_details"] = {
            "error": "custom details were removed: the event exceeded PagerDuty's 512 KB",
            "incident": details["incident"], "notification": details["notification"]}
        body = json.dumps(event, ensure_ascii=False).encode()
    return HttpRequest(method="POST", url=settings.url, body=body, target=target(settings),
                       headers={"Content-Type": "application/json"},
                       timeout=settings.timeout)


def _first(labels: Mapping[str, str], *names: str) -> str | None:
    return next((labels[name] for name in names if labels.get(name)), None)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _explain(body: bytes) -> str:
    """PagerDuty's answer in one line: its message and its list of errors."""
    try:
        answer = json.loads(body)
    except ValueError:
        return " ".join(body[:300].decode("utf-8", "replace").split())
    if not isinstance(answer, dict):
        return str(answer)[:300]
    errors = answer.get("errors")
    words = [str(answer[key]) for key in ("status", "message") if answer.get(key)]
    if isinstance(errors, list) and errors:
        words.append("; ".join(str(error) for error in errors))
    return ": ".join(words)[:1000]
