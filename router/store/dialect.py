"""Where the store's SQL differs between SQLite and PostgreSQL (room: store; issue 18, D1).

The query modules are one copy for both backends: they write SQLite-flavoured SQL with `?`
placeholders, portable wherever it can be (`ON CONFLICT`, `coalesce`, `RETURNING`, CASE
instead of the two-argument `min`), and the PostgreSQL connection (store/postgres_wire.py)
rewrites the few words that only differ in spelling. What differs in more than spelling asks
the connection's `dialect` here. Every connection the modules get has one: the SQLite
store's (store/sqlite.py) says "sqlite", the PostgreSQL adapter "postgresql"; a bare
sqlite3 connection (tests' set-up) counts as SQLite.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from typing import Any, Literal

Dialect = Literal["sqlite", "postgresql"]
SQLITE: Dialect = "sqlite"
POSTGRESQL: Dialect = "postgresql"


def dialect(connection: object) -> Dialect:
    """The SQL dialect `connection` speaks."""
    spoken = getattr(connection, "dialect", SQLITE)
    return POSTGRESQL if spoken == POSTGRESQL else SQLITE


def send(connection: Any, sql: str, parameters: Sequence[Any]) -> None:
    """Run a write whose result (rows, rowcount) nobody reads. On PostgreSQL it is deferred
    to go with the next statement, in one round trip (store/postgres_wire.py: its error is
    raised there, or at the end of the unit); SQLite runs it at once (a function call)."""
    if dialect(connection) == POSTGRESQL:
        connection.defer(sql, [parameters])
    else:
        connection.execute(sql, parameters)


def member_of(connection: object, column: str, values: Collection[object], *,
              negate: bool = False) -> tuple[str, object]:
    """A condition `column` [NOT] IN `values` with one parameter, and that parameter,
    whatever the number of values: SQLite reads a JSON list (`json_each`), PostgreSQL an
    array (`= ANY`)."""
    if dialect(connection) == POSTGRESQL:
        return (f"{column} <> ALL(?)" if negate else f"{column} = ANY(?)"), list(values)
    condition = f"{column} {'NOT IN' if negate else 'IN'} (SELECT value FROM json_each(?))"
    return condition, json.dumps(list(values))


def upsert(table: str, columns: Sequence[str], key: Sequence[str]) -> str:
    """INSERT of a whole row that replaces the row with the same `key` (what SQLite's
    `INSERT OR REPLACE` did, in SQL both backends run; the row keeps its place)."""
    updates = ", ".join(f"{column} = excluded.{column}" for column in columns
                        if column not in key)
    return (f"INSERT INTO {table} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)}) "
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}")
