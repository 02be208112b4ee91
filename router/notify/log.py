"""Log channel: writes notifications to the daemon's log (room: notify; imports notify.wire,
errors).

Needs no outside service, so the example config works on a machine with no network, and a
log channel at level warning makes an audit trail of every page in the journal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from router.errors import Outcome
from router.notify.wire import LogLine, Message

DEFAULT_RATE: float | None = None
"""No pacing: a log line costs nothing."""
DEFAULT_CONCURRENCY = 4
"""Sends at once unless the channel sets `concurrency`: a log line never waits."""
DEFAULT_TIMEOUT = timedelta(seconds=30)
"""Writing a line takes no time; the deliverer's deadline for it only needs a number."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    level: Literal["debug", "info", "warning", "error"] = "info"


def render(message: Message, settings: Settings, *, now: datetime) -> LogLine:
    """One line: event, incident, severity, title, who it was for, notification id.

    `trigger INC3 critical "[CRITICAL] INC3: Disk full" to person:ann (ann@example.com)
    notification 01J...`; a test notification starts with `test`.
    """
    notification = message.notification
    incident = message.incident
    target = notification.target
    if notification.address:
        target += f" ({notification.address})"
    title = " ".join(message.title.split()).replace('"', "'")
    text = (f"{notification.event} {incident.id} {incident.severity.value} \"{title}\" to "
            f"{' '.join(target.split())} notification {notification.id}")
    if message.test:
        text = f"test {text}"
    return LogLine(level=settings.level, text=text, target="log", timeout=DEFAULT_TIMEOUT)


def classify(response: None) -> Outcome:
    """Writing to the log cannot be refused."""
    return Outcome.ok()
