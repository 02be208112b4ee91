"""Whether the store can write, and how its failures are logged (room: store; imports errors).

A full disk, an I/O error or a read-only file is a condition of the host, not a bug: every
write fails the same way until it passes. `unavailable` turns such an SQLite error into a
`StoreUnavailable` the servers answer 503 and the workers back off on, and `FailureLog`
writes one line per cause every ten seconds however many writes fail, with the count of those
it left out: a full disk once filled the log with 500 tracebacks a second. `LibraryLog` does
the same for a library's own warnings (psycopg_pool's, one per failed connection attempt).
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import trio

from router.errors import StoreUnavailable

logger = logging.getLogger(__name__)

LOG_EVERY = 10.0
"""Seconds between two log lines about the same cause."""

# SQLite's primary result codes for conditions of the host (sqlite.org/rescode.html):
# PERM, BUSY, LOCKED, NOMEM, READONLY, IOERR, FULL, CANTOPEN, PROTOCOL.
_HOST_CODES = frozenset({3, 5, 6, 7, 8, 10, 13, 14, 15})
# The same conditions by SQLite's words, for errors raised without a code.
_HOST_WORDS = ("database or disk is full", "disk i/o error", "readonly database",
               "unable to open database file", "database is locked",
               "database table is locked", "out of memory", "access permission denied",
               "locking protocol")


def unavailable(error: BaseException) -> StoreUnavailable | None:
    """The StoreUnavailable that `error` amounts to, or None when it is no condition of the
    host (a constraint, a bug: those stay what they are)."""
    if isinstance(error, StoreUnavailable):
        return error
    if not isinstance(error, sqlite3.DatabaseError) or isinstance(
            error, sqlite3.IntegrityError | sqlite3.ProgrammingError):
        return None
    code = getattr(error, "sqlite_errorcode", None)
    words = str(error).lower()
    if (code is not None and code & 0xFF in _HOST_CODES) or any(
            word in words for word in _HOST_WORDS):
        return StoreUnavailable(str(error) or type(error).__name__)
    return None


@dataclass(slots=True)
class _Seen:
    logged_at: float
    left_out: int = 0


class FailureLog:
    """One ERROR line per cause per `every` seconds, and one line when writes work again.

    `now` is trio's clock, so MockClock tests see virtual seconds."""

    def __init__(self, every: float = LOG_EVERY,
                 now: Callable[[], float] = trio.current_time) -> None:
        self._every = every
        self._now = now
        self._seen: dict[str, _Seen] = {}

    def failed(self, failure: StoreUnavailable, doing: str) -> None:
        """Log `failure` unless its cause was logged less than `every` seconds ago."""
        now = self._now()
        seen = self._seen.get(failure.cause)
        if seen is not None and now - seen.logged_at < self._every:
            seen.left_out += 1
            return
        left_out = seen.left_out if seen else 0
        self._seen[failure.cause] = _Seen(now)
        logger.error("store cannot %s: %s (%d more failures since the last line)", doing,
                     failure.cause, left_out,
                     extra={"cause": failure.cause, "suppressed": left_out})

    def recovered(self) -> None:
        """A write succeeded: say so once, with what was left out since the last lines."""
        if not self._seen:
            return
        left_out = sum(seen.left_out for seen in self._seen.values())
        causes = ", ".join(sorted(self._seen))
        self._seen.clear()
        logger.warning("store writes again after: %s (%d failures not logged)", causes,
                       left_out, extra={"suppressed": left_out})


class LibraryLog(logging.Filter):
    """A library logger's WARNING and ERROR records as the store's own lines: the first line
    of each message only (libpq's hint, on a line of its own, dropped), one per cause every
    `every` seconds with the count of those left out, the rest turned DEBUG (and dropped
    unless the logger writes DEBUG). The cause is the message with its numbers blanked (a
    port, "after 2.1 sec"). Thread-safe: the pool logs from its worker threads, so `now` is
    a monotonic clock, not trio's.
    """

    def __init__(self, every: float = LOG_EVERY,
                 now: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._every = every
        self._now = now
        self._seen: dict[str, _Seen] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        lines = record.getMessage().strip().splitlines()
        first = lines[0].strip() if lines else ""
        cause = _NUMBERS.sub("#", first)
        with self._lock:
            now = self._now()
            seen = self._seen.get(cause)
            if seen is not None and now - seen.logged_at < self._every:
                seen.left_out += 1
                record.msg, record.args = first, None
                record.levelno, record.levelname = logging.DEBUG, "DEBUG"
                return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
            left_out = seen.left_out if seen else 0
            self._seen[cause] = _Seen(now)
        more = f" ({left_out} more like it not logged)" if left_out else ""
        record.msg, record.args = first + more, None
        return True


_NUMBERS = re.compile(r"\d+(?:\.\d+)?")


def quiet(name: str) -> None:
    """Throttle the library logger `name` with a LibraryLog (once), and give it a handler
    that writes nothing, so that where nobody configured logging (a CLI command) its lines
    do not reach stderr through logging's last resort; the daemon's handler, on the root
    logger, still gets them."""
    target = logging.getLogger(name)
    if not any(isinstance(each, LibraryLog) for each in target.filters):
        target.addFilter(LibraryLog())
    if not any(isinstance(each, logging.NullHandler) for each in target.handlers):
        target.addHandler(logging.NullHandler())
