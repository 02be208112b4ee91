"""Holding trio's MockClock still while real work is under way outside the trio thread.

Under autojump a MockClock jumps to the next deadline once every task has waited
`autojump_threshold` real seconds. A task that waits for a worker thread (SQLite's commit)
or for a loopback peer's answer waits too, so on a busy machine a commit or a round trip
that takes longer than the threshold lets virtual time pass in the middle of work that, in
the test's story, takes none: a timer fires while the commit before it is still running, a
linger runs out while the receiver is still answering. `ClockHold.held()` turns autojump off
for as long as such work runs (counted, so overlapping holders nest) and back on after, so
virtual time moves only while the test's tasks really wait for a deadline. Nothing in the
code under test changes: the store and the transport are wrapped, as the tests replace a
store's `read` to count reads.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import trio.testing

T = TypeVar("T")


class ClockHold:
    """Autojump off while any holder runs, `threshold` again when the last one ends."""

    def __init__(self, clock: trio.testing.MockClock) -> None:
        self.clock = clock
        self.threshold = clock.autojump_threshold
        self.holders = 0

    @asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        self.holders += 1
        self.clock.autojump_threshold = math.inf
        try:
            yield
        finally:
            self.holders -= 1
            if not self.holders:
                self.clock.autojump_threshold = self.threshold

    def wrap(self, call: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
        """`call`, with the clock held while it runs."""
        async def held_call(*args: Any, **kwargs: Any) -> T:
            async with self.held():
                return await call(*args, **kwargs)
        return held_call

    def hold_store(self, store: Any) -> None:
        """Hold the clock while `store` reads or writes (in its worker threads)."""
        store.read = self.wrap(store.read)
        store.write = self.wrap(store.write)
