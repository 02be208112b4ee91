"""Run-time silences (room: engine): create with checks, list, expire.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from router.alerts.model import (
    Silence,
    SilenceMatcher,
)
from router.core.matching import pattern_of
from router.engine.state import EngineState
from router.errors import BadRequest
from router.store.outbox import Attempt as Attempt  # re-exported for server and cli


class Silences:
    """Run-time silences over the engine's state."""

    def __init__(self, state: EngineState) -> None:
        self.state = state

    async def create_silence(self, matchers: Sequence[tuple[str, str, str]], *,
                             ends_at: datetime, reason: str, created_by: str = "",
                             starts_at: datetime | None = None) -> Silence:
        """Check and store a run-time silence from (name, operator, value) triples.

        Raises:
            BadRequest: no matchers, an unknown operator, a regex that does not compile, an
                empty reason, or an end not after the start.
        """
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
        start = starts_at or self.state.clock.now()
        if ends_at <= start:
            raise BadRequest("ends_at", f"must be after the start ({start.isoformat()})")
        if not reason.strip():
            raise BadRequest("reason", "say why: a silence needs a reason")
        silence = Silence(id=f"SIL-{self.state.new_id()[-8:]}", matchers=tuple(checked),
                          starts_at=start, ends_at=ends_at, reason=reason,
                          created_by=created_by)
        return await self.add_silence(silence)

    async def add_silence(self, silence: Silence) -> Silence:
        await self.state.store.write(lambda transaction: transaction.add_silence(silence))
        return silence

    async def silences(self, *, include_expired: bool = False) -> list[Silence]:
        now = self.state.clock.now()
        return await self.state.store.read(
            lambda reader: reader.silences(None if include_expired else now))

    async def expire_silence(self, silence_id: str) -> bool:
        now = self.state.clock.now()
        return await self.state.store.write(
            lambda transaction: transaction.expire_silence(silence_id, now))
