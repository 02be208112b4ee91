"""The store on PostgreSQL (room: store; imports config.model, alerts.model, errors; issue 18,
D3): store/interface.py's `Store` for several routers on one database.

It behaves as store/sqlite.py's: writes are group-committed (units queued while a commit runs
share the next transaction, each in its own SAVEPOINT, so a failing unit rolls back alone),
reads run on a connection of their own, and every database call runs in a worker thread
(`trio.to_thread.run_sync`), through psycopg 3's connection pool. The query modules are the
SQLite store's, through store/postgres_wire.py's connection. What differs:
- no memory between transactions (other nodes commit): `peek` and `peek_absent` answer None,
  and a unit reads the open incident and the silences from the database
  (store/postgres_writes.py); incident numbers come from a sequence, with gaps;
- two nodes opening an incident for the same new dedup key at the same instant: the second
  insert breaks the unique index `incidents_open_key` once the first commits; the store runs
  that unit again, once, from its savepoint, where (READ COMMITTED) it reads the first one's
  incident and attaches to it; a unit PostgreSQL picked to break a deadlock runs again too;
- a unit that lost a conflict with another transaction (a deadlock, a serialization failure,
  a statement cancelled) again after its one retry is `StoreBusy`: the unit failed, the
  store is not marked unavailable;
- a server that is down or a connection lost is `StoreUnavailable` (ingest answers 503), and
  the pool makes new connections by itself once the server is back (each is checked as it
  is taken, so a connection the restart broke is replaced, not used);
- once a call found the server unreachable, the store answers StoreUnavailable at once,
  reads and writes alike, rather than have each call wait `wait` seconds for a connection
  (Prometheus gives up on a receiver after 10 s): at most one call every PROBE_EVERY seconds
  tries to connect, and when it can, the store takes a new pool (the old one's reconnection
  attempts back off to half a minute apart), so the server's return is noticed within about
  PROBE_EVERY;
- `checkpoint` and `vacuum` do nothing: the server checkpoints, autovacuum reclaims;
- a commit whose units added notifications or set timers notifies the other nodes
  (NOTIFY), and `watch` listens for theirs (store/postgres_listen.py).
Isolation is PostgreSQL's default, READ COMMITTED; `synchronous_commit` is the server's.
"""

from __future__ import annotations

import contextlib
import secrets
import sqlite3
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol, TypeVar, cast

import psycopg
import trio
from psycopg import errors
from psycopg_pool import ConnectionPool, PoolTimeout

from router.errors import StoreBusy, StoreError, StoreUnavailable
from router.store import interface, migrations
from router.store.group_commit import GroupCommit, Unit
from router.store.health import FailureLog, quiet
from router.store.postgres_failures import SHUT_DOWN, place, unavailable
from router.store.postgres_listen import FIRST_PAUSE, Listener, Work
from router.store.postgres_wire import Connection, configure
from router.store.postgres_writes import Transaction
from router.store.records import Reader, from_seconds
from router.store.sqlite import PROBE_EVERY, _probe
from router.store.values import Peek

T = TypeVar("T")
UNITS_PER_COMMIT = 50
"""At most this many units share a transaction (the rest wait for the next): each unit that
writes is a subtransaction, and past 64 in one transaction PostgreSQL's snapshots overflow
its per-backend cache and every other session's reads slow down."""
DEADLOCK_PAUSE = 0.05
"""Seconds a unit PostgreSQL failed to break a deadlock waits before it runs again."""
RACE = "incidents_open_key"
"""The unique index a unit breaks when another node opened the same incident first."""
_MIGRATING = 0x726F75746572  # the advisory lock key of migrations ("router")


