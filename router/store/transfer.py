"""A SQLite state directory's store copied into an empty PostgreSQL database: `router store
migrate-to`, the way from one host to several (room: store; imports errors; issue 18 item 1).

What is copied is found from the schema, never from a list kept by hand: every table of
SQLite's `sqlite_master` (a table a new migration adds is copied without a change here),
every column SQLite has, in rowid order; where PostgreSQL numbers rows itself (an `id`
identity column, or a `rowid` column standing for SQLite's implicit one, store/migrations.py)
the row keeps SQLite's number, and the identity's sequence is set past the highest. The
incident number sequence is set past the highest number the store ever gave (the counter:
retention may have pruned the newest incidents), so the next incident gets the next number.

All rows go in ONE PostgreSQL transaction, in batches, and are verified in it before the
commit: row counts per table equal, and every incident read back through the store's
`Reader` (`incident(n)`, `detail(n)`) equal to SQLite's. A failure anywhere, a verification
that does not hold, or the connection lost, rolls it all back: the database keeps no row
(only the empty schema, migrated in a transaction of its own first, so a second try finds it
as empty as the first did).

The source is read in one read transaction, so the copy is one consistent state even if a
daemon writes meanwhile; read-only (`mode=ro`), and with `immutable=1` when the store has no
`-wal` file (no daemon has it open: nothing is created beside it, as `router export`). The
command refuses while a daemon runs (cli/migrate_to.py): what it accepted after the copy
would never reach PostgreSQL.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from router.errors import StoreError
from router.store import migrations, postgres, postgres_wire, secrets
from router.store.dialect import upsert
from router.store.records import Reader

BATCH = 1000
"""Rows read from SQLite and sent to PostgreSQL at a time."""
SEEDED = ("counters",)
"""The tables the migrations themselves fill (`counters`' rows): an empty database holds rows
in these only. SQLite's rows replace the database's of the same key; its others stay."""
_OWN = ("schema_version",)
"""PostgreSQL's tables that are not SQLite's (the schema's version)."""


class Refused(StoreError):
    """The database is not an empty one to copy into; nothing was written."""


@dataclass(frozen=True, slots=True)
class Copied:
    """What `copy_store` copied: the rows of each table (SQLite's order), the incidents it
    read back equal, and the number the next incident will get."""

    rows: dict[str, int] = field(default_factory=dict)
    incidents_verified: int = 0
    next_incident: int = 1
    adopted: list[str] = field(default_factory=list)
    """The state directory's key files copied into the database (store/secrets.py)."""


def copy_store(source: Path, url: str, *, batch: int = BATCH) -> Copied:
    """Copy the SQLite store at `source` into the empty PostgreSQL database at `url`.

    Raises:
        Refused: the database holds rows, another version's schema or tables not router's.
        StoreError: the source is no store of this version, the database cannot be reached,
            a row does not go in, or the verification fails (nothing was written).
    """
    with _source(source) as sqlite, _target(url) as target:
        _check_target(target)
        postgres.migrate(target)
        return _copy(sqlite, target, batch, source.parent)


@contextlib.contextmanager
def _source(path: Path) -> Iterator[sqlite3.Connection]:
    """The store at `path`, read-only, inside one read transaction."""
    if not path.is_file():
        raise StoreError(f"no store {path}")
    stopped = "&immutable=1" if not path.with_name(f"{path.name}-wal").exists() else ""
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro{stopped}", uri=True,
                                     isolation_level=None, timeout=30)
    except sqlite3.Error as error:
        raise StoreError(f"cannot open {path}: {error}") from error
    connection.row_factory = sqlite3.Row
    try:
        version = int(connection.execute("PRAGMA user_version").fetchone()[0])
        if version != len(migrations.MIGRATIONS):
            raise StoreError(
                f"{path} is at schema version {version}, this router's is "
                f"{len(migrations.MIGRATIONS)}: open it once with this router first "
                "(`router store stats` does), then copy it")
        connection.execute("BEGIN")
        yield connection
    except sqlite3.Error as error:
        raise StoreError(f"cannot read {path}: {error}") from error
    finally:
        connection.close()


@contextlib.contextmanager
def _target(url: str) -> Iterator[postgres_wire.Connection]:
    try:
        connection = postgres_wire.connect(url)
    except postgres_wire.DatabaseError as error:
        raise StoreError(f"cannot connect: {postgres_wire.first_line(error)}") from None
    try:
        yield connection
    except postgres_wire.DatabaseError as error:  # its transaction was rolled back
        raise StoreError(f"{postgres_wire.first_line(error)} (nothing was written)") from None
    finally:
        connection.raw.close()



def _check_target(target: postgres_wire.Connection) -> None:
    """Refused unless the database is empty or holds only an empty schema of this version."""
    tables = _target_tables(target)
    if "schema_version" not in tables:
        if tables:
            raise Refused(f"the database holds {len(tables)} tables that are not router's "
                          f"({', '.join(sorted(tables)[:5])}): copy into an empty database")
        return
    version = int(_one(target, "SELECT coalesce(max(version), 0) FROM schema_version"))
    if version != len(migrations.MIGRATIONS):
        raise Refused(f"the database holds router's schema at version {version}, this "
                      f"router's is {len(migrations.MIGRATIONS)}: copy into an empty "
                      "database")


def _copy(sqlite: sqlite3.Connection, target: postgres_wire.Connection,
          batch: int, state_dir: Path) -> Copied:
    tables = source_tables(sqlite)
    missing = sorted(set(tables) - _target_tables(target))
    if missing:
        raise StoreError(f"the database's schema has no table {missing[0]}")
    target.execute("BEGIN")
    try:
        quoted = ", ".join(_quote(table) for table in tables)
        target.execute(f"LOCK TABLE {quoted} IN EXCLUSIVE MODE")  # routers started meanwhile wait
        _check_empty(target, tables)
        rows = {table: _copy_table(sqlite, target, table, batch) for table in tables}
        _set_identities(target)
        next_incident = _set_incident_numbers(sqlite, target)
        verified = _verify(sqlite, target, rows)
        adopted = secrets.adopt_files(cast(sqlite3.Connection, target), state_dir)
        target.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(postgres_wire.DatabaseError):
            target.execute("ROLLBACK")
        raise
    return Copied(rows, verified, next_incident, adopted)


def source_tables(sqlite: sqlite3.Connection) -> list[str]:
    """Every table of the SQLite store's schema (SQLite's own `sqlite_*` aside), by name."""
    return [row[0] for row in sqlite.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' "
        "ESCAPE '\\' ORDER BY name")]


