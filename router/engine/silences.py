"""Run-time silences (room: engine): create with checks, list, expire.

A silence mutes the open incidents it covers as well as new alerts (engine/muting.py);
expiring one early makes every muted incident check again at once. An until-resolved
silence is made for the open incidents that have a firing alert it matches, and ends when
the last of them resolves (or at its end, when it has one).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from router.alerts.model import (
    Incident,
    Silence,
    SilenceMatcher,
)
from router.core.matching import fields_of, first_mismatch, pattern_of
from router.engine.muting import NEVER, silences_changed
from router.engine.state import EngineState
from router.errors import BadRequest
from router.store import Reader, Transaction
from router.store.outbox import Attempt as Attempt  # re-exported for server and cli


class Silences:
    """Run-time silences over the engine's state."""

    def __init__(self, state: EngineState) -> None:
        self.state = state

    async def create_silence(self, matchers: Sequence[tuple[str, str, str]], *,
                             ends_at: datetime | None, reason: str, created_by: str = "",
                             starts_at: datetime | None = None,
                             until_resolved: bool = False) -> Silence:
        """Check and store a run-time silence from (name, operator, value) triples.

        `until_resolved`: the silence ends when the open incidents it covers now have all
        resolved; `ends_at` may then be None (no other end).

        Raises:
            BadRequest: no matchers, an unknown operator, a regex that does not compile, an
                empty reason, no end, an end not after the start, or an until-resolved
                silence that covers no open incident.
        """
        checked = _checked(matchers)
        start = starts_at or self.state.clock.now()
        if ends_at is None and not until_resolved:
            raise BadRequest("ends_at", "say when the silence ends")
        end = ends_at or NEVER
        if end <= start:
            raise BadRequest("ends_at", f"must be after the start ({start.isoformat()})")
        if not reason.strip():
            raise BadRequest("reason", "say why: a silence needs a reason")
        silence = Silence(id=f"SIL-{self.state.new_id()[-8:]}", matchers=checked,
                          starts_at=start, ends_at=end, reason=reason,
                          created_by=created_by)
        if not until_resolved:
            return await self.add_silence(silence)

        def add(transaction: Transaction) -> Silence:
            covers = _covered(transaction, silence.matchers)
            if not covers:
                raise BadRequest("until_resolved", "the silence covers no open incident: "
                                                   "give it an end instead")
            made = Silence(id=silence.id, matchers=silence.matchers, starts_at=start,
                           ends_at=end, reason=reason, created_by=created_by, covers=covers)
            transaction.add_silence(made)
            return made
        return await self.state.store.write(add)

    async def covered_incidents(self, matchers: Sequence[tuple[str, str, str]]
                                ) -> list[Incident]:
        """The open incidents a silence of these matchers would cover now (one of their
        firing alerts matches every matcher), newest first: the web's preview before a
        silence is added.

        Raises:
            BadRequest: as create_silence, for the matchers.
        """
        checked = _checked(matchers)

        def read(reader: Reader) -> list[Incident]:
            found = (reader.incident(number) for number in
                     sorted(_covered(reader, checked), reverse=True))
            return [incident for incident in found if incident is not None]
        return await self.state.store.read(read)

    async def add_silence(self, silence: Silence) -> Silence:
        await self.state.store.write(lambda transaction: transaction.add_silence(silence))
        return silence

    async def silences(self, *, include_expired: bool = False) -> list[Silence]:
        now = self.state.clock.now()
        return await self.state.store.read(
            lambda reader: reader.silences(None if include_expired else now))

    async def bounded_silences(self, *, include_expired: bool, limit: int
                               ) -> tuple[list[Silence], int]:
        """At most `limit` of what `silences` lists, those that end last, and how many it
        lists (GET /v1/silences: one answer stays bounded)."""
        now = None if include_expired else self.state.clock.now()
        return await self.state.store.read(
            lambda reader: reader.silence_listing(now, limit))

    async def silence_listing(self, expired_limit: int
                              ) -> tuple[list[Silence], list[Silence], int]:
        """Silences in force or to come, the `expired_limit` that ended last (latest first)
        and how many ended in all (the web page's bounded read)."""
        now = self.state.clock.now()

        def read(reader: Reader) -> tuple[list[Silence], list[Silence], int]:
            return (reader.unexpired_silences(now),
                    *reader.expired_silences(now, expired_limit))

        return await self.state.store.read(read)

    async def expire_silence(self, silence_id: str) -> bool:
        """End a silence now; the incidents it muted check again at once."""
        now = self.state.clock.now()

        def expire(transaction: Transaction) -> bool:
            if not transaction.expire_silence(silence_id, now):
                return False
            silences_changed(transaction, now)
            return True

        expired = await self.state.store.write(expire)
        self.state.timers_written()
        return expired


def _checked(matchers: Sequence[tuple[str, str, str]]) -> tuple[SilenceMatcher, ...]:
    if not matchers:
        raise BadRequest("matchers", "give at least one matcher: a silence with none "
                                     "would silence everything")
    checked = []
    for index, (name, operator, value) in enumerate(matchers):
        try:
            checked.append(SilenceMatcher(name=name, operator=operator, value=value))
            if operator in ("=~", "!~"):
                pattern_of(value)
        except (ValueError, re.error) as error:
            raise BadRequest(f"matchers[{index}]", str(error)) from None
    return tuple(checked)


def _covered(transaction: Reader, matchers: Sequence[SilenceMatcher]) -> tuple[int, ...]:
    """The open incidents with a firing alert that every matcher matches, by number."""
    return tuple(sorted({number for number, alert in transaction.open_firing_alerts()
                         if first_mismatch(matchers, fields_of(alert)) is None}))
