"""What the engine's use-case mixins share (room: engine)."""

from __future__ import annotations

from collections.abc import Callable

from router.clock import Clock
from router.engine.snapshot import Snapshot
from router.store import Store


class EngineBase:
    """The state every use case reads: set by Engine.__init__."""

    snapshot: Snapshot
    store: Store
    clock: Clock
    new_id: Callable[[], str]
    outbox_written: Callable[[], None]
    timers_written: Callable[[], None]