class Store:
    def __init__(self, pool: ConnectionPool[Any], readers: int, wait: float) -> None:
        self._pool = pool
        self._readers = readers
        self._wait = wait
        self._write_limiter = trio.CapacityLimiter(1)
        self._read_limiter = trio.CapacityLimiter(readers)
        self._group = GroupCommit(self._commit, self._write_limiter,
                                  per_commit=UNITS_PER_COMMIT, admit=self._admit)
        self._sender = secrets.token_hex(6)
        """This store's name in its NOTIFY payloads, so that it ignores its own."""
        self.commits = 0
        self.unavailable: StoreUnavailable | None = None
        """Why the last call failed for want of the server; None once one succeeds."""
        self._failures = FailureLog()
        self._probed_at = -float("inf")
        self._unreachable = False
        """Whether the last probe could not connect: the pool is replaced once one can."""
        conninfo = pool.conninfo
        self._place = place(conninfo if isinstance(conninfo, str) else conninfo())
        """HOST:PORT/DB, as StoreUnavailable's cause names the server (no password)."""

    @classmethod
    async def open(cls, url: str, *, readers: int = 2, wait: float = 5.0) -> Store:
        """Connect to the database at `url` (a libpq URL or connection string) and bring its
        schema to the newest version. `readers`: reads that may run at once; `wait`:
        seconds a call waits for a connection before it is StoreUnavailable."""
        pool = _new_pool(url, readers, wait)

        def connect() -> Store:
            try:
                pool.open(wait=True, timeout=wait)
            except PoolTimeout:
                _why_not(url, wait)  # the server's reason, when one attempt shows it
                raise
            with pool.connection() as raw:
                migrate(Connection(raw))
            return cls(pool, readers, wait)
        try:
            return await trio.to_thread.run_sync(connect)
        except BaseException as error:
            with trio.CancelScope(shield=True):  # its threads stop even when cancelled
                await trio.to_thread.run_sync(pool.close)
            failure = unavailable(error)
            if failure is not None:
                raise failure from error
            if isinstance(error, psycopg.Error):
                raise StoreError(str(error)) from error
            raise

    async def close(self) -> None:
        async with self._write_limiter:
            await trio.to_thread.run_sync(self._pool.close)

    async def read(self, query: Callable[[interface.Reader], T]) -> T:
        """Run `query` on a connection of its own (each statement sees what was committed
        when it began, as on SQLite's reader outside a transaction)."""
        def run() -> T:
            with self._pool.connection() as raw:
                return query(Reader(cast(sqlite3.Connection, Connection(raw))))
        refused = await self._admit()
        if refused is not None:
            self._failures.failed(refused, "read")
            raise refused
        try:
            result = await trio.to_thread.run_sync(run, limiter=self._read_limiter)
        except (psycopg.Error, StoreUnavailable) as error:
            failure = self._no_connection(error)
            if failure is None:
                raise StoreError(str(error)) from error
            if isinstance(failure, StoreBusy):  # the server is well: nothing to mark
                raise failure from error
            self.unavailable = failure
            self._failures.failed(failure, "read")
            raise failure from error
        self._reached()
        return result

    async def write(self, work: Callable[[interface.Transaction], T]) -> T:
        """As sqlite.Store.write: returns once the transaction committed; what `work` raised
        (its writes undone, others' kept), StoreError for a rule of the data it broke,
        StoreUnavailable when the server is down or the connection was lost."""
        unit = await self._group.run(work)
        if unit.error is not None:
            failure = self._no_connection(unit.error)
            if failure is None and isinstance(unit.error, psycopg.Error):
                raise StoreError(str(unit.error)) from unit.error
            if failure is None:
                raise unit.error
            if isinstance(failure, StoreBusy):  # the server is well: nothing to mark
                raise failure from unit.error
            self.unavailable = failure
            self._failures.failed(failure, "write")
            raise failure from unit.error
        self._reached()
        return unit.result  # type: ignore[no-any-return]

    async def check_writable(self) -> StoreUnavailable | None:
        """As sqlite.Store.check_writable: a test write while calls fail, which `_admit`
        lets through at most every PROBE_EVERY seconds (the others are refused at once)."""
        if self.unavailable is None:
            return None
        with contextlib.suppress(StoreUnavailable):
            await self.write(_probe)
        return self.unavailable

    async def checkpoint(self) -> bool:
        """Nothing to do: the server checkpoints its WAL itself."""
        return True

    async def vacuum(self) -> None:
        """Nothing to do: autovacuum makes dead rows' space reusable by itself."""

    def peek(self, dedup_key: str, now: datetime) -> Peek | None:
        """None: the store holds nothing in memory (other nodes commit)."""
        return None

    def peek_absent(self, dedup_key: str, now: datetime) -> Peek | None:
        """None: the store holds nothing in memory (other nodes commit)."""
        return None

    def take_timers_set(self) -> datetime | None:
        """The earliest deadline that this node's commits set since the last call."""
        earliest, self._group.timers_set = self._group.timers_set, None
        return from_seconds(earliest)

    async def watch(self, wake: Callable[[str], None], *,
                    first_pause: float = FIRST_PAUSE) -> None:
        """Until cancelled, listen for other stores' commits (other nodes, a CLI command):
        wake(OUTBOX) when they added notifications, wake(TIMERS) when they set a timer,
        which `take_timers_set` then answers too (store/postgres_listen.py). After every
        (re)connect both, once: what was committed while nobody listened is not kept.
        `first_pause`: seconds before the first attempt to listen again."""
        def heard(work: Work) -> None:
            if work.sender == self._sender:
                return  # this store's own commit: its caller woke what it had to
            if work.earliest is not None:
                self._group.note_timer(work.earliest)
                wake(interface.TIMERS)
            if work.outbox:
                wake(interface.OUTBOX)
        conninfo = self._pool.conninfo
        await Listener(conninfo if isinstance(conninfo, str) else conninfo(), heard,
                       first_pause=first_pause).run()

    def _no_connection(self, error: BaseException) -> StoreUnavailable | None:
        """As `unavailable`, the cause of a psycopg error that means no connection named
        after the server: "no connection to PostgreSQL at HOST:PORT/DB (Connection
        refused)", where the pool says only "couldn't get a connection after 5.00 sec"."""
        failure = unavailable(error)
        if failure is None or failure is error or isinstance(failure, StoreBusy):
            return failure
        state = getattr(error, "sqlstate", None) or ""
        if state and not state.startswith("08") and state not in SHUT_DOWN:
            return failure  # the server answered (a full disk on it): its words as they are
        reason = failure.cause.rpartition("failed: ")[2] or failure.cause
        if isinstance(error, PoolTimeout):  # the pool's attempts are not told: how long
            reason = f"none within {self._wait:g} s"
        return StoreUnavailable(f"no connection to PostgreSQL at {self._place} ({reason})")

    def _reached(self) -> None:
        """A call succeeded: the server answers again."""
        if self.unavailable is not None:
            self.unavailable = None
            self._failures.recovered()

    async def _admit(self) -> StoreUnavailable | None:
        """None when a call may go to the server; else the StoreUnavailable to answer at
        once. While the store knows the server unreachable, one call every PROBE_EVERY
        seconds (the probe) connects first, outside the pool; when it can, the pool is
        replaced (`_reach`) and the call goes on."""
        if self.unavailable is None:
            return None
        now = trio.current_time()
        if now - self._probed_at < PROBE_EVERY:
            return StoreUnavailable(self.unavailable.cause)
        self._probed_at = now
        try:
            await trio.to_thread.run_sync(self._reach)
        except psycopg.Error as error:
            self._unreachable = True
            self.unavailable = self._no_connection(error) or StoreUnavailable(str(error))
            return StoreUnavailable(self.unavailable.cause)
        return None

    def _reach(self) -> None:
        """Connect once, outside the pool (in a worker thread); after a probe that could
        not, take a new pool, whose first connection is made at once: the old pool's
        attempts, which fail while the server is down, back off ever longer."""
        conninfo = self._pool.conninfo
        url = conninfo if isinstance(conninfo, str) else conninfo()
        psycopg.connect(url, connect_timeout=max(1, round(self._wait))).close()
        if not self._unreachable:
            return
        self._unreachable = False
        old, self._pool = self._pool, _new_pool(url, self._readers, self._wait)
        self._pool.open(wait=False)
        old.close(timeout=self._wait)

    def _commit(self, units: list[Unit[Any]]) -> float | None:
        """Run the units in one transaction; the earliest deadline they set, if any."""
        try:
            with self._pool.connection() as raw:
                return self._run(Connection(raw), units)
        except BaseException as error:  # no connection, or the transaction failed: every unit
            for unit in units:
                unit.error = unit.error or error
            if not isinstance(error, psycopg.Error):
                raise
            return None
        finally:
            for unit in units:
                unit.done = True

    def _run(self, connection: Connection, units: list[Unit[Any]]) -> float | None:
        transaction = Transaction(connection)
        try:
            # Round trips: BEGIN and the first savepoint go with the first unit's first
            # statement; a unit's held-back rows with its savepoint's release and the next
            # one's (or with the COMMIT, for the last unit: `_run_unit`).
            connection.defer("BEGIN")
            connection.defer("SAVEPOINT unit")
            committed = False
            for index, unit in enumerate(units):
                last = index == len(units) - 1
                committed = _run_unit(connection, transaction, unit,
                                      self._sender if last else None)
            if not committed:  # the last unit failed: the COMMIT of the others alone
                transaction.finish()
                _defer_commit(connection, transaction.announced.statement(self._sender))
                connection.sync()
            self.commits += 1
            return transaction.earliest_timer_set
        except BaseException:
            transaction.lost()
            connection.discard(controls=True)
            if not connection.raw.closed:
                with contextlib.suppress(psycopg.Error):
                    connection.script("ROLLBACK")
            raise


