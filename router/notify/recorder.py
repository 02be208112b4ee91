"""The deliverer's recorder: commits send results in batches (room: notify.recorder;
imports notify.lane, store, clock, errors; the trio library).

Why a task of its own: a send's slot is free again as soon as the receiver answered, and its
result waits here for the next commit, all those that arrived during the last commit in one
unit (issue 15: a slot held until its own commit let a channel send only `concurrency`
pages per group commit, and under ingest load the pages fell minutes behind). Meanwhile the
notifications are `pending` here, so the dispatcher does not send them again. When the store
cannot write (a full disk), the results are held in memory and committed again with the
backoff of a failed send, sooner once another write succeeds; still not sent again.
Every attempt committed is logged (`log_attempts`): WARNING when it will be retried, ERROR
when it failed for good, INFO when delivered or skipped, one line for all those of a commit
when it recorded several (each then at DEBUG).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import trio

from router.clock import Clock
from router.errors import StoreUnavailable
from router.notify.lane import Lane
from router.store.interface import Store
from router.store.outbox import Attempt

logger = logging.getLogger("router.notify.deliver")  # the deliverer's log lines, as before

FIRST_BACKOFF = timedelta(seconds=5)
LONGEST_BACKOFF = timedelta(minutes=5)
LINGER = 0.02
"""Seconds the recorder waits for sends still in flight before it commits what it has:
more results per commit, and the pages themselves are not held up (they are sent)."""


def backoff(attempt: int, jitter: float) -> timedelta:
    """The wait after failed attempt number `attempt` (1-based); `jitter` in [0, 1)."""
    doubled: timedelta = FIRST_BACKOFF * 2 ** min(attempt - 1, 16)
    return min(doubled, LONGEST_BACKOFF) * (0.5 + jitter / 2)


@dataclass(frozen=True, slots=True)
class Result:
    """A send's outcome waiting for the recorder's next commit."""

    lane: Lane
    attempt: Attempt
    retry_at: datetime | None
    trace_id: str


@dataclass(slots=True)
class _Held:
    """A send whose result the store could not commit: not sent again while it is held, and
    its result committed again at `until` (or once another write succeeds)."""

    attempt: Attempt
    retry_at: datetime | None
    trace_id: str
    until: datetime
    failures: int = 1


class Recorder:
    """Results of finished sends on their way to the store. `wake` pokes the dispatcher
    when a committed result may free another send; `on_attempt` is told of each one."""

    def __init__(self, store: Store, clock: Clock, jitter: Callable[[], float],
                 wake: Callable[[], None], on_attempt: Callable[[Attempt], None]) -> None:
        self._store = store
        self._clock = clock
        self._jitter = jitter
        self._wake = wake
        self._on_attempt = on_attempt
        self._held: dict[str, _Held] = {}
        self._results: list[Result] = []
        """Sent, waiting for the next commit: not due again meanwhile."""
        self._recording: set[str] = set()
        """Ids of the notifications in `_results` and in the commit under way."""
        self._ready = trio.Event()
        self._in_flight = 0
        self._all_sent = trio.Event()
        """Set when the last send in flight finished (the recorder lingers for it)."""

    def pending(self) -> frozenset[str]:
        """Notifications sent whose results are not committed yet: not to be sent again."""
        return frozenset(self._held).union(self._recording)

    def held_until(self) -> list[datetime]:
        """When each held result is due to be committed again."""
        return [held.until for held in self._held.values()]

    def started(self) -> None:
        self._in_flight += 1

    def finished(self) -> None:
        self._in_flight -= 1
        if not self._in_flight:
            self._all_sent.set()

    def add(self, result: Result) -> None:
        self._recording.add(result.attempt.notification_id)
        self._results.append(result)
        self._ready.set()

    async def run(self) -> None:
        """Commit the results of finished sends, all that arrived meanwhile in one unit."""
        while True:
            await self._ready.wait()
            if self._in_flight:
                self._all_sent = trio.Event()
                with trio.move_on_after(LINGER):  # let the sends in flight finish first
                    await self._all_sent.wait()
            self._ready = trio.Event()
            batch, self._results = self._results, []
            if batch:
                await self._commit(batch)

    async def commit_held(self, now: datetime) -> None:
        """Commit the held results whose backoff ran out, or all once the store wrote again,
        in one unit; on failure each waits the next step of its backoff."""
        writable = self._store.unavailable is None
        ready = [held for held in self._held.values() if writable or held.until <= now]
        if not ready:
            return
        try:
            await self._store.write(lambda transaction: [
                transaction.outbox.record(held.attempt, held.retry_at)
                for held in ready])
        except StoreUnavailable:
            for held in ready:
                held.failures += 1
                held.until = now + backoff(held.failures, self._jitter())
            return
        for held in ready:
            del self._held[held.attempt.notification_id]
            self._on_attempt(held.attempt)
        log_attempts([(held.attempt, held.retry_at, held.trace_id) for held in ready])

    async def _commit(self, batch: list[Result]) -> None:
        """Commit `batch` in one unit (one at a time if that unit fails: one bad result
        must not cost the others); log each and wake the dispatcher if one may free
        another: its lane's queue ran low with more due, a later message to the same
        target waited for it, or it will be retried (the next due time moved)."""
        try:
            try:
                successors = await self._store.write(lambda transaction: [
                    transaction.outbox.record(result.attempt, result.retry_at)
                    for result in batch])
            except StoreUnavailable:  # the store logged it; hold the results, do not resend
                self._hold(batch)
                return
            except Exception:
                if len(batch) == 1:
                    logger.exception(
                        "delivery failed unexpectedly; it will be tried again",
                        extra={"channel": batch[0].attempt.channel,
                               "notification": batch[0].attempt.notification_id})
                    self._wake()
                    return
                for result in batch:
                    await self._commit([result])
                return
        finally:
            self._recording.difference_update(
                result.attempt.notification_id for result in batch)
        look_again = False
        for result, successor in zip(batch, successors, strict=True):
            look_again = look_again or successor or result.retry_at is not None or (
                result.lane.capped and result.lane.low)
            self._on_attempt(result.attempt)
        log_attempts([(result.attempt, result.retry_at, result.trace_id)
                      for result in batch])
        if look_again:
            self._wake()

    def _hold(self, batch: list[Result]) -> None:
        until = self._clock.now() + backoff(1, self._jitter())
        for result in batch:
            self._held[result.attempt.notification_id] = _Held(
                result.attempt, result.retry_at, result.trace_id, until=until)
        self._wake()  # so the next pass waits for `until`


def log_attempts(attempts: list[tuple[Attempt, datetime | None, str]]) -> None:
    """The log lines of the attempts one commit recorded: each failure its own line; a
    delivered or skipped page its own INFO line when it is the commit's only one, else one
    INFO line for them all (`notifications delivered`: `count`, `outcomes` and `channels`
    tallied) and the line of each at DEBUG. A JSON line costs about as much CPU as sending
    a page to a webhook (issue 15: a line per page was a tenth of the server thread's time
    under load); the delivery log (`router deliveries`, GET /v1/deliveries) keeps every
    attempt."""
    done = [item for item in attempts if item[0].outcome in ("delivered", "skipped")]
    for attempt, retry_at, trace_id in attempts:
        if len(done) == 1 or attempt.outcome not in ("delivered", "skipped"):
            log_attempt(attempt, retry_at, trace_id)
    if len(done) < 2:
        return
    outcomes: dict[str, int] = {}
    channels: dict[str, int] = {}
    for attempt, _, _ in done:
        outcomes[attempt.outcome] = outcomes.get(attempt.outcome, 0) + 1
        channels[attempt.channel] = channels.get(attempt.channel, 0) + 1
    logger.info("notifications delivered", extra={
        "count": len(done), "outcomes": outcomes, "channels": channels})
    if logger.isEnabledFor(logging.DEBUG):
        for attempt, retry_at, trace_id in done:
            log_attempt(attempt, retry_at, trace_id, level=logging.DEBUG)


def log_attempt(attempt: Attempt, retry_at: datetime | None, trace_id: str = "",
                level: int = logging.INFO) -> None:
    """One attempt's line; a delivered or skipped one at `level`."""
    fields: dict[str, Any] = {
        "incident": f"INC{attempt.incident_number}" if attempt.incident_number else None,
        "notification": attempt.notification_id, "channel": attempt.channel,
        "target": attempt.target, "event": attempt.event, "attempt": attempt.attempt,
        "status": attempt.status_code, "latency_ms": attempt.latency_ms,
        "trace_id": trace_id or None}
    if attempt.outcome in ("delivered", "skipped"):
        logger.log(level, "notification %s: %s %s", attempt.outcome, attempt.channel,
                   attempt.target, extra=fields)
    elif attempt.outcome == "retry":
        assert retry_at is not None
        logger.warning("delivery failed, retrying at %s: %s", retry_at.isoformat(),
                       attempt.error, extra=fields | {"retry_at": retry_at.isoformat()})
    else:
        logger.error("notification failed for good: %s", attempt.error, extra=fields)
