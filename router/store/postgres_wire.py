"""The PostgreSQL connection as the store's query modules see it (room: store; issue 18, D1).

The query modules are written once, in SQLite's dialect with `?` placeholders, against the
few members of a sqlite3 connection they use: `execute`, `executemany`, and cursors' `fetchone`,
`fetchall`, iteration and `rowcount`, rows read by name or by index. `Connection` gives a
psycopg 3 connection those members: it rewrites each distinct SQL text once (a cached dict)
and hands psycopg the result, and its rows behave like `sqlite3.Row`.

The rewrites, all of them (anything else must be portable SQL or ask `dialect`):
- `?` -> `%s`, `:name` -> `%(name)s`, a literal `%` -> `%%` (psycopg's placeholders);
- `ifnull(` -> `coalesce(` (the SQLite schema's index `alerts_repeat` is on `ifnull`, and an
  ON CONFLICT target must spell its index's expression);
- `json_array_length(more)` -> `json_array_length(more::json)` (JSON is kept as TEXT).
Python's booleans are sent as integers: booleans are integer columns on both backends.

Round trips. Each statement is a round trip to the server, the store's main cost on
PostgreSQL (docs/benchmarks.md). A statement whose result nobody reads (a unit's held-back
rows, BEGIN, SAVEPOINT, COMMIT) can be `defer`red: it is sent with the next statement, in
one round trip (psycopg's pipeline mode, statements prepared as ever), or by `sync`. Its
error, if any, is raised by that statement's call: the server skips what follows a failed
statement until the round trip ends, so a transaction is never committed past a failed
write. (Sent instead as one query of several statements with psycopg's client-side binding,
the router's CPU per new alert fell by a fifth but the server's rose by a quarter, its
statements no longer prepared: docs/benchmarks.md.)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import Any

import psycopg
from psycopg import errors
from psycopg.adapt import Dumper
from psycopg.rows import RowMaker

from router.store.dialect import POSTGRESQL, Dialect

_TOKENS = re.compile(r"'(?:[^']|'')*'|%|\?|(?<!:):([A-Za-z_]\w*)|\bifnull\(|"
                     r"\bjson_array_length\((\w+)\)", re.IGNORECASE)


@lru_cache(maxsize=4096)
def translate(sql: str) -> str:
    """`sql` in psycopg's placeholders and PostgreSQL's spelling (see the module)."""
    def token(match: re.Match[str]) -> str:
        text = match.group(0)
        if text.startswith("'"):  # a string literal: only its `%` change
            return text.replace("%", "%%")
        if text == "%":
            return "%%"
        if text == "?":
            return "%s"
        if match.group(1) is not None:
            return f"%({match.group(1)})s"
        if text.lower() == "ifnull(":
            return "coalesce("
        return f"json_array_length({match.group(2)}::json)"
    return _TOKENS.sub(token, sql)


class Row(tuple[Any, ...]):
    """A row by index and by column name, as sqlite3.Row (one subclass per column list,
    which holds the names: a row itself is a plain tuple)."""

    __slots__ = ()
    _index: dict[str, int] = {}  # noqa: RUF012 (set on each subclass)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


@lru_cache(maxsize=1024)
def _row_class(names: tuple[str, ...]) -> type[Row]:
    index: dict[str, int] = {}
    for position, name in enumerate(names):
        index.setdefault(name, position)  # the first of two same names, as sqlite3.Row
    return type("Row", (Row,), {"__slots__": (), "_index": index})


def row_factory(cursor: psycopg.Cursor[Any]) -> RowMaker[Row]:
    # The names from the result itself: `cursor.description` makes a Column object per
    # column, for every statement (about a tenth of the store's CPU on an incident's row).
    result = cursor.pgresult
    if result is None or not result.nfields:
        return lambda values: Row(values)
    return _row_class(tuple((result.fname(index) or b"").decode()
                            for index in range(result.nfields)))


class _BooleanAsInteger(Dumper):
    """True and False as the integers 1 and 0 (booleans are integer columns)."""

    oid = psycopg.adapters.types["int8"].oid

    def dump(self, obj: Any) -> bytes:
        return b"1" if obj else b"0"


def configure(connection: psycopg.Connection[Any]) -> None:
    """What every connection of the store's pool needs before its first use."""
    connection.adapters.register_dumper(bool, _BooleanAsInteger)


