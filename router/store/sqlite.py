"""The store in SQLite (room: store; imports config.model, alerts.model, errors): the
implementation behind store/interface.py, with records.py, writes.py, memory.py, outbox.py,
overrides.py, retention.py, rows.py, migrations.py and health.py.

WAL mode with synchronous=FULL by default, so what a commit returned survives a power cut.
Writes are group-committed (store/group_commit.py): every `write` that arrives while a commit
is running joins the next one, each unit of work in its own savepoint, so one failing unit
rolls back alone and concurrent requests share the cost of one fsync. sqlite3 runs only in
worker threads (`trio.to_thread.run_sync`): one writer connection behind a limiter of one,
and one reader.

Every failure of SQLite's reaches callers as the store's own `StoreError` (errors.py), with
SQLite's exception as its cause, so nothing outside store/ needs to know the database: when
the host will not let it write (a full disk, an I/O error, a read-only file) `read` and
`write` raise `StoreUnavailable` (store/health.py) and log it at most once per cause every ten
seconds; `unavailable` holds the last such failure until a write succeeds again.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

import trio

from router.errors import StoreError, StoreUnavailable
from router.store import files, interface
from router.store.dialect import SQLITE, Dialect
from router.store.group_commit import GroupCommit, Unit
from router.store.health import FailureLog, unavailable
from router.store.memory import Memory, in_force
from router.store.migrations import migrate
from router.store.records import Reader, from_seconds
from router.store.values import Peek
from router.store.writes import Transaction

DATABASE_NAME = "router.db"
"""The store's file in the state directory."""

T = TypeVar("T")
Synchronous = Literal["FULL", "NORMAL", "OFF"]
PROBE_EVERY = 1.0
"""Seconds between two test writes of `check_writable` while the store cannot write."""


class Connection(sqlite3.Connection):
    """sqlite3's connection, saying which SQL it speaks (the query modules ask:
    store/dialect.py)."""

    dialect: Dialect = SQLITE


def _connect(path: Path, synchronous: Synchronous,
             factory: type[sqlite3.Connection] = Connection) -> sqlite3.Connection:
    # trio's thread cache may run each call on a different thread; the limiters make sure
    # only one thread uses a connection at a time.
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                                 timeout=30, factory=factory)
    connection.row_factory = sqlite3.Row
    # Takes effect only in a new file (before its first table and its switch to WAL): pruned
    # rows' pages can then be given back (store/retention.py). Older stores need one VACUUM.
    connection.execute("PRAGMA auto_vacuum = INCREMENTAL")
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute(f"PRAGMA synchronous = {synchronous}")
    connection.execute("PRAGMA foreign_keys = ON")
    return connection


