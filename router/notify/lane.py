"""One channel's lane in the deliverer (room: notify.lane; imports notify.contract,
config.model, store.outbox; the trio library).

The deliverer keeps a lane per channel so a slow or dead channel only ever holds its own
slots: the notifications it is sending now (at most `concurrency`, one per slot task), its
queue of due ones read from the store a batch at a time (each with the trio time it was
read, so a queue gone stale is read afresh), and the pace its `rate` allows.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import trio

from router.config.model import Channel
from router.notify import contract
from router.store.outbox import Due


@dataclass(slots=True)
class Lane:
    """One channel's limits and the notifications it is sending now."""

    channel: Channel
    module: contract.Channel[Any, Any]
    busy: set[str] = field(default_factory=set)
    slots: int = 0
    """Slot tasks running: each sends page after page from the queue until it is empty."""
    queue: deque[tuple[Due, float]] = field(default_factory=deque)
    """Due notifications read but not started yet, with the trio time they were read."""
    next_start: float = 0.0
    capped: bool = False
    """The last look at the outbox found as many due as it asked for: more may wait, so
    the lane looks again once its queue runs low."""

    @property
    def free(self) -> int:
        """Slot tasks this lane may start yet (negative once a reload lowered its limit)."""
        return self.channel.delivery.concurrency - self.slots

    @property
    def low(self) -> bool:
        """Fewer queued than one round of sends: time to read more."""
        return len(self.queue) < self.channel.delivery.concurrency

    def queued(self) -> frozenset[str]:
        return frozenset(item.notification.id for item, _ in self.queue)

    async def pace(self) -> bool:
        """Wait for this channel's next send slot under its rate limit; whether it waited."""
        rate = self.channel.delivery.rate  # the module's DEFAULT_RATE when not configured
        if not rate:
            return False
        now = trio.current_time()
        start = max(now, self.next_start)
        self.next_start = start + 1 / rate
        await trio.sleep_until(start)
        return start > now
