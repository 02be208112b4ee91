"""Batch jobs: their runs, timeouts, alert targets and service alerts (room: engine).

A job is declared in the config (`jobs:`) or created over the API (the store's `jobs`
table); the config's wins and the API refuses its ids. A runner reports each run (`router
exec`, `POST /v1/jobs/{id}/runs`): `started`, then `succeeded`, `failed` or `timed_out`.

- A started run whose job (or report) has a timeout gets a durable timer, kind
  `job:<job>/<run>` on incident 0 in the store's timers table, at start + timeout; if the
  run is still started when it falls due it becomes `timed_out` (a restart keeps the timer,
  and the scheduler fires an overdue one at once). An end reported in time removes it.
- A run that ends `failed` or `timed_out`, in the same unit of work as its row:
  1. writes one notification per alert target that wants it (`on_failure`, `on_timeout`)
     to the outbox: event `job` on incident 0, target `job-alert:<id>`, its URL or address
     as the notification's address, through the target's channel (or the config's first
     of its type). The deliverer sends, retries and logs it like every other page, so a
     target that fails never changes the run's recorded status;
  2. when the job has a service, raises an alert (source `job`, dedup key `job:<id>`) on
     it through ingest, so routes, rotas and escalation apply. A later success resolves it.
- A report for a run that already ended with another status is a Conflict (409): the
  first end stands (router's own timeout included); the same end again changes nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from router import redaction
from router.alerts.model import JOB_ALERT_TARGET, Alert, Notification, Severity, Status
from router.config.model import Job
from router.engine.job_requests import AlertRequest, RunReport, channel_of_type
from router.engine.snapshot import Snapshot
from router.engine.state import EngineState
from router.errors import Conflict, NotFound
from router.store import Reader, Transaction
from router.store.values import JobAlert as JobAlert  # for the web room
from router.store.values import JobRun as JobRun

logger = logging.getLogger(__name__)
T = TypeVar("T")

PREFIX = "job:"
"""The kind of a run's timeout timer (on incident 0), before `<job>/<run id>`."""
SOURCE = "job"
"""The source of the alerts jobs raise on their services."""
EVENT = "job"
"""The event of an alert target's notification (notify/templates.py's default texts)."""
ALERT_NAME = "JobFailed"
"""The alertname label of a job's service alert, whether it failed or timed out: one
identity, so a success resolves either."""