class Store:
    def __init__(self, writer: sqlite3.Connection, reader: sqlite3.Connection) -> None:
        self._writer = writer
        self._reader = reader
        self._write_limiter = trio.CapacityLimiter(1)
        self._read_limiter = trio.CapacityLimiter(1)
        self._group = GroupCommit(self._commit, self._write_limiter)
        self._memory = Memory()  # open incidents and the counter, between transactions
        self.commits = 0
        self.unavailable: StoreUnavailable | None = None
        """Why the last write failed, while the store cannot write; None once one succeeds."""
        self._failures = FailureLog()
        self._probed_at = -float("inf")

    @classmethod
    async def open(cls, path: Path, *, synchronous: Synchronous = "FULL",
                   writer_factory: type[sqlite3.Connection] = Connection) -> Store:
        """Open (creating and migrating as needed) the store at `path`; its files are
        created 0600, and existing ones that other users may read are tightened.
        `writer_factory` makes the write connection (tests pass one whose commits fail as
        on a full disk)."""
        def connect() -> Store:
            files.create_private(path)
            files.tighten_files(path.with_name(path.name + suffix)
                                for suffix in ("", "-wal", "-shm"))
            writer = _connect(path, synchronous, writer_factory)
            migrate(writer)
            return cls(writer, _connect(path, synchronous))
        try:
            return await trio.to_thread.run_sync(connect)
        except sqlite3.Error as error:  # not a database, or one it cannot migrate
            raise StoreError(str(error)) from error

    async def close(self) -> None:
        async with self._write_limiter, self._read_limiter:
            self._writer.close()
            self._reader.close()

    async def read(self, query: Callable[[interface.Reader], T]) -> T:
        """Run `query` on the read connection, which sees the last committed state."""
        reader = Reader(self._reader)
        try:
            return await trio.to_thread.run_sync(query, reader, limiter=self._read_limiter)
        except sqlite3.Error as error:
            failure = unavailable(error)
            if failure is None:
                raise StoreError(str(error)) from error
            self._failures.failed(failure, "read")
            raise failure from error

    async def write(self, work: Callable[[interface.Transaction], T]) -> T:
        """Run `work` in a committed transaction and return its result.

        Returns only once the transaction is durable. Raises what `work` raised, after
        rolling back that unit alone (a rule of the data it broke, a duplicate id say, as
        StoreError); StoreUnavailable when the host would not let it write.
        """
        unit = await self._group.run(work)
        if unit.error is not None:
            failure = unavailable(unit.error)
            if failure is None and isinstance(unit.error, sqlite3.Error):
                raise StoreError(str(unit.error)) from unit.error
            if failure is None:
                raise unit.error
            self.unavailable = failure
            self._failures.failed(failure, "write")
            raise failure from unit.error
        if self.unavailable is not None:
            self.unavailable = None
            self._failures.recovered()
        return unit.result  # type: ignore[no-any-return]

    async def check_writable(self) -> StoreUnavailable | None:
        """Why the store cannot write, or None. While it cannot, a test write (at most one
        every PROBE_EVERY seconds) finds out whether it can again, so readiness comes back
        even when nothing else writes."""
        if self.unavailable is None:
            return None
        if trio.current_time() - self._probed_at >= PROBE_EVERY:
            self._probed_at = trio.current_time()
            with contextlib.suppress(StoreUnavailable):
                await self.write(_probe)
        return self.unavailable

    async def checkpoint(self) -> bool:
        """Copy the WAL into the database file and truncate the WAL, so the files are as
        small as what the store holds (after a prune). False if a reader (another process)
        kept it from finishing; the next automatic checkpoint catches up."""
        def run() -> bool:
            busy = self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            return not busy
        return await self._maintain(run)

    async def vacuum(self) -> None:
        """Rewrite the file without its free pages, turning on incremental auto-vacuum (which
        only a VACUUM can switch on in a store that has tables). Holds the write lock for as
        long as the copy takes, and needs free disk space for it."""
        def run() -> None:
            self._writer.execute("PRAGMA auto_vacuum = INCREMENTAL")
            self._writer.execute("VACUUM")
        await self._maintain(run)

    async def _maintain(self, run: Callable[[], T]) -> T:
        """Run `run` on the write connection; SQLite's failure as the store's own error."""
        try:
            return await trio.to_thread.run_sync(run, limiter=self._write_limiter)
        except sqlite3.Error as error:
            raise (unavailable(error) or StoreError(str(error))) from error

    def peek(self, dedup_key: str, now: datetime) -> Peek | None:
        """The open incident of `dedup_key` and the silences in force at `now`, from the
        store's memory, on the caller's (trio) thread; None unless the memory holds both.
        Never touches the database: a unit that acts on it asks `unchanged` first."""
        memory = self._memory
        silences, since = memory.silences, memory.silences_since
        entry = memory.peek(dedup_key)
        if entry is None or entry.decoded is None or silences is None:
            return None
        seconds = now.timestamp()
        if seconds < since:
            return None
        incident, firing = entry.decoded
        return Peek(incident, firing, in_force(silences, seconds), (dedup_key, entry, silences))

    def peek_absent(self, dedup_key: str, now: datetime) -> Peek | None:
        """The silences in force at `now` when the store's memory holds every open incident
        and none has `dedup_key` (a Peek whose incident is None), on the caller's thread;
        None unless the memory holds both. A unit that opens an incident on it asks
        `unchanged` first (another unit may have opened one for the key meanwhile)."""
        memory = self._memory
        silences, since = memory.silences, memory.silences_since
        if silences is None or not memory.holds_none(dedup_key):
            return None
        seconds = now.timestamp()
        if seconds < since:
            return None
        return Peek(None, frozenset(), in_force(silences, seconds), (dedup_key, None, silences))

    def take_timers_set(self) -> datetime | None:
        """The earliest deadline that commits set since the last call; None if they set no
        timer. The scheduler's poke asks, so a commit that set no timer (a repeat alert, a
        delivery) or only later ones costs it no query."""
        earliest, self._group.timers_set = self._group.timers_set, None
        return from_seconds(earliest)

    async def watch(self, wake: Callable[[str], None]) -> None:
        """Returns at once: this process is the store's only writer, and its commits wake
        what they must themselves (a CLI command in another process is found by the polls)."""

    def _commit(self, units: list[Unit[Any]]) -> float | None:
        """Run the units in one transaction; the earliest deadline they set, if any."""
        connection = self._writer
        transaction = Transaction(connection, self._memory)
        try:
            connection.execute("BEGIN IMMEDIATE")
            for unit in units:
                connection.execute("SAVEPOINT unit")
                try:
                    result = unit.work(transaction)
                    transaction.flush()  # what the transaction held back, inside the unit
                    unit.result = result
                except Exception as error:  # the unit's own failure: undo only its writes
                    try:
                        connection.execute("ROLLBACK TO unit")
                    except sqlite3.Error:
                        # SQLite rolled the whole transaction back itself (it may on a full
                        # disk or an I/O error): every unit fails, with the cause.
                        raise error from None
                    transaction.forget()
                    unit.error = error
                connection.execute("RELEASE unit")
            transaction.finish()
            connection.execute("COMMIT")
            self.commits += 1
            return transaction.earliest_timer_set
        except BaseException as error:
            transaction.lost()
            # A full disk may refuse even the rollback, and a closed store (a unit that came
            # after `close`: a stopping service's last write) has no transaction to ask about;
            # the error that matters is the first.
            with contextlib.suppress(sqlite3.Error):
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
            for unit in units:
                unit.error = unit.error or error
            raise_later = not isinstance(error, sqlite3.Error)
            if raise_later:
                raise
            return None
        finally:
            for unit in units:
                unit.done = True


def _probe(transaction: interface.Transaction) -> None:
    """A real write (one row rewritten), as small as a write can be. (The store's units get
    its own Transaction, so it may use the connection.)"""
    cast(Transaction, transaction).connection.execute(
        "INSERT INTO counters (name, value) VALUES ('writable', 1) "
        "ON CONFLICT (name) DO UPDATE SET value = counters.value + 1")


def conforms(store: Store, reader: Reader, transaction: Transaction
             ) -> tuple[interface.Store, interface.Reader, interface.Transaction]:
    """The SQLite classes as the interface's Protocols: mypy checks each assignment, so a
    method that drifts from store/interface.py fails `make lint`."""
    return store, reader, transaction
