"""A stand-in for PagerDuty's Events API v2 (`POST /v2/enqueue`), as its documentation and
OpenAPI schema describe it (../shared/reference/protocols.md section 1).

    pagerduty = await nursery.start(serve_fake_pagerduty)
    pagerduty.url                # http://127.0.0.1:PORT/v2/enqueue
    pagerduty.events             # accepted events, in order
    pagerduty.alerts             # alerts opened, in order; FakeAlert.status moves on
    pagerduty.open_alerts()      # those not resolved
    pagerduty.requests           # every request (tests.fakes.Received)
    pagerduty.refused            # (request, errors) of each event answered 400

Unscripted, each event is validated as the real API documents it: `routing_key` a
32-character string; `event_action` trigger, acknowledge or resolve; `dedup_key` at most 255
characters and required to acknowledge or resolve; a trigger's `payload` with `summary` (at
most 1024 characters), `source` and `severity` (critical, error, warning or info); at most
512 KB in all. A valid event is answered 202 `{"status": "success", "message": "Event
processed", "dedup_key": ...}`, an invalid one 400 `{"status": "invalid event", "message":
"Event object is invalid", "errors": [...]}` (the error texts are this fake's, in PagerDuty's
style), a body that is not a JSON object 400 "Unrecognized object".

PagerDuty's dedup rules are kept per (routing key, dedup key): a trigger for an open alert
folds into it; acknowledge and resolve move an open alert on and are dropped (still 202) when
none is open; after a resolve, a trigger with the same key opens a new alert; a trigger
without a key gets a generated one and so always opens a new alert.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import trio

from tests.fakes import Answer, FakeService, Received, Reply, serve_fake

__all__ = ["Answer", "FakeAlert", "FakePagerDuty", "serve_fake_pagerduty"]

ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")
ROUTING_KEY_LENGTH = 32
DEDUP_KEY_LIMIT = 255
SUMMARY_LIMIT = 1024
SIZE_LIMIT = 512 * 1024


@dataclass(slots=True, kw_only=True)
class FakeAlert:
    """One PagerDuty alert: triggered, acknowledged or resolved; `events` folded into it."""

    routing_key: str
    dedup_key: str
    status: str = "triggered"
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def summary(self) -> str:
        return str(self.events[0]["payload"]["summary"])


class FakePagerDuty(FakeService):
    path = "/v2/enqueue"

    def __init__(self) -> None:
        super().__init__()
        self.events: list[dict[str, Any]] = []
        self.alerts: list[FakeAlert] = []
        self.refused: list[tuple[Received, list[str]]] = []

    def open_alerts(self) -> list[FakeAlert]:
        return [alert for alert in self.alerts if alert.status != "resolved"]

    def process(self, request: Received) -> Reply:
        if request.path != self.path:
            return Reply.json(404, {"status": "Not Found", "message": "Not Found"})
        if request.method != "POST":
            return Reply.json(405, {"status": "Method Not Allowed"})
        try:
            event = request.json()
        except ValueError:
            event = None
        if not isinstance(event, dict):
            return Reply.json(400, {"status": "Unrecognized object",
                                    "message": "Event object format is unrecognized",
                                    "errors": ["JSON parse error"]})
        errors = event_errors(event, len(request.body))
        if errors:
            self.refused.append((request, errors))
            return Reply.json(400, {"status": "invalid event",
                                    "message": "Event object is invalid", "errors": errors})
        key = self._apply(event)
        self.events.append(event)
        return Reply.json(202, {"status": "success", "message": "Event processed",
                                "dedup_key": key})

    def _apply(self, event: dict[str, Any]) -> str:
        """PagerDuty's dedup rules; returns the event's dedup key (generated when absent)."""
        key = event.get("dedup_key") or uuid.uuid4().hex
        alert = next((alert for alert in self.open_alerts()
                      if (alert.routing_key, alert.dedup_key) == (event["routing_key"], key)),
                     None)
        action = event["event_action"]
        if action == "trigger" and alert is None:
            self.alerts.append(FakeAlert(routing_key=event["routing_key"], dedup_key=key,
                                         events=[event]))
        elif alert is not None:
            alert.events.append(event)
            if action == "acknowledge" and alert.status == "triggered":
                alert.status = "acknowledged"
            elif action == "resolve":
                alert.status = "resolved"
        return str(key)


def event_errors(event: dict[str, Any], size: int) -> list[str]:
    """Everything wrong with an event, as the Events API v2 documents its fields."""
    errors: list[str] = []
    routing_key = event.get("routing_key")
    if not routing_key:
        errors.append("'routing_key' is missing or blank")
    elif not isinstance(routing_key, str) or len(routing_key) != ROUTING_KEY_LENGTH:
        errors.append("Length of 'routing_key' is incorrect (should be 32 characters)")
    action = event.get("event_action")
    if not action:
        errors.append("'event_action' is missing or blank")
    elif action not in ACTIONS:
        errors.append("'event_action' is invalid (must be one of: trigger, acknowledge, "
                      "resolve)")
    dedup_key = event.get("dedup_key")
    if dedup_key is not None and (not isinstance(dedup_key, str)
                                  or len(dedup_key) > DEDUP_KEY_LIMIT):
        errors.append("'dedup_key' must be a string of at most 255 characters")
    if action in ("acknowledge", "resolve") and not dedup_key:
        errors.append("'dedup_key' is missing or blank (required to acknowledge or resolve)")
    if action == "trigger":
        errors += payload_errors(event.get("payload"))
        errors += link_errors(event)
    if size > SIZE_LIMIT:
        errors.append("Event object exceeds the 512 KB size limit")
    return errors


def payload_errors(payload: object) -> list[str]:
    if not isinstance(payload, dict):
        return ["'payload' is missing or not an object"]
    errors = [f"'payload.{name}' is missing or blank" for name in ("summary", "source")
              if not isinstance(payload.get(name), str) or not payload[name].strip()]
    if isinstance(payload.get("summary"), str) and len(payload["summary"]) > SUMMARY_LIMIT:
        errors.append("Length of 'payload.summary' is incorrect (should be at most 1024 "
                      "characters)")
    if payload.get("severity") not in SEVERITIES:
        errors.append("'payload.severity' is invalid (must be one of: critical, error, "
                      "warning, info)")
    timestamp = payload.get("timestamp")
    if timestamp is not None and not _is_timestamp(timestamp):
        errors.append("'payload.timestamp' is not an ISO 8601 timestamp")
    if "custom_details" in payload and not isinstance(payload["custom_details"], dict | str):
        errors.append("'payload.custom_details' must be an object")
    return errors


def link_errors(event: dict[str, Any]) -> list[str]:
    errors = []
    for position, link in enumerate(event.get("links") or ()):
        if not isinstance(link, dict) or not isinstance(link.get("href"), str):
            errors.append(f"'links[{position}].href' is missing")
    for position, image in enumerate(event.get("images") or ()):
        if not isinstance(image, dict) or not str(image.get("src", "")).startswith("https://"):
            errors.append(f"'images[{position}].src' must be an HTTPS URL")
    return errors


def _is_timestamp(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


async def serve_fake_pagerduty(
        *, task_status: trio.TaskStatus[FakePagerDuty] = trio.TASK_STATUS_IGNORED) -> None:
    """Serve a new FakePagerDuty until cancelled; `nursery.start` returns it."""
    await serve_fake(FakePagerDuty(), task_status=task_status)
