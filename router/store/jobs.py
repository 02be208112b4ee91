"""Batch jobs, their runs and their alert targets as the store keeps them (room: store;
imports config.model, store.values).

Jobs created over the API are rows of `jobs` (the config's are not stored); every run is a
row of `job_runs`, written again as it moves on (started -> succeeded, failed or timed_out);
`job_alerts` holds each job's alert targets until one is removed. Functions here take the
connection of a Reader or Transaction, so they run inside the store's threads and its group
commit like every other query. Times are Unix seconds (REAL), as everywhere in the store.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from datetime import datetime, timedelta

from router.config.model import Job
from router.store.dialect import member_of, upsert
from router.store.rows import from_seconds, to_seconds
from router.store.values import JobAlert, JobRun

RUNS_KEPT = 1000
"""Runs kept per job, newest started first: a job that runs every minute would otherwise
grow the store by half a million rows a year."""
_RUN_COLUMNS = ("job, run_id, status, exit_code, duration, output, started_at, ended_at, "
                "timeout_at")
_ALERT_COLUMNS = ("id, job, alert_type, target, channel, on_failure, on_timeout, created_at, "
                  "created_by")
_SAVE_RUN = upsert("job_runs", [column.strip() for column in _RUN_COLUMNS.split(",")],
                   ("job", "run_id"))


def _job(row: sqlite3.Row) -> Job:
    timeout = None if row["timeout"] is None else timedelta(seconds=row["timeout"])
    return Job(id=row["id"], service=row["service"], timeout=timeout,
               severity=row["severity"], description=row["description"])


def _run(row: sqlite3.Row) -> JobRun:
    started_at = from_seconds(row["started_at"])
    assert started_at is not None
    return JobRun(job=row["job"], run_id=row["run_id"], status=row["status"],
                  exit_code=row["exit_code"], duration=row["duration"], output=row["output"],
                  started_at=started_at, ended_at=from_seconds(row["ended_at"]),
                  timeout_at=from_seconds(row["timeout_at"]))


def _alert(row: sqlite3.Row) -> JobAlert:
    created_at = from_seconds(row["created_at"])
    assert created_at is not None
    return JobAlert(id=row["id"], job=row["job"], alert_type=row["alert_type"],
                    target=row["target"], channel=row["channel"],
                    on_failure=bool(row["on_failure"]), on_timeout=bool(row["on_timeout"]),
                    created_at=created_at, created_by=row["created_by"])


class JobsReader:
    """Jobs, runs and alert targets as a Reader sees them (`reader.jobs`)."""

    __slots__ = ("_connection",)

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def job(self, job_id: str) -> Job | None:
        row = self._connection.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _job(row) if row else None

    def jobs(self) -> list[Job]:
        return [_job(row) for row in self._connection.execute("SELECT * FROM jobs ORDER BY id")]

    def page(self, *, excluded: Collection[str], limit: int) -> tuple[list[Job], int]:
        """The first `limit` jobs by id but the `excluded` ids (the config's, which shadow
        the store's), and how many there are: the web page's read stays bounded."""
        condition, names = member_of(self._connection, "id", sorted(excluded), negate=True)
        where = f"WHERE {condition}"
        rows = self._connection.execute(f"SELECT * FROM jobs {where} ORDER BY id LIMIT ?",
                                        (names, limit)).fetchall()
        total = len(rows)
        if total == limit:
            total = int(self._connection.execute(f"SELECT count(*) FROM jobs {where}",
                                                 (names,)).fetchone()[0])
        return [_job(row) for row in rows], total

    def run(self, job_id: str, run_id: str) -> JobRun | None:
        row = self._connection.execute(
            f"SELECT {_RUN_COLUMNS} FROM job_runs WHERE job = ? AND run_id = ?",
            (job_id, run_id)).fetchone()
        return _run(row) if row else None

    def runs(self, job_id: str, limit: int = 20) -> list[JobRun]:
        """The job's latest runs, newest started first."""
        return [_run(row) for row in self._connection.execute(
            f"SELECT {_RUN_COLUMNS} FROM job_runs WHERE job = ? "
            "ORDER BY started_at DESC, rowid DESC LIMIT ?", (job_id, limit))]

    def last_ended(self, job_id: str) -> JobRun | None:
        """The run of the job that ended last (what the job's alert reflects)."""
        row = self._connection.execute(
            f"SELECT {_RUN_COLUMNS} FROM job_runs WHERE job = ? AND ended_at IS NOT NULL "
            "ORDER BY ended_at DESC, rowid DESC LIMIT 1", (job_id,)).fetchone()
        return _run(row) if row else None

    def alerts(self, job_id: str | None = None) -> list[JobAlert]:
        """Alert targets, of one job or of all, oldest first."""
        where, values = ("WHERE job = ? ", (job_id,)) if job_id is not None else ("", ())
        return [_alert(row) for row in self._connection.execute(
            f"SELECT {_ALERT_COLUMNS} FROM job_alerts {where}ORDER BY created_at, rowid",
            values)]

    def alert(self, alert_id: str) -> JobAlert | None:
        row = self._connection.execute(
            f"SELECT {_ALERT_COLUMNS} FROM job_alerts WHERE id = ?", (alert_id,)).fetchone()
        return _alert(row) if row else None


class JobsWriter(JobsReader):
    """`JobsReader` and the writes (`transaction.jobs`). `add_job` and `add_alert` raise
    StoreError (through the store) for an id the store already holds."""

    __slots__ = ()

    def add_job(self, job: Job, created_at: datetime) -> None:
        timeout = None if job.timeout is None else job.timeout.total_seconds()
        self._connection.execute(
            "INSERT INTO jobs (id, service, timeout, severity, description, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (job.id, job.service, timeout, job.severity, job.description,
             created_at.timestamp()))

    def save_run(self, run: JobRun) -> None:
        """Write the run; when it ended, the job's runs beyond its newest RUNS_KEPT go."""
        self._connection.execute(
            _SAVE_RUN,
            (run.job, run.run_id, run.status, run.exit_code, run.duration, run.output,
             run.started_at.timestamp(), to_seconds(run.ended_at), to_seconds(run.timeout_at)))
        if run.ended_at is not None:
            self._connection.execute(
                "DELETE FROM job_runs WHERE job = ? AND started_at < (SELECT started_at FROM "
                "job_runs WHERE job = ? ORDER BY started_at DESC LIMIT 1 OFFSET ?)",
                (run.job, run.job, RUNS_KEPT - 1))

    def add_alert(self, alert: JobAlert) -> None:
        self._connection.execute(
            f"INSERT INTO job_alerts ({_ALERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (alert.id, alert.job, alert.alert_type, alert.target, alert.channel,
             int(alert.on_failure), int(alert.on_timeout), alert.created_at.timestamp(),
             alert.created_by))

    def remove_alert(self, alert_id: str) -> JobAlert | None:
        """Remove one alert target; None when there is no such target."""
        found = self.alert(alert_id)
        if found is not None:
            self._connection.execute("DELETE FROM job_alerts WHERE id = ?", (alert_id,))
        return found