def _new_pool(url: str, readers: int, wait: float) -> ConnectionPool[Any]:
    """A pool, not yet open, of at most `readers` + 2 connections (the writer's, the
    listener's spare); a call waits `wait` seconds for one before it is StoreUnavailable.
    The pool's own warnings (one per failed attempt) are throttled as the store's lines."""
    quiet("psycopg.pool")
    return ConnectionPool(
        url, min_size=1, max_size=readers + 2, open=False, timeout=wait,
        kwargs={"autocommit": True}, configure=configure,
        check=ConnectionPool.check_connection, name="router-store")


def _run_unit(connection: Connection, transaction: Transaction, unit: Unit[Any],
              sender: str | None) -> bool:
    """Run one unit in the savepoint set for it, once more if it lost a race to another
    node (`_lost_race`; a rollback to a savepoint keeps it). Its held-back rows are sent
    at its end with, for the last unit (`sender`: the store's name in the NOTIFY), the
    COMMIT, else the savepoint's release and the next unit's (which wait for the next
    statement when the unit left nothing to send). True if the COMMIT went; when a unit's
    rows fail, the server skips what follows them, the COMMIT too."""
    for attempt in (1, 2):
        try:
            unit.result = unit.work(transaction)
            transaction.flush()
            if sender is None:
                connection.defer("RELEASE SAVEPOINT unit")
                connection.defer("SAVEPOINT unit")
                if connection.writes_deferred:
                    connection.sync()
            else:
                transaction.finish()
                _defer_commit(connection, transaction.announced.statement(sender, unit=True))
                connection.sync()
            transaction.announced.kept()
            unit.error = None
            return sender is not None
        except Exception as error:  # the unit's own failure: undo only its writes
            transaction.forget()  # its deferred rows too: they are not sent
            try:
                connection.script("ROLLBACK TO SAVEPOINT unit")
            except psycopg.Error:
                raise error from None
            unit.error = error
            if attempt == 2 or not _lost_race(error):
                return False
            if isinstance(error, errors.DeadlockDetected):
                # The other transaction waits for the locks this unit just gave up: let it
                # take them before this unit asks again, or the two may cross again.
                time.sleep(DEADLOCK_PAUSE)
    return False


