"""One notification through its channel: render, send, classify (room: notify.shipping;
imports notify, store.outbox, clock; the trio library). The deliverer ships every page with
`ship`; `send_test` is a channel's test notification, for the deliverer and the CLI.

Split from notify/deliver.py (issue 15 item 3) to keep that module to the deliverer's
scheduling: its queues, slots and the results' way to the recorder.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import trio

from router.alerts.model import Incident, IncidentState, Notification, Severity
from router.clock import Clock
from router.config.model import Channel, Config
from router.errors import Outcome
from router.notify import CHANNELS, contract
from router.notify.rendering import RenderCache
from router.notify.templates import build_message
from router.notify.transport import Sent, Transport
from router.notify.wire import LogLine
from router.store import outbox
from router.store.outbox import Attempt

logger = logging.getLogger("router.notify.deliver")  # the deliverer's log lines, as before
_SEND_GRACE = 10.0
"""Seconds beyond a request's own timeout before the deliverer abandons a send."""


async def send_test(config: Config, channel: Channel, clock: Clock,
                    transport: Transport) -> Attempt:
    """One test notification through `channel`, unrecorded: the attempt it came to."""
    now = clock.now()
    notification_id = f"test-{now.strftime('%Y%m%dT%H%M%S')}-{random.getrandbits(32):08x}"
    notification = Notification(id=notification_id, incident_number=0, channel=channel.id,
                                target=f"channel:{channel.id}", address="", event="trigger",
                                created_at=now)
    incident = Incident(number=0, dedup_key=notification_id, service=None,
                        summary=f"Test notification from router through {channel.id}",
                        severity=Severity.WARNING, state=IncidentState.TRIGGERED,
                        opened_at=now, updated_at=now, source="router test-channel")
    shipped = await ship(transport, channel, CHANNELS[channel.type], config, notification,
                         incident, test=True, now=now)
    sent, outcome = shipped.sent, shipped.outcome
    result: outbox.Outcome = "failed"
    if outcome.kind == "ok":
        result = "skipped" if sent is None else "delivered"
    return Attempt(notification_id=notification_id, incident_number=None, channel=channel.id,
                   target=shipped.target, event="test", attempt=1,
                   attempted_at=now, outcome=result,
                   status_code=sent.status_code if sent else None,
                   latency_ms=sent.latency_ms if sent else None,
                   error=outcome.reason or None)


@dataclass(frozen=True, slots=True)
class Shipped:
    """What sending one notification came to. `sent` is None when nothing went out:
    the channel had nothing to send for the event, or the message could not be rendered."""

    target: str
    sent: Sent | None
    outcome: Outcome


async def ship(transport: Transport, channel: Channel, module: contract.Channel[Any, Any],
               config: Config, notification: Notification, incident: Incident, *,
               now: datetime, test: bool = False, acknowledge_url: str | None = None,
               rendered: RenderCache | None = None) -> Shipped:
    """Render one notification through its channel module, send it and classify the answer.

    `now` is the time of this attempt, so a retry is signed afresh (the webhook's
    timestamp) rather than with a stale time; the send waits the request's own timeout.
    `rendered` keeps the channel's own templates rendered between sends (the deliverer's)."""
    target = notification.address or notification.target
    if not channel.enabled:  # checked here, where every send passes, reloads included
        return Shipped(target, None, Outcome(
            "ok", f"channel {channel.id!r} is disabled (enabled: false): nothing sent"))
    try:
        message = build_message(config, channel, notification, incident, test=test,
                                acknowledge_url=acknowledge_url, cache=rendered)
        request = module.render(message, channel.settings, now=now)
    except Exception as error:  # a bug must not lose the page: it is tried again later
        logger.exception("cannot render a notification",
                         extra={"channel": channel.id, "notification": notification.id})
        return Shipped(target, None,
                       Outcome.retry(f"render failed: {type(error).__name__}: {error}"))
    if request is None:
        return Shipped(target, None, Outcome("ok", "nothing to send for this event"))
    if isinstance(request, LogLine):  # written before send returns: no wait to bound
        sent = await transport.send(request)
        return Shipped(request.target, sent, sent.outcome or module.classify(sent.response))
    timeout = request.timeout.total_seconds()
    with trio.move_on_after(timeout + _SEND_GRACE):
        sent = await transport.send(request)
        return Shipped(request.target, sent,
                       sent.outcome or module.classify(sent.response))
    return Shipped(request.target, None,
                   Outcome.retry(f"{request.target}: no answer within {timeout:g}s"))
