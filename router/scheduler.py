"""The one timer task (room: engine; imports engine, clock).

Escalation deadlines and acknowledgement timeouts live only in the store's timers table. This
task asks the store for the timers due now (an index on due_at), hands each to
`Engine.timer_fired`, then sleeps until the next deadline or until a commit that may have set
an earlier one pokes it (`Engine.timers_written`). One task and one indexed query instead of a
sleeping task per incident: 100,000 open incidents cost 100,000 rows on disk, not 100,000
tasks in memory. After a restart overdue timers fire at once, in deadline order, and later
ones at their time.

Timers due together fire concurrently, so their transactions share group commits; each one
checks in its own transaction that its timer is still the one that fell due, so a timer and
an acknowledge that race have one outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import trio

from router.engine import Engine

logger = logging.getLogger(__name__)

BATCH = 256
"""Timers handed out per query; a backlog is worked through batch after batch."""
IDLE = timedelta(seconds=5)
"""Look again after this long even when no deadline is near: a CLI command in another
process (router escalate, router ack) writes timers that no poke announces."""


class Scheduler:
    def __init__(self, engine: Engine, *, idle: timedelta = IDLE) -> None:
        self._engine = engine
        self._idle = idle
        self._poked = trio.Event()
        self._until: datetime | None = None
        """When the sleeping task looks again; None while it is looking."""
        self.on_fired: Callable[[str, float], None] = lambda kind, lateness: None
        """Called with each fired timer's kind and how many seconds after its deadline it
        fired (metrics)."""

    def poke(self) -> None:
        """A commit may have set a timer earlier than the one being waited for: look again
        if one did. Every commit pokes; most set no timer (a repeat alert, a delivery) or
        only a later one (the next level's deadline), and those cost no query."""
        earliest = self._engine.store.take_timers_set()
        if earliest is None or (self._until is not None and earliest >= self._until):
            return
        self._poked.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        task_status.started()
        while True:
            self._poked = trio.Event()  # before the query: a poke during it is not lost
            self._until = None
            now = self._engine.clock.now()
            due = await self._engine.due_timers(now, BATCH)
            if due:
                async with trio.open_nursery() as firing:
                    for number, kind, due_at in due:
                        firing.start_soon(self._fire, number, kind, due_at)
                continue  # more may be due: ask again before sleeping
            later = await self._engine.next_timer()
            now = self._engine.clock.now()
            wait = self._idle if later is None else min(self._idle, later - now)
            self._until = now + wait
            with trio.move_on_after(max(wait.total_seconds(), 0.0)):
                await self._poked.wait()

    async def _fire(self, number: int, kind: str, due_at: datetime) -> None:
        try:
            outcome = await self._engine.timer_fired(number, kind, due_at)
        except Exception:
            # The timer stays in the store and fires again on the next pass; one bad
            # incident must not stop every other escalation.
            logger.exception("timer failed; it will fire again",
                             extra={"incident": f"INC{number}", "timer": kind})
            await trio.sleep(1)
            return
        late = (self._engine.clock.now() - due_at).total_seconds()
        self.on_fired(kind, late)
        logger.info("timer fired: %s", outcome, extra={
            "incident": f"INC{number}", "timer": kind, "outcome": outcome,
            "late_ms": round(late * 1000, 1)})
