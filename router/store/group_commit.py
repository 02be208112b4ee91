"""Group commit, the write path both stores share (room: store; the trio library).

A `write` queues its unit of work; the first writer to find no commit running leads one: it
takes the queue (at most `per_commit` units of it) to a worker thread, where the store runs
every unit in one transaction, each in its own savepoint. Writers that arrive meanwhile wait
for that commit to end, then the next leader takes what they queued. So concurrent requests
share one transaction and one fsync (SQLite) or one round trip to COMMIT (PostgreSQL), and
a unit's own failure rolls back that unit alone (the store's `commit` records it on the unit).
What differs between the stores (the transaction, the errors, whether a commit may start at
all) stays in store/sqlite.py and store/postgres.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import trio

from router.errors import StoreUnavailable
from router.store import interface

T = TypeVar("T")


@dataclass(slots=True)
class Unit(Generic[T]):
    """One `write`'s work and, once its commit ended (`done`), its result or its error."""

    work: Callable[[interface.Transaction], T]
    result: Any = None
    error: BaseException | None = None
    done: bool = False


@dataclass(slots=True)
class _Batch:
    finished: trio.Event = field(default_factory=trio.Event)


Commit = Callable[[list[Unit[Any]]], float | None]
"""Runs the units in one transaction in a worker thread, marking each done (with its result
or error); the earliest timer deadline they set, if any."""
Admit = Callable[[], Awaitable[StoreUnavailable | None]]
"""Whether a commit may go to the database now: None, or why not (every unit fails so)."""


class GroupCommit:
    """The queue of units waiting to be written and the commit running now."""

    def __init__(self, commit: Commit, limiter: trio.CapacityLimiter, *,
                 per_commit: int | None = None, admit: Admit | None = None) -> None:
        self._commit = commit
        self._limiter = limiter
        self._per_commit = per_commit
        self._admit = admit
        self._queue: list[Unit[Any]] = []
        self._committing = False
        self._batch = _Batch()
        self.timers_set: float | None = None
        """The earliest deadline commits set since the store's `take_timers_set` took it."""

    async def run(self, work: Callable[[interface.Transaction], T]) -> Unit[T]:
        """Queue `work` and return its unit once a commit ended with it (done: its result or
        its error set). Cancelled before its commit began, the unit is not written; once a
        commit holds it, the commit finishes (at least once)."""
        unit: Unit[T] = Unit(work)
        self._queue.append(unit)
        try:
            while not unit.done:
                if self._committing:
                    await self._batch.finished.wait()
                    continue
                await self._commit_queued()
        except BaseException:
            if unit in self._queue:
                self._queue.remove(unit)
            raise
        return unit

    def note_timer(self, earliest: float | None) -> None:
        """A commit (this store's, or another node's it heard of) set a timer at `earliest`."""
        if earliest is not None and (self.timers_set is None or earliest < self.timers_set):
            self.timers_set = earliest

    async def _commit_queued(self) -> None:
        self._committing = True
        cut = len(self._queue) if self._per_commit is None else self._per_commit
        batch, self._queue = self._queue[:cut], self._queue[cut:]
        finished = self._batch
        try:
            refused = None if self._admit is None else await self._admit()
            if refused is not None:
                for unit in batch:
                    unit.error, unit.done = StoreUnavailable(refused.cause), True
                return
            self.note_timer(await trio.to_thread.run_sync(self._commit, batch,
                                                          limiter=self._limiter))
        finally:
            # A leader cancelled before the worker thread ran leaves units undone: give them
            # back to the queue for the next writer instead of stranding their callers.
            self._queue[:0] = [waiting for waiting in batch if not waiting.done]
            self._committing = False
            self._batch = _Batch()
            finished.finished.set()
