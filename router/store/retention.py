"""What the store may forget, and how big it is (room: store).

Retention keeps the store bounded: a resolved incident older than the cutoff goes with
everything that belongs to it (its alerts, timeline, finished notifications, delivery
attempts and timers), and so do alerts that joined no incident (a resolve re-sent after its
incident closed), finished notices (rota handoffs), delivery attempts of notices and channel
tests, and silences that ended, all older than the cutoff. An incident that is still open, or
still has a notification pending, is never removed, however old.

`prune` removes one small batch and returns what it removed, so the caller can run each batch
as its own short transaction and ingest never waits behind a long delete. `prunable` counts
what pruning down to a cutoff would remove, without removing it. `reclaim` gives free pages
back to the file system (stores created since migration 6 use incremental auto-vacuum);
`measure` reports rows per table, file sizes and the oldest resolved incident.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import datetime
from pathlib import Path

from router.store.dialect import POSTGRESQL, dialect
from router.store.rows import from_seconds
from router.store.values import Measure as Measure
from router.store.values import Pruned as Pruned

TABLES = ("incidents", "alerts", "timeline", "outbox", "deliveries", "timers", "silences",
          "overrides")
"""The tables `measure` counts, in the order `router store stats` shows them."""

# Resolved before the cutoff, and nothing of theirs still to send.
_EXPIRED_INCIDENTS = (
    "SELECT number FROM incidents WHERE state = 'resolved' AND resolved_at < :cutoff "
    "AND NOT EXISTS (SELECT 1 FROM outbox WHERE outbox.incident_number = incidents.number "
    "AND outbox.state = 'pending') ORDER BY resolved_at")
# What belongs to no incident: alerts that joined none (ignored resolves), notices (incident
# number 0: rota handoffs) and the delivery attempts of notices and channel tests.
_LOOSE_ALERTS = ("SELECT id FROM alerts WHERE incident_number IS NULL "
                 "AND coalesce(last_received_at, received_at) < :cutoff")
_FINISHED_NOTICES = ("SELECT id FROM outbox WHERE incident_number = 0 "
                     "AND state != 'pending' AND finished_at < :cutoff")
_NOTICE_DELIVERIES = ("SELECT id FROM deliveries WHERE (incident_number = 0 OR "
                      "incident_number IS NULL) AND attempted_at < :cutoff")
_ENDED_SILENCES = "SELECT id FROM silences WHERE ends_at < :cutoff"
# What goes with an incident: (table, the kind its rows count as; timers are not counted).
# The timeline counts entries, not rows (migration 8: a row may hold several).
_BELONGING = (("alerts", "alerts"), ("timeline", None), ("outbox", "notifications"),
              ("deliveries", "deliveries"), ("timers", None), ("analysis_runs", None))
_ENTRIES = "count(*) + coalesce(sum(json_array_length(more)), 0)"


def prune(connection: sqlite3.Connection, cutoff: datetime, limit: int) -> Pruned:
    """Remove up to `limit` expired incidents with what belongs to them, and up to `limit`
    rows of each kind that belongs to no incident, all from before `cutoff`.

    Returns:
        What was removed; nothing (`rows == 0`) once nothing older than `cutoff` is left.
    """
    seconds = {"cutoff": cutoff.timestamp(), "limit": limit}
    numbers = [row[0] for row in connection.execute(_EXPIRED_INCIDENTS + " LIMIT :limit",
                                                    seconds)]
    removed = Pruned().counts()  # every kind, at 0
    if numbers:
        marks = ", ".join("?" * len(numbers))
        removed["timeline"] = int(connection.execute(
            f"SELECT {_ENTRIES} FROM timeline WHERE incident_number IN ({marks})",
            numbers).fetchone()[0])
        for table, kind in _BELONGING:
            count = connection.execute(
                f"DELETE FROM {table} WHERE incident_number IN ({marks})", numbers).rowcount
            if kind is not None:
                removed[kind] += count
        removed["incidents"] = connection.execute(
            f"DELETE FROM incidents WHERE number IN ({marks})", numbers).rowcount
    for table, key, query, kind in (
            ("alerts", "id", _LOOSE_ALERTS, "alerts"),
            ("outbox", "id", _FINISHED_NOTICES, "notifications"),
            ("deliveries", "id", _NOTICE_DELIVERIES, "deliveries"),
            ("silences", "id", _ENDED_SILENCES, "silences")):
        removed[kind] += connection.execute(
            f"DELETE FROM {table} WHERE {key} IN ({query} LIMIT :limit)", seconds).rowcount
    return Pruned(**removed)


def prunable(connection: sqlite3.Connection, cutoff: datetime) -> Pruned:
    """What pruning everything before `cutoff` would remove."""
    seconds = {"cutoff": cutoff.timestamp()}
    expired = f"WITH expired AS ({_EXPIRED_INCIDENTS}) "

    def count(query: str) -> int:
        return int(connection.execute(query, seconds).fetchone()[0])

    def belonging(table: str, what: str = "count(*)") -> int:
        return count(expired + f"SELECT {what} FROM {table} "
                     "WHERE incident_number IN (SELECT number FROM expired)")

    return Pruned(
        incidents=count(expired + "SELECT count(*) FROM expired"),
        alerts=belonging("alerts") + count(f"SELECT count(*) FROM ({_LOOSE_ALERTS}) AS found"),
        timeline=belonging("timeline", _ENTRIES),
        notifications=belonging("outbox") + count(
            f"SELECT count(*) FROM ({_FINISHED_NOTICES}) AS found"),
        deliveries=belonging("deliveries") + count(
            f"SELECT count(*) FROM ({_NOTICE_DELIVERIES}) AS found"),
        silences=count(f"SELECT count(*) FROM ({_ENDED_SILENCES}) AS found"))


def reclaim(connection: sqlite3.Connection, pages: int) -> int:
    """Give up to `pages` free pages back to the file system (incremental auto-vacuum; a
    store that has none keeps them for its next rows). Returns the pages given back. On
    PostgreSQL, none: autovacuum makes dead rows' space reusable by itself."""
    if dialect(connection) == POSTGRESQL:
        return 0
    if connection.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:
        return 0
    free = int(connection.execute("PRAGMA freelist_count").fetchone()[0])
    # Python's sqlite3 steps a statement that returns no rows once, and each step of
    # incremental_vacuum gives back one page: one execute per page.
    for _ in range(min(free, pages)):
        connection.execute("PRAGMA incremental_vacuum")
    return free - int(connection.execute("PRAGMA freelist_count").fetchone()[0])


