"""Slack incoming-webhook channel (room: notify; imports notify.wire, config.model,
alerts.model, errors).

A page is a Block Kit message: the title as header, severity, service and incident as fields,
the text, the incident's labels and the notification id as context, and two buttons
(Acknowledge, View Details) whose block id carries the notification id, so a button's callback
can be traced to the message it came from. Acknowledge and resolve are short follow-up
messages. Everything the alert's sender wrote is escaped, so an alert cannot ping @channel or
forge a link, and every string is cut to Slack's Block Kit limits so Slack never refuses a
message for its length.

Every message carries the notification id in Slack's message metadata (`metadata`:
`event_type` `router_notification`, `event_payload` with `notification_id`), which incoming
webhooks take as chat.postMessage does: not shown to people, but read by apps listening on
the Events API (`message_metadata_posted`) and by `conversations.history` with
`include_all_metadata`, so a message repeated after a daemon or a node died before
recording Slack's answer is recognisable as the same notification.

The webhook URL is a secret: a request's `target` shows its host only.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from router.alerts.model import IncidentState
from router.config.model import Secret
from router.errors import Outcome
from router.notify.wire import HttpRequest, HttpResponse, Message, classify_http, retry_after

DEFAULT_RATE = 1.0
"""Messages per second: Slack accepts about one webhook message a second and answers a
sustained excess with 429; a channel's `rate` overrides it."""
DEFAULT_CONCURRENCY = 4
"""Sends at once unless the channel sets `concurrency`: its rate of one a second is the limit."""
DEFAULT_TIMEOUT = timedelta(seconds=10)

HEADER_LIMIT = 150
SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
CONTEXT_LIMIT = 3000
BLOCK_ID_LIMIT = 255
BUTTON_VALUE_LIMIT = 2000
BUTTON_URL_LIMIT = 3000
FALLBACK_LIMIT = 3000
"""Slack's own limit for `text` is 40 000; a notification's fallback needs far less."""
METADATA_EVENT_TYPE = "router_notification"
"""The metadata's `event_type`: letters, digits and underscores only, as Slack requires
(metadata with another `event_type` is ignored)."""

PERMANENT_ERRORS = {
    "invalid_payload": "the message was not valid JSON for Slack",
    "no_text": "the message had neither text nor blocks",
    "invalid_blocks": "Slack refused the message's blocks",
    "invalid_token": "the webhook was revoked",
    "action_prohibited": "a workspace admin restricted posting to this channel",
    "no_service": "the webhook is disabled or its URL is wrong",
    "channel_not_found": "the channel does not exist or the webhook cannot post there",
    "channel_is_archived": "the channel is archived",
    "user_not_found": "the user does not exist",
    "invalid_metadata_format": "Slack refused the message's metadata",
}
"""Slack's error words for webhooks and what an operator should read into them."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """`channel` and `username` override the webhook's defaults where Slack allows it (legacy
    webhooks; an app's webhook posts where it was installed, as its app)."""

    webhook_url: Secret
    signing_secret: Secret | None = None
    channel: str | None = None
    username: str = "router"
    timeout: timedelta = DEFAULT_TIMEOUT


def render(message: Message, settings: Settings, *, now: datetime) -> HttpRequest:
    """The webhook request for one notification: a page with buttons for trigger, escalate
    and message events (the latter to the Slack channel in `notification.address`), a
    follow-up for acknowledge, resolve and an incident's analysis, and a page without
    buttons for a test."""
    event = message.notification.event
    if not message.test and event in ("acknowledge", "resolve", "handoff", "notify",
                                      "analysis"):
        text, blocks = follow_up(message)
    else:
        text, blocks = page(message)
    body: dict[str, Any] = {"text": text, "blocks": blocks, "username": settings.username,
                            "metadata": metadata(message)}
    if event == "message" and message.notification.address:
        body["channel"] = message.notification.address
    elif settings.channel:
        body["channel"] = settings.channel
    return HttpRequest(method="POST", url=settings.webhook_url.reveal(),
                       body=json.dumps(body, ensure_ascii=False).encode(),
                       target=target(settings),
                       headers={"Content-Type": "application/json"},
                       timeout=settings.timeout)


def classify(response: HttpResponse) -> Outcome:
    """200 delivered; 400, 403, 404 and 410 permanent (Slack's error word and what it means
    in the reason); 429 after Retry-After and 5xx try again."""
    status = response.status
    word = " ".join(response.body[:200].decode("utf-8", "replace").split())
    if status in (400, 403, 404, 410):
        meaning = PERMANENT_ERRORS.get(word)
        return Outcome.failed(f"Slack answered {status} {word}" + (f": {meaning}" if meaning
                                                                    else ""))
    if status == 429 or status >= 500:
        return Outcome.retry(f"Slack answered {status}" + (f" {word}" if word else ""),
                             retry_after(response.headers))
    return classify_http(response, "Slack")


def target(settings: Settings) -> str:
    """What the delivery log shows: the webhook's host, never its secret path."""
    parts = urlsplit(settings.webhook_url.reveal())
    host = parts.hostname or "?"
    return f"slack {host}:{parts.port}" if parts.port else f"slack {host}"


