"""How nodes on one PostgreSQL database learn of each other's work at once (room: store;
issue 18, D6): LISTEN/NOTIFY on the channel `router_work`.

Sending. A transaction whose kept units added notifications or set timers ends with one
`NOTIFY router_work, '<payload>'` just before its COMMIT, in the same round trip: PostgreSQL
delivers it only if the transaction commits, and a unit rolled back to its savepoint leaves
nothing in it (`Announced` counts a unit's work only once the unit is kept). The payload is
a few words, far below PostgreSQL's 8,000 bytes: the sending store's id (a node ignores its
own: its commits already woke its deliverer and scheduler), `outbox` when notifications
were added, `timer:<epoch seconds>` with the earliest deadline set.

Listening. Each node listens on a connection of its own, outside the store's pool (a pooled
connection would be handed to queries). It waits on the connection's socket with
`trio.lowlevel.wait_readable`, then reads what arrived without blocking
(`pgconn.consume_input()`, `pgconn.notifies()`): no worker thread is held while nothing
happens, nothing polls, and cancelling the wait at shutdown is immediate. (psycopg's
`Connection.notifies(timeout=...)` in a worker thread would hold a thread for every wait
and answer a cancel only at its next timeout.) Only connecting (and LISTEN) runs in a worker
thread: libpq connects blocking. When the connection is lost (the server restarted, the
backend was terminated) the listener connects again, after 1 s, doubling to 30 s while it
cannot: one WARNING when it is lost, DEBUG lines for the retries, one INFO once it listens
again; a connection lost again within 30 s of its start continues the outage (a longer
pause, a DEBUG line), so a server that keeps dropping it is not a line a second. After
every connect it reports that anything may have been missed, and the node looks at its
outbox and timers once: notifications sent while nobody listened are not kept by
PostgreSQL. TCP keepalives find a server that vanished without closing the socket.

The polls stay as the fallback (the deliverer's RESCAN and the scheduler's IDLE, 5 s each):
a node that is not listening finds the work late, never not at all.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
import trio
from psycopg import pq

from router.store.postgres_wire import first_line

logger = logging.getLogger(__name__)

CHANNEL = "router_work"
"""The channel every node listens on and every commit with work notifies."""
OUTBOX = "outbox"
TIMER = "timer:"
FIRST_PAUSE = 1.0
LONGEST_PAUSE = 30.0
"""Seconds between two attempts to listen again, doubling from FIRST_PAUSE."""
CONNECT_TIMEOUT = 5
"""Seconds one attempt to connect may take (libpq's connect_timeout); shutdown waits for an
attempt under way."""


@dataclass(frozen=True, slots=True)
class Work:
    """What one notification says another store committed."""

    sender: str
    outbox: bool
    earliest: float | None
    """The earliest deadline set (epoch seconds), if it set any."""


MISSED = Work(sender="", outbox=True, earliest=0.0)
"""Reported after each connect: anything may have been committed while nobody listened
(the earliest deadline is then "already due": the scheduler reads its timers again)."""


class Announced:
    """What a transaction's units did that other nodes must hear of: a unit's work counts
    once the unit is kept (`kept`), and is dropped with it (`dropped`)."""

    __slots__ = ("_earliest", "_outbox", "_unit_earliest", "_unit_outbox")

    def __init__(self) -> None:
        self._outbox = self._unit_outbox = False
        self._earliest: float | None = None
        self._unit_earliest: float | None = None

    def notifications_added(self) -> None:
        self._unit_outbox = True

    def timer_set(self, seconds: float) -> None:
        if self._unit_earliest is None or seconds < self._unit_earliest:
            self._unit_earliest = seconds

    def kept(self) -> None:
        """The current unit succeeded: what it did is announced at the commit."""
        self._outbox = self._outbox or self._unit_outbox
        if self._unit_earliest is not None and (self._earliest is None
                                                or self._unit_earliest < self._earliest):
            self._earliest = self._unit_earliest
        self.dropped()

    def dropped(self) -> None:
        """The current unit was rolled back: what it did never happened."""
        self._unit_outbox = False
        self._unit_earliest = None

    def statement(self, sender: str, *, unit: bool = False) -> str:
        """The NOTIFY to run before COMMIT ("" when the units did nothing to announce);
        `unit`: with the current unit's work too, as if it were kept (the last unit's
        writes and the COMMIT go in one round trip: store/postgres.py)."""
        words, earliest = [sender], self._earliest
        if unit and self._unit_earliest is not None and (
                earliest is None or self._unit_earliest < earliest):
            earliest = self._unit_earliest
        if self._outbox or (unit and self._unit_outbox):
            words.append(OUTBOX)
        if earliest is not None and math.isfinite(earliest):
            words.append(f"{TIMER}{earliest!r}")
        if len(words) == 1:
            return ""
        payload = " ".join(words).replace("'", "''")  # our own words: no quote, in fact
        return f"NOTIFY {CHANNEL}, '{payload}'; "


def parse(payload: str) -> Work:
    """The work a payload names; words it does not know (a newer router's) are ignored, and a
    deadline it cannot read counts as "look at the timers now"."""
    sender, *words = payload.split(" ")
    earliest: float | None = None
    for word in words:
        if word.startswith(TIMER):
            try:
                seconds = float(word.removeprefix(TIMER))
            except ValueError:
                seconds = 0.0
            if not math.isfinite(seconds):
                seconds = 0.0
            earliest = seconds if earliest is None else min(earliest, seconds)
    return Work(sender=sender, outbox=OUTBOX in words, earliest=earliest)


class Listener:
    """LISTEN on a connection of its own until cancelled, reporting each notification's
    `Work` to `heard` (on the trio thread), reconnecting by itself."""

    def __init__(self, conninfo: str, heard: Callable[[Work], None], *,
                 first_pause: float = FIRST_PAUSE,
                 longest_pause: float = LONGEST_PAUSE) -> None:
        self._conninfo = conninfo
        self._heard = heard
        self._first_pause = first_pause
        self._longest_pause = longest_pause

    async def run(self) -> None:
        failures = 0
        """Failures in a row: attempts to connect, and connections lost within
        `longest_pause` of their start (a server that keeps dropping it is one outage)."""
        warned = False
        while True:
            try:
                connection = await trio.to_thread.run_sync(self._connect)
            except psycopg.Error as error:
                failures += 1
                warned = self._failed(failures, error) or warned
                await trio.sleep(self._pause(failures))
                continue
            opened = trio.current_time()
            try:
                if warned:
                    logger.info("listening for other nodes' work again",
                                extra={"failures": failures})
                    warned = False
                self._heard(MISSED)
                await self._receive(connection.pgconn)
            except psycopg.Error as error:
                steady = trio.current_time() - opened >= self._longest_pause
                failures = 1 if steady else failures + 1
                warned = self._failed(failures, error)
            finally:
                with trio.CancelScope(shield=True), contextlib.suppress(psycopg.Error):
                    await trio.to_thread.run_sync(connection.close)
            await trio.sleep(self._pause(failures))

    def _connect(self) -> psycopg.Connection[Any]:
        connection = psycopg.connect(self._conninfo, autocommit=True,
                                     connect_timeout=CONNECT_TIMEOUT,
                                     application_name="router listen",
                                     # a server that vanished without closing the
                                     # connection is noticed within about a minute
                                     keepalives=1, keepalives_idle=30,
                                     keepalives_interval=10, keepalives_count=3)
        try:
            connection.execute(f"LISTEN {CHANNEL}")
        except BaseException:
            connection.close()
            raise
        return connection

    async def _receive(self, pgconn: pq.abc.PGconn) -> None:
        """Report notifications as they arrive; raises psycopg.Error once the connection is
        lost (the socket reads as closed: libpq's consume_input fails)."""
        while True:
            while (notify := pgconn.notifies()) is not None:
                self._heard(parse(notify.extra.decode(errors="replace")))
            if pgconn.status != pq.ConnStatus.OK:
                raise psycopg.OperationalError("the connection was closed")
            await trio.lowlevel.wait_readable(pgconn.socket)
            pgconn.consume_input()

    def _pause(self, failures: int) -> float:
        return float(min(self._first_pause * 2 ** min(max(failures - 1, 0), 16),
                         self._longest_pause))

    def _failed(self, failures: int, error: psycopg.Error) -> bool:
        """Log the failure: a WARNING for the first of an outage (True), DEBUG after."""
        reason = first_line(error)
        if failures == 1:
            logger.warning("not listening for other nodes' work: %s; they are found by the "
                           "polls every few seconds until it listens again", reason,
                           extra={"cause": reason})
            return True
        logger.debug("still not listening for other nodes' work: %s", reason,
                     extra={"cause": reason, "failures": failures})
        return False
