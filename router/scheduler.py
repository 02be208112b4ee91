"""The one timer task (room: engine; imports engine, clock).

Escalation deadlines and acknowledgement timeouts live only in the store's timers table. This
task reads the timers due within the next second (LOOKAHEAD) into a heap in memory, sleeps
until the earliest one, hands it to `Engine.timer_fired` the moment it falls due, and reads
ahead again before the window runs out. One task and one indexed query per window instead of
a sleeping task per incident: 100,000 open incidents cost 100,000 rows on disk, not 100,000
tasks in memory. After a restart overdue timers fire at once, in deadline order, and later
ones at their time.

A timer is handed over without a store query between its deadline and the escalation, and
the task does not wait for one escalation's commit before it wakes for the next deadline:
each fires in its own task (at most BATCH at a time), so timers due together share group
commits. Each checks in its own transaction that its timer is still the one that fell due,
so a timer and an acknowledge that race have one outcome, and a timer read ahead but
acknowledged, moved or removed before its deadline comes to nothing ("stale").

A commit that sets a deadline pokes the task (`Engine.timers_written`); only one earlier than
what the next planned read would load in time makes it read again.

When the store cannot write (a full disk) or read, every timer waits: the task pauses for 1 s,
doubling to 30 s while it still cannot, and then reads and fires again; the timers stay in
the store, so none is lost, and the store logs the failure once per cause every ten seconds.
Without the pause each due timer failed and fired again every second, with a traceback each.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import trio

from router.engine import Engine
from router.errors import StoreUnavailable

logger = logging.getLogger(__name__)

BATCH = 256
"""Timers read ahead per query, and fired at once at most; a backlog (after a restart) is
worked through batch after batch."""
LOOKAHEAD = timedelta(seconds=1)
"""Timers due within this long are read into memory ahead of their deadline."""
IDLE = timedelta(seconds=5)
"""Read again after this long even when no deadline is near: a CLI command in another
process (router escalate, router ack) writes timers that no poke announces."""

FIRST_PAUSE = timedelta(seconds=1)
LONGEST_PAUSE = timedelta(seconds=30)
"""How long every timer waits after the store failed, doubling from FIRST_PAUSE."""

Timer = tuple[int, str, datetime]
"""(incident number, kind, due at): what identifies one deadline in the store."""


class Scheduler:
    def __init__(self, engine: Engine, *, idle: timedelta = IDLE,
                 lookahead: timedelta = LOOKAHEAD) -> None:
        self._engine = engine
        self._idle = idle
        self._lookahead = lookahead
        self._ahead: list[tuple[datetime, int, str]] = []
        """Timers read ahead and not yet handed over, as a heap on their deadline."""
        self._firing: set[Timer] = set()
        """Timers handed to the engine whose transaction has not finished: still in the
        store, so a read leaves them out."""
        self._read_at: datetime | None = None
        """When to read ahead again; None: as soon as the heap runs out (the last read
        stopped at BATCH rows), or now (before the first read, or after a poke)."""
        self._covered: datetime | None = None
        """A timer set to fall due at or after this is loaded in time by the planned reads;
        one set earlier makes the task read again. None: read now."""
        self._reading = False
        self._settled: set[Timer] = set()
        """Timers whose transaction ended while a read was running: the read may have seen
        them still in the store, and must not hand them over again."""
        self._changed = trio.Event()
        self._outages = 0
        """Pauses in a row because the store failed; 0 once a timer's transaction commits."""
        self._paused_until: datetime | None = None
        self.on_fired: Callable[[str, float], None] = lambda kind, lateness: None
        """Called with each fired timer's kind and how many seconds after its deadline its
        transaction committed (metrics)."""

    def poke(self) -> None:
        """A commit may have set a timer earlier than the planned reads would load in time:
        read again if one did. Every commit pokes; most set no timer (a repeat alert, a
        delivery) or only a later one (the next level's deadline), and those cost nothing."""
        earliest = self._engine.store.take_timers_set()
        if earliest is None:
            return
        if not self._reading and self._covered is not None and earliest >= self._covered:
            return
        self._covered = None  # a read in progress may have missed it: read again after it
        self._changed.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        task_status.started()
        async with trio.open_nursery() as firing:
            while True:
                self._changed = trio.Event()  # before the read: a poke during it is not lost
                now = self._engine.clock.now()
                if self._paused_until is not None and now < self._paused_until:
                    await trio.sleep((self._paused_until - now).total_seconds())
                    continue
                if self._read_due(now):
                    try:
                        await self._read_ahead(now)
                    except StoreUnavailable:  # the store logged it
                        self._pause()
                        continue
                    now = self._engine.clock.now()
                while self._ahead and self._ahead[0][0] <= now and len(self._firing) < BATCH:
                    due_at, number, kind = heapq.heappop(self._ahead)
                    self._firing.add((number, kind, due_at))
                    firing.start_soon(self._fire, number, kind, due_at)
                if self._read_due(now):
                    continue
                wait = self._next_wake(now) - now
                with trio.move_on_after(max(wait.total_seconds(), 0.0)):
                    await self._changed.wait()

    def _pause(self) -> None:
        """The store failed: every timer waits, longer each time in a row, and the timers
        are read again afterwards (those read ahead may have been acted on meanwhile by a
        CLI in another process)."""
        now = self._engine.clock.now()
        if self._paused_until is not None and now < self._paused_until:
            return  # one pause for every timer that failed together
        self._outages += 1
        self._paused_until = now + min(FIRST_PAUSE * 2 ** min(self._outages - 1, 16),
                                       LONGEST_PAUSE)
        self._ahead.clear()
        self._covered = None

    def _read_due(self, now: datetime) -> bool:
        if self._covered is None:
            return True
        if self._read_at is None:
            return not self._ahead and len(self._firing) < BATCH
        return now >= self._read_at

    def _next_wake(self, now: datetime) -> datetime:
        wake = now + self._idle
        if self._read_at is not None:
            wake = min(wake, self._read_at)
        if self._ahead and len(self._firing) < BATCH:
            wake = min(wake, self._ahead[0][0])
        return wake  # a finished firing or a poke wakes it earlier

    async def _read_ahead(self, now: datetime) -> None:
        """Load the timers due within LOOKAHEAD (at most BATCH beyond those in flight) and
        plan the next read."""
        until = now + self._lookahead
        self._covered, self._reading = until, True  # a poke during the read re-reads
        self._settled.clear()
        try:
            rows, after = await self._engine.timers_due_by(until, BATCH + len(self._firing))
        finally:
            self._reading = False
        fresh = [(due_at, number, kind) for number, kind, due_at in rows
                 if (number, kind, due_at) not in self._firing
                 and (number, kind, due_at) not in self._settled]
        heapq.heapify(fresh)
        self._ahead = fresh
        if self._covered is None:  # poked during the read: read again at once
            self._read_at = None
            return
        if len(rows) == BATCH + len(self._firing) and after is not None:
            # Stopped at the limit: `after` is the last row's deadline. Timers due then or
            # later are read once these are handed over.
            self._covered, self._read_at = after, None
            return
        # Read again LOOKAHEAD before the first deadline after this window (IDLE from now
        # at the latest), but not before half of this window has passed: timers due every
        # few milliseconds cost a read every half LOOKAHEAD, not one per timer.
        planned = now + self._idle if after is None else min(now + self._idle,
                                                             after - self._lookahead)
        self._read_at = max(planned, now + self._lookahead / 2)
        # A timer set from here on to fall due at least half a LOOKAHEAD after that read is
        # loaded by it (or a later one) in time; an earlier one needs a read now.
        self._covered = self._read_at + self._lookahead / 2

    async def _fire(self, number: int, kind: str, due_at: datetime) -> None:
        woke = (self._engine.clock.now() - due_at).total_seconds()
        try:
            outcome = await self._engine.timer_fired(number, kind, due_at)
        except StoreUnavailable:  # the store logged it; the timer stays in the store
            self._pause()
            return
        except Exception:
            # The timer stays in the store and fires again after the next read; one bad
            # incident must not stop every other escalation.
            logger.exception("timer failed; it will fire again",
                             extra={"incident": f"INC{number}", "timer": kind})
            await trio.sleep(1)
            self._covered = None
            return
        finally:
            self._firing.discard((number, kind, due_at))
            if self._reading:
                self._settled.add((number, kind, due_at))
            self._changed.set()
        self._outages = 0
        late = (self._engine.clock.now() - due_at).total_seconds()
        self.on_fired(kind, late)
        logger.info("timer fired: %s", outcome, extra={
            "incident": f"INC{number}", "timer": kind, "outcome": outcome,
            "wake_ms": round(woke * 1000, 1), "late_ms": round(late * 1000, 1)})
