"""Rota handoff notices on the timer scheduler (room: engine).

Each rota with `handoff_notices: true` keeps one timer, `handoff:<rota>` on incident number 0,
due when its current on-call stretch ends. `schedule_handoffs` sets them at start and after a
reload (and drops those of rotas that no longer want them); the timer's firing sends the
notices of core/handoff.py and sets the next one, in one transaction.
"""

from __future__ import annotations

import logging
from datetime import datetime

from router.core.handoff import TIMER_PREFIX, notices
from router.engine.snapshot import Snapshot
from router.engine.state import EngineState
from router.store import Transaction

logger = logging.getLogger(__name__)


class Handoffs:
    """Sets the handoff timers and sends the notices when one fires (for escalation.py)."""

    def __init__(self, state: EngineState) -> None:
        self.state = state

    async def schedule_handoffs(self) -> dict[str, datetime]:
        """Make the handoff timers match the config and the run-time overrides (called at
        start, after a reload, and when an override is added or removed); returns them by
        rota."""
        snapshot, now = self.state.snapshot, self.state.clock.now()
        wanted: dict[str, datetime] = {}

        def work(transaction: Transaction) -> None:
            lookup = snapshot.on_call.within(transaction, now)
            wanted.update((rota.id, lookup.next_change(rota, now))
                          for rota in snapshot.config.rotas.values() if rota.handoff_notices)
            for kind in transaction.timers_of(0):
                rota_id = kind.removeprefix(TIMER_PREFIX)
                if kind.startswith(TIMER_PREFIX) and rota_id not in wanted:
                    transaction.delete_timer(0, kind)
            existing = transaction.timers_of(0)
            for rota_id, due_at in wanted.items():
                if existing.get(TIMER_PREFIX + rota_id) != due_at:
                    transaction.set_timer(0, TIMER_PREFIX + rota_id, due_at)

        await self.state.store.write(work)
        self.state.timers_written()
        return wanted

    def fire(self, transaction: Transaction, snapshot: Snapshot, rota_id: str,
             due_at: datetime, now: datetime) -> str:
        """A rota's handoff timer fell due, in the timer's transaction: send the notices and
        set the next timer; returns what it came to."""
        rota = snapshot.config.rotas.get(rota_id)
        if rota is None or not rota.handoff_notices:
            return "rota gone"
        lookup = snapshot.on_call.within(transaction, now)
        handoff = notices(snapshot.config, rota, due_at, now, self.state.new_id, lookup,
                          lookup.next_change)
        transaction.add_notifications(handoff.notifications)
        transaction.set_timer(0, TIMER_PREFIX + rota_id, handoff.next_at)
        for why in handoff.held:
            logger.info("handoff notice held: %s", why, extra={"rota": rota_id})
        if handoff.outgoing == handoff.incoming:
            return "no change"
        return f"handoff {handoff.outgoing or 'nobody'} -> {handoff.incoming or 'nobody'}"
