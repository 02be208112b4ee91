"""One channel's lane in the deliverer (room: notify.lane; imports notify.contract,
config.model, store.outbox; the trio library).

The deliverer keeps a lane per channel so a slow or dead channel only ever holds its own
slots: the notifications it is sending now (at most `concurrency`, one per slot task), its
queue of due ones claimed from the store a batch at a time (each with the trio time it was
claimed, so a queue gone stale is read afresh), and the pace its `rate` allows.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import trio

from router.config.model import Channel
from router.notify import contract
from router.store.outbox import Due

BATCH = 256
"""Due notifications read (and claimed) at once for one channel (each read costs a thread hop
and a query; a channel sends them `concurrency` at a time)."""


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

    @property
    def room(self) -> int:
        """How many due notifications to claim for this lane now: a queue's worth, or for a
        rate-limited channel one per free slot (each claim takes send instants from the
        channel's pace that all nodes share, store/claims.py; queued, they would go stale
        and their instants unused)."""
        if self.channel.delivery.rate:
            return max(self.free, 0)
        return BATCH - len(self.queue)

    async def pace(self, wait: float | None = None) -> bool:
        """Wait for this channel's next send slot under its rate limit; whether it waited.
        `wait`: the seconds until the instant the claim took for the notification from the
        channel's shared pace; None: read without a claim (the store could not write), paced
        by this lane alone."""
        if wait is not None:
            await trio.sleep(max(wait, 0.0))
            return wait > 0
        rate = self.channel.delivery.rate  # the module's DEFAULT_RATE when not configured
        if not rate:
            return False
        now = trio.current_time()
        start = max(now, self.next_start)
        self.next_start = start + 1 / rate
        await trio.sleep_until(start)
        return start > now
