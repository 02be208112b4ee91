"""Heartbeats as the store keeps them (room: store): one row per heartbeat with its state and
last ping; its deadline is its timer (`heartbeat:<id>` on incident number 0 in the timers
table), which the scheduler fires like any other, so a restart keeps it. Functions take the
connection of a Reader or Transaction and run inside the store's threads and group commit.
"""

from __future__ import annotations

import sqlite3

from router.store.dialect import upsert
from router.store.rows import from_seconds, to_seconds
from router.store.values import HeartbeatRecord

TIMER_PREFIX = "heartbeat:"
"""The kind of a heartbeat's deadline timer, before its id (on incident number 0)."""

_COLUMNS = ("id, state, watched_since, last_ping_at, last_signal, last_exit_code, "
            "last_message, started_at, last_success_at, pings")
_SELECT = (f"SELECT {', '.join('h.' + name for name in _COLUMNS.split(', '))}, "
           "t.due_at AS deadline FROM heartbeats h LEFT JOIN timers t "
           "ON t.incident_number = 0 AND t.kind = ? || h.id")
_SAVE = upsert("heartbeats", [column.strip() for column in _COLUMNS.split(",")], ("id",))


def _record(row: sqlite3.Row) -> HeartbeatRecord:
    since = from_seconds(row["watched_since"])
    assert since is not None
    return HeartbeatRecord(
        id=row["id"], state=row["state"], watched_since=since,
        last_ping_at=from_seconds(row["last_ping_at"]), last_signal=row["last_signal"],
        last_exit_code=row["last_exit_code"], last_message=row["last_message"],
        started_at=from_seconds(row["started_at"]),
        last_success_at=from_seconds(row["last_success_at"]), pings=row["pings"],
        deadline=from_seconds(row["deadline"]))


def get(connection: sqlite3.Connection, heartbeat_id: str) -> HeartbeatRecord | None:
    row = connection.execute(f"{_SELECT} WHERE h.id = ?",
                             (TIMER_PREFIX, heartbeat_id)).fetchone()
    return _record(row) if row else None


def listed(connection: sqlite3.Connection) -> list[HeartbeatRecord]:
    return [_record(row) for row in connection.execute(f"{_SELECT} ORDER BY h.id",
                                                       (TIMER_PREFIX,))]


def save(connection: sqlite3.Connection, record: HeartbeatRecord) -> None:
    """Insert or replace the row (its `deadline` is the timer's: set apart)."""
    connection.execute(
        _SAVE,
        (record.id, record.state, record.watched_since.timestamp(),
         to_seconds(record.last_ping_at), record.last_signal, record.last_exit_code,
         record.last_message, to_seconds(record.started_at),
         to_seconds(record.last_success_at), record.pings))


def remove(connection: sqlite3.Connection, heartbeat_id: str) -> None:
    connection.execute("DELETE FROM heartbeats WHERE id = ?", (heartbeat_id,))


class HeartbeatsReader:
    """Heartbeats as a Reader sees them (`reader.heartbeats`)."""

    __slots__ = ("_connection",)

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def get(self, heartbeat_id: str) -> HeartbeatRecord | None:
        return get(self._connection, heartbeat_id)

    def listed(self) -> list[HeartbeatRecord]:
        return listed(self._connection)


class HeartbeatsWriter(HeartbeatsReader):
    """`HeartbeatsReader` and the writes (`transaction.heartbeats`); the deadline is set
    with the Transaction's `set_timer(0, TIMER_PREFIX + id, ...)`."""

    __slots__ = ()

    def save(self, record: HeartbeatRecord) -> None:
        save(self._connection, record)

    def remove(self, heartbeat_id: str) -> None:
        remove(self._connection, heartbeat_id)
