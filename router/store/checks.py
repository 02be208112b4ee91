"""Local health checks' runs and statuses as the store keeps them (room: store).

Each run is a row of `check_runs`, the audit trail, of which the newest `keep` per check
are kept (older ones go in the same unit, so the trail is bounded however long the daemon
runs); `check_states` holds each check's status, since when, and its last run. Functions
take the connection of a Reader or Transaction, so they run in the store's threads and its
group commit. Times are Unix seconds (REAL), as everywhere in the store.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from types import MappingProxyType

from router.store.rows import from_seconds
from router.store.values import CheckRun, CheckState

_COLUMNS = ("id, check_id, started_at, status, message, metrics, duration_ms, error, "
            "trace_id, incident_id")


def _run(row: sqlite3.Row) -> CheckRun:
    started_at = from_seconds(row["started_at"])
    assert started_at is not None
    return CheckRun(id=row["id"], check_id=row["check_id"], started_at=started_at,
                    status=row["status"], message=row["message"],
                    metrics=MappingProxyType(json.loads(row["metrics"])),
                    duration_ms=row["duration_ms"], error=row["error"],
                    trace_id=row["trace_id"], incident_id=row["incident_id"])


class ChecksReader:
    """Checks as a Reader sees them (`reader.checks`)."""

    __slots__ = ("_connection",)

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def status(self, check_id: str) -> str | None:
        """The check's status after its last run; None before its first."""
        row = self._connection.execute("SELECT status FROM check_states WHERE check_id = ?",
                                       (check_id,)).fetchone()
        return None if row is None else str(row["status"])

    def states(self) -> list[CheckState]:
        """Every check that has run, by id, with its last run."""
        found = []
        for row in self._connection.execute(
                f"SELECT s.status AS now, s.since, {_qualified('r')} FROM check_states s "
                "JOIN check_runs r ON r.id = s.last_run ORDER BY s.check_id"):
            since = from_seconds(row["since"])
            assert since is not None
            found.append(CheckState(check_id=row["check_id"], status=row["now"], since=since,
                                    last_run=_run(row)))
        return found

    def runs(self, check_id: str, limit: int = 100) -> list[CheckRun]:
        """The check's runs, newest first."""
        return [_run(row) for row in self._connection.execute(
            f"SELECT {_COLUMNS} FROM check_runs WHERE check_id = ? ORDER BY id DESC LIMIT ?",
            (check_id, limit))]


class ChecksWriter(ChecksReader):
    """`ChecksReader` and the writes (`transaction.checks`)."""

    __slots__ = ()

    def record(self, run: CheckRun, keep: int) -> CheckRun:
        """Keep `run`, make it the check's last, and drop the check's runs older than its
        newest `keep`; returns the run with its number."""
        # RETURNING, not lastrowid: PostgreSQL has none (both backends number the row).
        number = self._connection.execute(
            f"INSERT INTO check_runs ({_COLUMNS.removeprefix('id, ')}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (run.check_id, run.started_at.timestamp(), run.status, run.message,
             json.dumps(dict(run.metrics), sort_keys=True), run.duration_ms, run.error,
             run.trace_id, run.incident_id)).fetchone()[0]
        self._connection.execute(
            "INSERT INTO check_states (check_id, status, since, last_run) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (check_id) DO UPDATE SET last_run = excluded.last_run, "
            "since = CASE WHEN check_states.status = excluded.status THEN check_states.since "
            "ELSE excluded.since END, "
            "status = excluded.status",
            (run.check_id, run.status, run.started_at.timestamp(), number))
        self._connection.execute(
            "DELETE FROM check_runs WHERE check_id = ? AND id <= (SELECT id FROM check_runs "
            "WHERE check_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
            (run.check_id, run.check_id, keep))
        return dataclasses.replace(run, id=number)


def _qualified(alias: str) -> str:
    return ", ".join(f"{alias}.{name.strip()}" for name in _COLUMNS.split(","))