IngestOne = Callable[[Transaction, Snapshot, Alert, datetime], object]
Write = Callable[[Callable[[Transaction], Any]], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class JobView:
    """A job, where it was declared ("config" or "api") and its newest run."""

    job: Job
    origin: str
    last_run: JobRun | None


def find_job(reader: Reader, snapshot: Snapshot, job_id: str) -> tuple[Job, str] | None:
    """The job and where it was declared, the config first."""
    declared = snapshot.config.jobs.get(job_id)
    if declared is not None:
        return declared, "config"
    stored = reader.jobs.job(job_id)
    return (stored, "api") if stored is not None else None


def _timer_kind(job_id: str, run_id: str) -> str:
    return f"{PREFIX}{job_id}/{run_id}"


class Jobs:
    """The jobs' use cases over the engine's state; `ingest_one` and `write` are the
    engine's (the service alert goes through ingest in the run's own unit of work)."""

    def __init__(self, state: EngineState, ingest_one: IngestOne, write: Write) -> None:
        self.state = state
        self.ingest_one = ingest_one
        self.write = write

    async def jobs(self) -> list[JobView]:
        """Every job, the config's then the API's, with its newest run."""
        snapshot = self.state.snapshot

        def query(reader: Reader) -> list[JobView]:
            found = [(job, "config") for job in snapshot.config.jobs.values()]
            found += [(job, "api") for job in reader.jobs.jobs()
                      if job.id not in snapshot.config.jobs]
            return [JobView(job, origin, next(iter(reader.jobs.runs(job.id, 1)), None))
                    for job, origin in found]

        return await self.state.store.read(query)

    async def listing(self, limit: int) -> tuple[list[JobView], int]:
        """The first `limit` of what `jobs` lists, and how many it lists: only those read
        from the store and asked for their newest run (the web page's bounded read)."""
        config_jobs = list(self.state.snapshot.config.jobs.values())

        def query(reader: Reader) -> tuple[list[JobView], int]:
            found = [(job, "config") for job in config_jobs[:limit]]
            stored, stored_total = reader.jobs.page(
                excluded=[job.id for job in config_jobs],
                limit=max(limit - len(found), 0))
            found += [(job, "api") for job in stored]
            views = [JobView(job, origin, next(iter(reader.jobs.runs(job.id, 1)), None))
                     for job, origin in found]
            return views, len(config_jobs) + stored_total

        return await self.state.store.read(query)

    async def job(self, job_id: str) -> JobView:
        """Raises: NotFound."""
        snapshot = self.state.snapshot

        def query(reader: Reader) -> JobView:
            found = find_job(reader, snapshot, job_id)
            if found is None:
                raise NotFound(f"no job {job_id!r}")
            return JobView(found[0], found[1], next(iter(reader.jobs.runs(job_id, 1)), None))

        return await self.state.store.read(query)

    async def create_job(self, job: Job) -> Job:
        """Raises: Conflict when the config or the store has a job of that id."""
        snapshot, now = self.state.snapshot, self.state.clock.now()

        def work(transaction: Transaction) -> None:
            found = find_job(transaction, snapshot, job.id)
            if found is not None:
                raise Conflict(f"job {job.id!r} exists already (declared in the "
                               f"{'config' if found[1] == 'config' else 'API'})")
            transaction.jobs.add_job(job, now)

        await self.state.store.write(work)
        return job

    async def runs(self, job_id: str, limit: int = 20) -> list[JobRun]:
        """The job's newest runs. Raises: NotFound."""
        snapshot = self.state.snapshot

        def query(reader: Reader) -> list[JobRun]:
            if find_job(reader, snapshot, job_id) is None:
                raise NotFound(f"no job {job_id!r}")
            return reader.jobs.runs(job_id, limit)

        return await self.state.store.read(query)

    async def report(self, job_id: str, report: RunReport) -> tuple[JobRun, str]:
        """Record a run's report; returns the run and what it came to ("started",
        "succeeded", "failed", "timed_out" or "unchanged").

        Raises:
            NotFound: no such job.
            Conflict: the run already ended with another status.
        """
        snapshot, now = self.state.snapshot, self.state.clock.now()

        def work(transaction: Transaction) -> tuple[JobRun, str]:
            found = find_job(transaction, snapshot, job_id)
            if found is None:
                raise NotFound(f"no job {job_id!r}")
            return self._report(transaction, snapshot, found[0], report, now)

        run, outcome = await self.write(work)
        self.state.outbox_written()
        self.state.timers_written()
        logger.info("job run %s", outcome, extra={
            "job": job_id, "run": run.run_id, "status": run.status, "exit_code": run.exit_code})
        return run, outcome

    def _report(self, transaction: Transaction, snapshot: Snapshot, job: Job,
                report: RunReport, now: datetime) -> tuple[JobRun, str]:
        existing = transaction.jobs.run(job.id, report.run_id)
        if existing is not None and existing.status != "started":
            if existing.status == report.status or report.status == "started":
                return existing, "unchanged"
            raise Conflict(f"run {report.run_id!r} of job {job.id!r} already ended "
                           f"{existing.status}")
        if report.status == "started":
            if existing is not None:
                return existing, "unchanged"
            started_at = report.started_at or now
            timeout = report.timeout or job.timeout
            run = JobRun(job=job.id, run_id=report.run_id, status="started",
                         started_at=started_at, output=report.output,
                         timeout_at=started_at + timeout if timeout else None)
            transaction.jobs.save_run(run)
            if run.timeout_at is not None:
                transaction.set_timer(0, _timer_kind(job.id, run.run_id), run.timeout_at)
            return run, "started"
        started_at = (existing.started_at if existing is not None else report.started_at
                      or now - timedelta(seconds=report.duration or 0))
        duration = report.duration
        if duration is None:
            duration = max((now - started_at).total_seconds(), 0.0)
        run = JobRun(job=job.id, run_id=report.run_id, status=report.status,
                     started_at=started_at, exit_code=report.exit_code, duration=duration,
                     output=report.output or (existing.output if existing else ""),
                     ended_at=now, timeout_at=existing.timeout_at if existing else None)
        self._end(transaction, snapshot, job, run, now)
        return run, run.status

    def _end(self, transaction: Transaction, snapshot: Snapshot, job: Job, run: JobRun,
             now: datetime) -> None:
        """Record an ended run and its effects: the alert targets' notifications and the
        service's alert (raised, or resolved by a success after a failure)."""
        before = transaction.jobs.last_ended(job.id)
        transaction.jobs.save_run(run)
        transaction.delete_timer(0, _timer_kind(job.id, run.run_id))
        if run.status != "succeeded":
            transaction.add_notifications(self._notifications(transaction, snapshot, job, run,
                                                              now))
        if job.service is None:
            return
        if run.status != "succeeded" or (before is not None and before.status != "succeeded"):
            self.ingest_one(transaction, snapshot, service_alert(job, run), now)

    def _notifications(self, transaction: Transaction, snapshot: Snapshot, job: Job,
                       run: JobRun, now: datetime) -> list[Notification]:
        wanted = [alert for alert in transaction.jobs.alerts(job.id)
                  if (alert.on_failure if run.status == "failed" else alert.on_timeout)]
        note = json.dumps({"summary": summary(job, run), "labels": run_labels(job, run)},
                          ensure_ascii=False)
        found = []
        for alert in wanted:
            channel = self._channel(snapshot, alert)
            if channel is None:
                continue
            found.append(Notification(
                id=self.state.new_id(), incident_number=0, channel=channel,
                target=f"{JOB_ALERT_TARGET}{alert.id}", address=alert.target, event=EVENT,
                created_at=now, note=note))
        return found

    @staticmethod
    def _channel(snapshot: Snapshot, alert: JobAlert) -> str | None:
        """The channel the target goes through, or None (WARNING) when a reload removed
        it or every channel of its type."""
        try:
            return channel_of_type(snapshot.config, alert.alert_type, alert.channel)
        except Exception as error:  # BadRequest: its words say which channel is missing
            logger.warning("job alert target %s not told: %s", alert.id, error,
                           extra={"job": alert.job})
            return None

    async def timer_fired(self, number: int, kind: str, due_at: datetime) -> str:
        """A started run's timeout fell due: it is timed_out unless it ended meanwhile."""
        snapshot, now = self.state.snapshot, self.state.clock.now()
        job_id, _, run_id = kind.removeprefix(PREFIX).partition("/")

        def work(transaction: Transaction) -> str:
            if not transaction.take_timer(number, kind, due_at):
                return "stale"
            run = transaction.jobs.run(job_id, run_id)
            if run is None or run.status != "started":
                return "ended"
            found = find_job(transaction, snapshot, job_id)
            job = found[0] if found is not None else Job(id=job_id)
            ended = replace(run, status="timed_out", ended_at=now,
                            duration=max((now - run.started_at).total_seconds(), 0.0))
            self._end(transaction, snapshot, job, ended, now)
            return "timed_out"

        outcome: str = await self.write(work)
        self.state.outbox_written()
        self.state.timers_written()
        return outcome

    async def add_alert(self, job_id: str, request: AlertRequest) -> JobAlert:
        """Raises: NotFound (no such job)."""
        snapshot, now = self.state.snapshot, self.state.clock.now()
        alert = JobAlert(id=self.state.new_id(), job=job_id, alert_type=request.alert_type,
                         target=request.target, created_at=now, on_failure=request.on_failure,
                         on_timeout=request.on_timeout, channel=request.channel,
                         created_by=request.created_by)

        def work(transaction: Transaction) -> None:
            if find_job(transaction, snapshot, job_id) is None:
                raise NotFound(f"no job {job_id!r}")
            transaction.jobs.add_alert(alert)

        await self.state.store.write(work)
        return alert

    async def alerts(self, job_id: str) -> list[JobAlert]:
        """Raises: NotFound (no such job)."""
        snapshot = self.state.snapshot

        def query(reader: Reader) -> list[JobAlert]:
            if find_job(reader, snapshot, job_id) is None:
                raise NotFound(f"no job {job_id!r}")
            return reader.jobs.alerts(job_id)

        return await self.state.store.read(query)

    async def remove_alert(self, alert_id: str) -> JobAlert:
        """Raises: NotFound (no such alert target)."""
        def work(transaction: Transaction) -> JobAlert:
            removed = transaction.jobs.remove_alert(alert_id)
            if removed is None:
                raise NotFound(f"no job alert target {alert_id!r}")
            return removed

        removed: JobAlert = await self.state.store.write(work)
        return removed


def summary(job: Job, run: JobRun) -> str:
    if run.status == "failed":
        code = "" if run.exit_code is None else f" with exit code {run.exit_code}"
        return f"Job {job.id} failed{code} (run {run.run_id})"
    if run.status == "timed_out":
        return f"Job {job.id} timed out after {_seconds(run.duration)} (run {run.run_id})"
    return f"Job {job.id} {run.status.replace('_', ' ')} (run {run.run_id})"


def run_labels(job: Job, run: JobRun) -> dict[str, str]:
    """What a target's notification says of the run (the webhook body's incident.labels)."""
    return {"job": job.id, "run_id": run.run_id, "status": run.status,
            "exit_code": "" if run.exit_code is None else str(run.exit_code),
            "duration": _seconds(run.duration)}


def service_alert(job: Job, run: JobRun) -> Alert:
    """The alert a failed or timed-out run raises on the job's service (resolved by a
    success): one identity per job, so either end's alert joins one incident."""
    firing = run.status != "succeeded"
    annotations = {"run_id": run.run_id, "status": run.status,
                   "exit_code": "" if run.exit_code is None else str(run.exit_code),
                   "duration": _seconds(run.duration)}
    if run.output:
        annotations["output"] = run.output[-1024:]
    return Alert(summary=summary(job, run), source=SOURCE,
                 severity=Severity(job.severity) if firing else Severity.INFO,
                 status=Status.FIRING if firing else Status.RESOLVED,
                 labels={"alertname": ALERT_NAME, "job": job.id}, annotations=annotations,
                 service=job.service, dedup_key=f"job:{job.id}")


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}s".replace(".000s", "s")


