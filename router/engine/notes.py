"""Incident notes (room: engine): a line of the timeline written by a person ("restarted the
pool"), with its author, from the CLI, the HTTP API, the unix socket or Slack.

A note changes nothing else: no state, no notification, no timer. A resolved incident takes
notes too (what was found afterwards belongs in its history). The text is trimmed; an
empty one, or one longer than MAX_CHARACTERS, is refused with a BadRequest on `text`, so
every surface gives the same answer.
"""

from __future__ import annotations

import logging

from router.alerts.model import TimelineEntry
from router.engine.ids import parse_incident_id
from router.engine.state import EngineState
from router.errors import BadRequest, NotFound
from router.store import Transaction

logger = logging.getLogger(__name__)

MAX_CHARACTERS = 4000
"""The longest note: a Slack message's text limit, so a note fits wherever it is shown."""


def checked_text(text: str) -> str:
    """The note's text, trimmed.

    Raises:
        BadRequest: on `text`: empty, or longer than MAX_CHARACTERS.
    """
    trimmed = text.strip()
    if not trimmed:
        raise BadRequest("text", "is empty: write what was done or found")
    if len(trimmed) > MAX_CHARACTERS:
        raise BadRequest("text", f"is {len(trimmed)} characters long; a note may have at "
                                 f"most {MAX_CHARACTERS}")
    return trimmed


class Notes:
    """Adding notes over the engine's state."""

    def __init__(self, state: EngineState) -> None:
        self.state = state

    async def add_note(self, incident_id: str, text: str, author: str) -> TimelineEntry:
        """Add `text` by `author` (`cli:ann`, `api:ann`, `slack:ann`) to the incident's
        timeline; returns the entry.

        Raises:
            BadRequest: `text` (empty or too long), `author` (empty), or a malformed id.
            NotFound: no such incident.
        """
        number = parse_incident_id(incident_id)
        entry = TimelineEntry(at=self.state.clock.now(), actor=author.strip(), action="note",
                              details={"text": checked_text(text)})
        if not entry.actor:
            raise BadRequest("author", "is empty: a note needs its author")

        def work(transaction: Transaction) -> None:
            if transaction.incident(number) is None:
                raise NotFound(f"no incident INC{number}")
            transaction.add_timeline(number, [entry])

        await self.state.store.write(work)
        logger.info("note added", extra={"incident": f"INC{number}", "actor": entry.actor})
        return entry
