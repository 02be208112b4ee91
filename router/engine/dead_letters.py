"""Dead letters: the notifications the deliverer gave up on, and sending one again (room:
engine; imports store, alerts.model, errors; the Engine only for its type).

The web interface's dead-letters page lists them and its Retry button comes here. A retry
makes the notification pending again, due now, as it was (its attempts and the time it was
written stay): the deliverer then tries it with the channel's usual backoff until its
`retry_for` deadline, which for an old one has passed, so it gets one attempt and, if that
fails, is a dead letter again (docs/delivery.md). A page (a trigger or an escalation) of an
incident resolved since is not sent again: it would reach someone about something over.
The retry is in the incident's timeline with who asked.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from router.alerts.model import IncidentState, TimelineEntry
from router.errors import Conflict, NotFound
from router.store import Transaction
from router.store.values import DeadLetter as DeadLetter  # for the web room

if TYPE_CHECKING:
    from router.engine import Engine

logger = logging.getLogger(__name__)
PAGES = ("trigger", "escalate")
"""The events `cancel_pages` skips once an incident is resolved: never sent again after."""


async def dead_letters(engine: Engine, limit: int = 200) -> list[DeadLetter]:
    """The dead letters, the latest to fail first."""
    return await engine.store.read(lambda reader: reader.outbox.dead_letters(limit))


async def retry(engine: Engine, notification_id: str, actor: str) -> DeadLetter:
    """Send a dead letter again (see the module).

    Raises:
        NotFound: no dead letter with that id (never one, or already retried).
        Conflict: a page of an incident resolved since.
    """
    now = engine.clock.now()

    def work(transaction: Transaction) -> DeadLetter:
        letter = transaction.outbox.dead_letter(notification_id)
        if letter is None:
            raise NotFound(f"no dead letter {notification_id}")
        number = letter.incident_number or 0
        incident = transaction.incident(number) if number else None
        if incident is not None and letter.event in PAGES \
                and incident.state == IncidentState.RESOLVED:
            raise Conflict(f"{incident.id} is resolved: its page is not sent again")
        transaction.outbox.requeue(notification_id, now)
        if incident is not None:
            transaction.add_timeline(number, [TimelineEntry(
                at=now, actor=actor, action="delivery retried",
                details={"notification": notification_id, "channel": letter.channel,
                         "target": letter.target, "event": letter.event})])
        return letter

    letter: DeadLetter = await engine.store.write(work)
    engine.outbox_written()
    logger.info("dead letter retried", extra={
        "notification": notification_id, "channel": letter.channel, "actor": actor})
    return letter