def _defer_commit(connection: Connection, notify: str) -> None:
    """The COMMIT, after the NOTIFY of what the kept units did, if any (PostgreSQL delivers
    it only if the transaction commits)."""
    if notify:
        connection.defer(notify.removesuffix("; "))
    connection.defer("COMMIT")


def _lost_race(error: BaseException) -> bool:
    """Whether another node's transaction made the unit fail, so that running it again may
    succeed: it opened the same incident first, or PostgreSQL chose this unit to break a
    deadlock between the two (rolling back to the savepoint gave up the unit's locks)."""
    return isinstance(error, errors.DeadlockDetected) or (
        isinstance(error, errors.UniqueViolation) and error.diag.constraint_name == RACE)


def _why_not(url: str, wait: float) -> None:
    """One direct connection after the pool gave up opening: its error (refused, a password
    that failed, no such database) says why, where the pool's timeout says only that it
    waited; that error propagates. Returns if the server answers now after all."""
    with psycopg.connect(url, connect_timeout=max(2, round(wait))):
        pass


class _Scripted(Protocol):
    def execute(self, sql: str, parameters: tuple[object, ...] = ...) -> Any: ...
    def script(self, sql: str) -> None: ...


def migrate(connection: _Scripted) -> int:
    """Bring the database to the newest version (store/migrations.py's list) in one
    transaction (PostgreSQL's DDL is transactional), under an advisory lock: nodes starting
    together migrate once. The version is the `schema_version` table's.

    Raises:
        StoreError: the database was written by a newer router than this one.
    """
    connection.script("BEGIN")
    try:
        connection.script(f"SELECT pg_advisory_xact_lock({_MIGRATING})")
        # Only when missing: even IF NOT EXISTS asks for CREATE on the schema, which the
        # nodes' least-privileged role lacks (docs/ha.md, "The database role").
        if connection.execute("SELECT to_regclass('schema_version')").fetchone()[0] is None:
            connection.script("CREATE TABLE schema_version (version BIGINT NOT NULL)")
        version = int(connection.execute(
            "SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0])
        newest = migrations.MIGRATIONS
        migrations.check_version(version)
        for entry in newest[version:]:
            connection.script(migrations.postgresql_of(entry))
        if version < len(newest):
            connection.execute("DELETE FROM schema_version")
            connection.execute("INSERT INTO schema_version VALUES (?)", (len(newest),))
        connection.script("COMMIT")
    except BaseException:
        with contextlib.suppress(psycopg.Error):
            connection.script("ROLLBACK")
        raise
    return len(newest)


def conforms(store: Store, reader: Reader, transaction: Transaction
             ) -> tuple[interface.Store, interface.Reader, interface.Transaction]:
    """The PostgreSQL classes as the interface's Protocols: mypy checks each assignment."""
    return store, reader, transaction
