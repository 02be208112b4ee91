"""The one state the engine's use cases share (room: engine).

Every use case (the lifecycle in core.py, ingest.py, escalation.py, handoffs.py,
silences.py) takes this object explicitly instead of reading attributes a mixin expects
another class to set: what a use case depends on is in its constructor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from router.clock import Clock
from router.engine.snapshot import Snapshot
from router.store.interface import Store


def _nothing() -> None:
    """A wake nobody listens to (until the daemon sets one)."""


@dataclass(slots=True)
class EngineState:
    """The config snapshot in force, the store, the clock and the id maker.

    `snapshot` is replaced whole by a reload (`Engine.use_config`); a use case reads it once
    at its start, so a reload never tears an operation in half.
    """

    snapshot: Snapshot
    store: Store
    clock: Clock
    new_id: Callable[[], str]
    outbox_written: Callable[[], None] = field(default=_nothing)
    """Called after a commit that may have written notifications (the deliverer's wake)."""
    timers_written: Callable[[], None] = field(default=_nothing)
    """Called after a commit that may have set a timer (the scheduler's wake)."""