def _target_tables(target: postgres_wire.Connection) -> set[str]:
    return {row[0] for row in target.execute(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'")}


def _check_empty(target: postgres_wire.Connection, tables: Sequence[str]) -> None:
    """Refused if a table holds a row, those the migrations write aside."""
    for table in tables:
        if table in SEEDED:
            continue
        count = _count(target, table)
        if count:
            raise Refused(f"the database is not empty: its {table} table holds {count:,} "
                          f"row{'s' if count != 1 else ''} (a router has used it, or a copy "
                          "was made before): copy into an empty database")


def _copy_table(sqlite: sqlite3.Connection, target: postgres_wire.Connection, table: str,
                batch: int) -> int:
    """Copy `table` in rowid order, `batch` rows at a time; the rows copied."""
    columns = [row["name"] for row in sqlite.execute(f"PRAGMA table_info({_quote(table)})")]
    target_columns = {row[0] for row in target.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = ?", (table,))}
    if not set(columns) <= target_columns:
        raise StoreError(f"the database's {table} table has no column "
                         f"{sorted(set(columns) - target_columns)[0]}")
    # SQLite's implicit row number, where PostgreSQL has a column standing for it
    carried = ["rowid"] if "rowid" in target_columns and "rowid" not in columns else []
    names = carried + columns
    insert = (upsert(table, names, _key(sqlite, table)) if table in SEEDED else
              f"INSERT INTO {_quote(table)} ({', '.join(map(_quote, names))}) "
              f"VALUES ({', '.join('?' for _ in names)})")
    select = (f"SELECT rowid, {', '.join(map(_quote, columns))} FROM {_quote(table)} "
              "WHERE rowid > ? ORDER BY rowid LIMIT ?")
    copied, last = 0, -(2 ** 63)
    while rows := sqlite.execute(select, (last, batch)).fetchall():
        last = rows[-1][0]
        target.executemany(insert, [tuple(row)[0 if carried else 1:] for row in rows])
        copied += len(rows)
    return copied


def _key(sqlite: sqlite3.Connection, table: str) -> list[str]:
    key = [row["name"] for row in sorted(
        sqlite.execute(f"PRAGMA table_info({_quote(table)})"), key=lambda row: row["pk"])
        if row["pk"]]
    if not key:
        raise StoreError(f"the table {table} has no primary key to merge its rows on")
    return key


def _set_identities(target: postgres_wire.Connection) -> None:
    """Every identity column's sequence past the highest number copied into it."""
    for table, column in target.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND is_identity = 'YES'").fetchall():
        target.execute(
            f"SELECT setval(pg_get_serial_sequence(?, ?), coalesce(max({_quote(column)}), 0) "
            f"+ 1, false) FROM {_quote(table)}", (_quote(table), column))


def _set_incident_numbers(sqlite: sqlite3.Connection, target: postgres_wire.Connection
                          ) -> int:
    """The incident number sequence past the highest number SQLite gave; the next one."""
    given = sqlite.execute(
        "SELECT max(coalesce((SELECT max(number) FROM incidents), 0), "
        "coalesce((SELECT value FROM counters WHERE name = 'incident'), 0))").fetchone()[0]
    target.execute("SELECT setval('incident_numbers', ?, false)", (int(given) + 1,))
    return int(given) + 1


def _verify(sqlite: sqlite3.Connection, target: postgres_wire.Connection,
            copied: dict[str, int]) -> int:
    """StoreError unless every table holds as many rows as SQLite's and every incident
    reads back equal; the incidents read back."""
    for table, count in copied.items():
        expected = _count(sqlite, table)
        if table in SEEDED:  # plus the database's own rows of keys SQLite has not
            expected = _merged_count(sqlite, target, table)
        found = _count(target, table)
        if found != expected or count != _count(sqlite, table):
            raise StoreError(f"verification failed: {table} holds {found:,} rows in "
                             f"PostgreSQL, {expected:,} expected; nothing was written")
    source, copy = Reader(sqlite), Reader(cast(sqlite3.Connection, target))
    verified = 0
    for (number,) in sqlite.execute("SELECT number FROM incidents ORDER BY number").fetchall():
        if (copy.incident(number) != source.incident(number)
                or copy.detail(number) != source.detail(number)):
            raise StoreError(f"verification failed: incident {number} reads back different "
                             "from PostgreSQL; nothing was written")
        verified += 1
    return verified


def _merged_count(sqlite: sqlite3.Connection, target: postgres_wire.Connection,
                  table: str) -> int:
    key = ", ".join(map(_quote, _key(sqlite, table)))
    select = f"SELECT {key} FROM {_quote(table)}"
    return len({tuple(row) for row in sqlite.execute(select)}
               | {tuple(row) for row in target.execute(select)})


def _count(connection: Any, table: str) -> int:
    return int(_one(connection, f"SELECT count(*) FROM {_quote(table)}"))


def _one(connection: Any, sql: str) -> Any:
    """The one value `sql` selects."""
    return connection.execute(sql).fetchone()[0]


def _quote(name: str) -> str:
    """An identifier as both dialects read it (router's names are lower case)."""
    return '"' + name.replace('"', '""') + '"'
