"""Run-time rota overrides as the store keeps them (room: store; imports config.model).

`router override add` and `POST /v1/rotas/{id}/overrides` write a row; removing one sets
`removed_at` and keeps the row, so the history of who covered when survives. An override
applies from `start` until `end`, or until it was removed if that came first: one removed
before it began never applied. Functions here take the connection of a Reader or
Transaction, so they run inside the store's threads and its group commit like every other
query. Times are Unix seconds (REAL), as everywhere in the store.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import datetime

from router.config.model import Override
from router.store.dialect import POSTGRESQL, dialect
from router.store.rows import from_seconds, to_seconds
from router.store.values import RUN_TIME_ORDER as RUN_TIME_ORDER
from router.store.values import RotaOverride as RotaOverride

_COLUMNS = ("id, rota, person, replaces, starts_at, ends_at, reason, created_by, created_at, "
            "removed_at")
# When an override stops applying: at its end, or when it was removed if that came first.
# (A CASE, not SQLite's two-argument min: the same SQL on PostgreSQL.)
_UNTIL = ("CASE WHEN removed_at IS NOT NULL AND removed_at < ends_at THEN removed_at "
          "ELSE ends_at END")


def _override(row: sqlite3.Row) -> RotaOverride:
    start, end, created_at = (from_seconds(row[name])
                              for name in ("starts_at", "ends_at", "created_at"))
    assert start is not None and end is not None and created_at is not None
    return RotaOverride(
        id=row["id"], rota=row["rota"], person=row["person"], replaces=row["replaces"],
        start=start, end=end, reason=row["reason"], created_by=row["created_by"],
        created_at=created_at, removed_at=from_seconds(row["removed_at"]))


def insert(connection: sqlite3.Connection, override: RotaOverride) -> None:
    connection.execute(
        f"INSERT INTO overrides ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (override.id, override.rota, override.person, override.replaces,
         override.start.timestamp(), override.end.timestamp(), override.reason,
         override.created_by, override.created_at.timestamp(),
         to_seconds(override.removed_at)))


def exists(connection: sqlite3.Connection, override_id: str) -> bool:
    return connection.execute("SELECT 1 FROM overrides WHERE id = ?",
                              (override_id,)).fetchone() is not None


def get(connection: sqlite3.Connection, override_id: str) -> RotaOverride | None:
    row = connection.execute(f"SELECT {_COLUMNS} FROM overrides WHERE id = ?",
                             (override_id,)).fetchone()
    return _override(row) if row else None


def remove(connection: sqlite3.Connection, override_id: str, now: datetime
           ) -> RotaOverride | None:
    """Remove an override in force or still to come, as of `now`; None when there is no
    such override (unknown, already removed, or over)."""
    cursor = connection.execute(
        "UPDATE overrides SET removed_at = ? WHERE id = ? AND removed_at IS NULL "
        "AND ends_at > ?", (now.timestamp(), override_id, now.timestamp()))
    return get(connection, override_id) if cursor.rowcount else None


def listed(connection: sqlite3.Connection, *, rota: str | None = None,
           now: datetime | None = None) -> list[RotaOverride]:
    """Overrides by start, then creation: only those in force or to come at `now` (neither
    removed nor over), or every one ever made when `now` is None."""
    where, values = _where(rota, now)
    return [_override(row) for row in connection.execute(
        f"SELECT {_COLUMNS} FROM overrides{where} ORDER BY starts_at, created_at, rowid",
        values)]


def latest(connection: sqlite3.Connection, *, rota: str | None = None,
           now: datetime | None = None, last: int) -> tuple[list[RotaOverride], int]:
    """The `last` overrides `listed` would end with, in its order, and how many it would
    list: the web page's read stays bounded however long the history (issue 22)."""
    where, values = _where(rota, now)
    rows = connection.execute(
        f"SELECT {_COLUMNS} FROM overrides{where} "
        "ORDER BY starts_at DESC, created_at DESC, rowid DESC LIMIT ?",
        (*values, last)).fetchall()
    total = len(rows)
    if total == last:
        total = int(connection.execute(f"SELECT count(*) FROM overrides{where}",
                                       values).fetchone()[0])
    return [_override(row) for row in reversed(rows)], total


def _where(rota: str | None, now: datetime | None) -> tuple[str, list[str | float]]:
    conditions: list[str] = []
    values: list[str | float] = []
    if rota is not None:
        conditions.append("rota = ?")
        values.append(rota)
    if now is not None:
        conditions.append("removed_at IS NULL AND ends_at > ?")
        values.append(now.timestamp())
    return (f" WHERE {' AND '.join(conditions)}" if conditions else ""), values


def applying_since(connection: sqlite3.Connection, since: datetime) -> list[RotaOverride]:
    """Every override that applies at some instant at or after `since`, oldest created
    first: the order in which `core.oncall` must rank them."""
    return [_override(row) for row in connection.execute(
        f"SELECT {_COLUMNS} FROM overrides WHERE {_UNTIL} > ? AND {_UNTIL} > starts_at "
        "ORDER BY created_at, rowid", (since.timestamp(),))]


def by_rota(overrides: Iterable[RotaOverride]) -> dict[str, tuple[Override, ...]]:
    """Overrides (oldest created first) as `core.oncall`'s `extra_overrides`, per rota id."""
    found: dict[str, list[Override]] = {}
    for override in overrides:
        found.setdefault(override.rota, []).append(override.as_override())
    return {rota: tuple(items) for rota, items in found.items()}


def data_version(connection: sqlite3.Connection) -> int:
    """SQLite's counter of commits made by OTHER connections (another process's `router
    override add`): unchanged, the overrides read before are still current, unless this
    connection wrote them itself. On PostgreSQL, a counter that every transaction writing
    overrides or silences moves (a trigger: any node's, this one's too)."""
    if dialect(connection) == POSTGRESQL:
        return int(connection.execute(
            "SELECT value FROM counters WHERE name = 'data_version'").fetchone()[0])
    return int(connection.execute("PRAGMA data_version").fetchone()[0])


class OverridesReader:
    """Run-time overrides as a Reader sees them (`reader.overrides`)."""

    __slots__ = ("_connection",)

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def exists(self, override_id: str) -> bool:
        return exists(self._connection, override_id)

    def get(self, override_id: str) -> RotaOverride | None:
        return get(self._connection, override_id)

    def listed(self, *, rota: str | None = None,
               now: datetime | None = None) -> list[RotaOverride]:
        return listed(self._connection, rota=rota, now=now)

    def latest(self, *, rota: str | None = None, now: datetime | None = None,
               last: int) -> tuple[list[RotaOverride], int]:
        return latest(self._connection, rota=rota, now=now, last=last)

    def applying_since(self, since: datetime) -> list[RotaOverride]:
        return applying_since(self._connection, since)

    def data_version(self) -> int:
        return data_version(self._connection)


class OverridesWriter(OverridesReader):
    """`OverridesReader` and the writes (`transaction.overrides`)."""

    __slots__ = ()

    def insert(self, override: RotaOverride) -> None:
        insert(self._connection, override)

    def remove(self, override_id: str, now: datetime) -> RotaOverride | None:
        return remove(self._connection, override_id, now)