def run_json(run: JobRun) -> dict[str, Any]:
    return {"job": run.job, "run_id": run.run_id, "status": run.status,
            "exit_code": run.exit_code, "duration": run.duration, "output": run.output,
            "started_at": run.started_at.isoformat(),
            "ended_at": run.ended_at.isoformat() if run.ended_at else None,
            "timeout_at": run.timeout_at.isoformat() if run.timeout_at else None}


def alert_json(alert: JobAlert) -> dict[str, Any]:
    """A target as the API and the CLI show it: a webhook's URL without user info, query or
    fragment, any of which may hold a token (as the delivery log shows it)."""
    target = (redaction.display_url(alert.target) if alert.alert_type == "webhook"
              else alert.target)
    return {"id": alert.id, "job": alert.job, "alert_type": alert.alert_type,
            "target": target, "channel": alert.channel, "on_failure": alert.on_failure,
            "on_timeout": alert.on_timeout, "created_at": alert.created_at.isoformat(),
            "created_by": alert.created_by}


def job_json(view: JobView) -> dict[str, Any]:
    job = view.job
    return {"id": job.id, "origin": view.origin, "service": job.service,
            "timeout": job.timeout.total_seconds() if job.timeout else None,
            "severity": job.severity, "description": job.description,
            "last_run": run_json(view.last_run) if view.last_run else None}
