"""The only reader of the wall clock (room: clock; imports nothing from router).

Everything else takes `now` from a Clock, so tests can run hours of escalation in an instant
under trio's MockClock: `TrioClock` counts from a fixed epoch by `trio.current_time()`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

import trio


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class TrioClock:
    """Aware UTC time that advances with trio's clock (MockClock in tests)."""

    def __init__(self, epoch: datetime) -> None:
        self.epoch = epoch
        self.start = trio.current_time()

    def now(self) -> datetime:
        return self.epoch + timedelta(seconds=trio.current_time() - self.start)


class FixedClock:
    """A clock that says what it is told; for tests of code that has no trio loop."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment

    def advance(self, delta: timedelta) -> None:
        self.moment += delta