def page(message: Message) -> tuple[str, list[dict[str, Any]]]:
    """Fallback text and blocks of a page (trigger, escalate, message, test)."""
    incident = message.incident
    title = message.title or incident.summary or incident.id
    if message.test:
        title = f"Test notification: {title}"
    mention = _mention(message)
    service = message.service_name or incident.service or "none"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(_cut(title, HEADER_LIMIT))},
        {"type": "section", "fields": [
            _mrkdwn(_cut(f"*Severity*\n{incident.severity.value}", FIELD_LIMIT)),
            _mrkdwn(_cut(f"*Service*\n{escape(service)}", FIELD_LIMIT)),
            _mrkdwn(_cut(f"*Incident*\n{incident.id}", FIELD_LIMIT)),
        ]},
    ]
    description = escape(message.text.strip())
    if message.test:
        description = "This is a test from router: nothing to do." + (
            f"\n{description}" if description else "")
    if description or mention:
        blocks.append({"type": "section",
                       "text": _mrkdwn(_cut(f"{mention}{description}", SECTION_LIMIT))})
    blocks.append(_context(message, labels=True))
    if not message.test and (actions := _actions(message)) is not None:
        blocks.append(actions)
    return _cut(f"{mention}{escape(title)}", FALLBACK_LIMIT), blocks


def follow_up(message: Message) -> tuple[str, list[dict[str, Any]]]:
    """Fallback text and blocks of an acknowledge or resolve follow-up: what happened, by
    whom, to which incident; no buttons."""
    incident = message.incident
    if message.notification.event in ("handoff", "notify", "analysis"):  # no buttons
        words = {"handoff": incident.summary, "notify": message.text,
                 "analysis": f"{message.title}\n{message.text}"}[message.notification.event]
        line = f"{_mention(message)}{escape(words)}"
        return _cut(line, FALLBACK_LIMIT), [
            {"type": "section", "text": _mrkdwn(_cut(line, SECTION_LIMIT))}]
    if message.notification.event == "acknowledge":
        who = incident.acknowledged_by
        news = f"{incident.id} acknowledged" + (f" by {who}" if who else "")
    else:
        news = f"{incident.id} resolved"
    summary = escape(message.incident.summary)
    line = f"{_mention(message)}*{escape(news)}*" + (f": {summary}" if summary else "")
    blocks = [{"type": "section", "text": _mrkdwn(_cut(line, SECTION_LIMIT))},
              _context(message, labels=False)]
    return _cut(f"{_mention(message)}{escape(news)}", FALLBACK_LIMIT), blocks


def escape(text: str) -> str:
    """Slack's three control characters, so text is shown as written (`<!channel>` in an
    alert stays text and pings no one)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def metadata(message: Message) -> dict[str, Any]:
    """The message metadata: the notification id (the idempotency key), its event, and the
    incident when there is one (a handoff notice or a direct message has none)."""
    payload: dict[str, Any] = {"notification_id": message.notification.id,
                               "event": message.notification.event}
    if message.notification.incident_number:
        payload["incident_id"] = message.incident.id
    if message.test:
        payload["test"] = True
    return {"event_type": METADATA_EVENT_TYPE, "event_payload": payload}


def block_id(notification_id: str) -> str:
    """`router:<notification id>`, hashed when it would pass Slack's 255 characters."""
    candidate = f"router:{notification_id}"
    if len(candidate) <= BLOCK_ID_LIMIT:
        return candidate
    return f"router:sha256:{hashlib.sha256(notification_id.encode()).hexdigest()}"


def _actions(message: Message) -> dict[str, Any] | None:
    """Acknowledge while the incident is triggered; View Details when there is a link;
    None when neither applies (Slack refuses an empty actions block)."""
    elements: list[dict[str, Any]] = []
    incident = message.incident
    if incident.state is IncidentState.TRIGGERED and len(incident.id) <= BUTTON_VALUE_LIMIT:
        elements.append({"type": "button", "action_id": "acknowledge", "value": incident.id,
                         "style": "primary", "text": _plain("Acknowledge")})
    if message.incident_url and len(message.incident_url) <= BUTTON_URL_LIMIT:
        elements.append({"type": "button", "action_id": "view_details",
                         "url": message.incident_url, "text": _plain("View Details")})
    if not elements:
        return None
    return {"type": "actions", "block_id": block_id(message.notification.id),
            "elements": elements}


def _context(message: Message, *, labels: bool) -> dict[str, Any]:
    """The notification id (to trace a message) and, for a page, the incident's labels."""
    elements = [_mrkdwn(_cut(f"router notification {escape(message.notification.id)}",
                             CONTEXT_LIMIT))]
    if labels and message.incident.labels:
        pairs = sorted(message.incident.labels.items())
        text = " · ".join(f"*{escape(name)}*: {escape(value)}" for name, value in pairs)
        elements.insert(0, _mrkdwn(_cut(text, CONTEXT_LIMIT)))
    return {"type": "context", "elements": elements}


def _mention(message: Message) -> str:
    """`<@U123> ` for a person's notification; Slack user ids need no escaping."""
    notification = message.notification
    if notification.target.startswith("person:") and notification.address:
        return f"<@{escape(notification.address)}> "
    return ""


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def _cut(text: str, limit: int) -> str:
    """At most `limit` characters, with an ellipsis when cut; never half an escape."""
    if len(text) <= limit:
        return text
    text = text[:limit - 1]
    entity = text.rfind("&")
    if entity >= 0 and ";" not in text[entity:]:
        text = text[:entity]
    return text + "…"
