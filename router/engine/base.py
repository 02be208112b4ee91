"""What the engine's use-case mixins share (room: engine)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from router.clock import Clock
from router.engine.snapshot import Snapshot
from router.store import Store, Transaction


class EngineBase:
    """The state every use case reads: set by Engine.__init__."""

    snapshot: Snapshot
    store: Store
    clock: Clock
    new_id: Callable[[], str]
    outbox_written: Callable[[], None]
    timers_written: Callable[[], None]

    def _handoff(self, transaction: Transaction, snapshot: Snapshot, rota_id: str,
                 due_at: datetime, now: datetime) -> str:
        """A rota's handoff timer fell due (router/engine/handoffs.py)."""
        raise NotImplementedError