class Connection:
    """A psycopg connection with the members of sqlite3.Connection the query modules use, and
    the statements deferred to go with the next one (see the module)."""

    __slots__ = ("_deferred", "raw")
    dialect: Dialect = POSTGRESQL

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw
        self._deferred: list[tuple[str, list[Sequence[Any]] | None]] = []
        """Statements not sent yet, in order: with their rows of parameters (writes), or
        None (a statement without parameters that controls the transaction)."""

    def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = ()
                ) -> psycopg.Cursor[Row]:
        cursor = self.raw.cursor(row_factory=row_factory)
        # Parameters always (an empty tuple too): psycopg then reads `%%` as `%`.
        if self._deferred:
            self._send(lambda: cursor.execute(translate(sql), parameters))
        else:
            cursor.execute(translate(sql), parameters)
        return cursor

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> psycopg.Cursor[Row]:
        listed = rows if isinstance(rows, list) else list(rows)
        if len(listed) == 1:  # one row: no pipeline to set up and take down
            return self.execute(sql, listed[0])
        cursor = self.raw.cursor(row_factory=row_factory)
        if self._deferred:
            self._send(lambda: cursor.executemany(translate(sql), listed))
        else:
            cursor.executemany(translate(sql), listed)
        return cursor

    def script(self, sql: str) -> None:
        """Run several statements without parameters, as they are (migrations); what is
        deferred first (the transaction's control statements in the same text)."""
        if any(rows is not None for _, rows in self._deferred):
            self.sync()
        controls = "".join(f"{statement}; " for statement, _ in self._deferred)
        self._deferred.clear()
        self.raw.execute((controls + sql).encode())  # bytes: no placeholder parsing

    def defer(self, sql: str, rows: list[Sequence[Any]] | None = None) -> None:
        """Send `sql` (once for each row of `rows`; None: a statement without parameters,
        such as BEGIN or SAVEPOINT) with the next statement, whose call raises its error."""
        self._deferred.append((sql, rows))

    @property
    def writes_deferred(self) -> bool:
        """Whether a statement with parameters (a write) waits to be sent."""
        return any(rows is not None for _, rows in self._deferred)

    def sync(self) -> None:
        """Send what is deferred now, in one round trip (nothing: no round trip)."""
        if self._deferred:
            self._send(None)

    def discard(self, *, controls: bool = False) -> None:
        """Drop the deferred writes (their unit is rolled back); with `controls`, the
        deferred BEGIN, SAVEPOINT... too (the whole transaction is)."""
        self._deferred = [] if controls else [
            (sql, rows) for sql, rows in self._deferred if rows is None]

    def _send(self, last: Callable[[], object] | None) -> None:
        """The deferred statements, then `last` (whose cursor gets its results), in one
        pipeline: one round trip. Raises the first statement's error that failed (those
        after it were skipped), never psycopg's "pipeline aborted" for the ones skipped."""
        deferred, self._deferred = self._deferred, []
        failure: psycopg.Error | None = None
        try:
            with self.raw.pipeline():
                try:  # an error here must not escape the block: psycopg would log one more
                    for sql, rows in deferred:
                        if rows is None:
                            self.raw.cursor().execute(sql.encode(), prepare=False)
                        else:
                            self.raw.cursor().executemany(translate(sql), rows)
                    if last is not None:
                        last()
                except psycopg.Error as error:
                    failure = error
        except psycopg.Error as error:  # as the pipeline ended (its Sync): the results
            failure = failure or error
        if failure is not None:
            raise _cause(failure)


def _cause(error: psycopg.Error) -> psycopg.Error:
    """The statement's error behind a "pipeline aborted" raised while reading a failed
    pipeline's results (psycopg raises it from the first one's handling)."""
    while isinstance(error, errors.PipelineAborted) and isinstance(
            error.__context__, psycopg.Error):
        error = error.__context__
    return error


DatabaseError = psycopg.Error
"""What psycopg raises, for the store's modules that must not import it (store/transfer.py)."""


def first_line(error: BaseException) -> str:
    """The first line of `error`'s message, or its type's name if it has none: libpq's
    messages go on with hints and context lines that a log line or a CLI error does not
    want."""
    return next((line.strip() for line in str(error).splitlines() if line.strip()),
                type(error).__name__)


def connect(url: str, *, timeout: float = 10.0) -> Connection:
    """A connection of its own, outside any pool, in autocommit (its user says BEGIN and
    COMMIT): `router store migrate-to`'s one transaction (store/transfer.py)."""
    raw = psycopg.connect(url, autocommit=True, connect_timeout=max(1, round(timeout)))
    configure(raw)
    return Connection(raw)
