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
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

import psycopg
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
    description = cursor.description
    if description is None:
        return lambda values: Row(values)
    kind = _row_class(tuple(column.name for column in description))
    return kind


class _BooleanAsInteger(Dumper):
    """True and False as the integers 1 and 0 (booleans are integer columns)."""

    oid = psycopg.adapters.types["int8"].oid

    def dump(self, obj: Any) -> bytes:
        return b"1" if obj else b"0"


def configure(connection: psycopg.Connection[Any]) -> None:
    """What every connection of the store's pool needs before its first use."""
    connection.adapters.register_dumper(bool, _BooleanAsInteger)


class Connection:
    """A psycopg connection with the members of sqlite3.Connection the query modules use."""

    __slots__ = ("raw",)
    dialect: Dialect = POSTGRESQL

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw

    def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = ()
                ) -> psycopg.Cursor[Row]:
        cursor = self.raw.cursor(row_factory=row_factory)
        # Parameters always (an empty tuple too): psycopg then reads `%%` as `%`.
        cursor.execute(translate(sql), parameters)
        return cursor

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> psycopg.Cursor[Row]:
        listed = rows if isinstance(rows, list) else list(rows)
        if len(listed) == 1:  # one row: no pipeline to set up and take down
            return self.execute(sql, listed[0])
        cursor = self.raw.cursor(row_factory=row_factory)
        cursor.executemany(translate(sql), listed)
        return cursor

    def script(self, sql: str) -> None:
        """Run several statements without parameters, as they are (migrations)."""
        self.raw.execute(sql.encode())  # bytes: no placeholder parsing



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