def measure(connection: sqlite3.Connection, path: Path) -> Measure:
    """Rows per table (the timeline's entries), the database and WAL files' sizes, and the
    oldest resolved incident. On PostgreSQL: the database's size (`path` is not used), no
    WAL or free pages of its own to show."""
    rows = {table: int(connection.execute(
        f"SELECT {_ENTRIES if table == 'timeline' else 'count(*)'} FROM {table}").fetchone()[0])
            for table in TABLES}
    oldest = connection.execute(
        "SELECT min(resolved_at) FROM incidents WHERE state = 'resolved'").fetchone()[0]
    if dialect(connection) == POSTGRESQL:
        size = connection.execute("SELECT pg_database_size(current_database())").fetchone()
        return Measure(rows=rows, database_bytes=int(size[0]), wal_bytes=0, free_bytes=0,
                       incremental_vacuum=False, oldest_resolved=from_seconds(oldest))
    page_size = int(connection.execute("PRAGMA page_size").fetchone()[0])
    free = int(connection.execute("PRAGMA freelist_count").fetchone()[0])
    return Measure(
        rows=rows, database_bytes=_size(path), wal_bytes=_size(Path(f"{path}-wal")),
        free_bytes=free * page_size,
        incremental_vacuum=connection.execute("PRAGMA auto_vacuum").fetchone()[0] == 2,
        oldest_resolved=from_seconds(oldest))


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


class RetentionReader:
    """The store's size and what a prune would remove (`reader.retention`)."""

    __slots__ = ("_connection",)

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def measure(self, path: Path) -> Measure:
        return measure(self._connection, path)

    def prunable(self, cutoff: datetime) -> Pruned:
        return prunable(self._connection, cutoff)


class RetentionWriter(RetentionReader):
    """`RetentionReader` and the writes (`transaction.retention`)."""

    __slots__ = ()

    def prune(self, cutoff: datetime, limit: int) -> Pruned:
        return prune(self._connection, cutoff, limit)

    def reclaim(self, pages: int) -> int:
        return reclaim(self._connection, pages)
