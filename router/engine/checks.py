"""Local health checks' use cases (room: engine; imports core, store, config.model,
alerts.model, errors): keep each run in the audit trail, and turn a change of a check's
status into its alert through the same ingest every other source's alerts take.

The probes (router/probes/) measure; this module grades the reading (core/checks.py),
compares the status with the one the store kept from the last run, so a restart neither
opens an alert twice nor misses a change, and sends the check's alert (source `check`,
one dedup key per check) only when the status changes: ok -> not ok opens, a move between
warning, critical and unknown changes it, back to ok resolves it. The alert is ingested in
the run's own unit of work, as a heartbeat's or a job's is (a check's alert takes no health
context of `attach_checks`: engine/health.py leaves it alone).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from router.alerts.model import Alert
from router.config.model import Check
from router.core.checks import CheckStatus, Reading, alert_of, evaluate, transition
from router.engine.ingest import Accepted
from router.engine.snapshot import Snapshot
from router.engine.state import EngineState
from router.errors import NotFound
from router.store import Transaction
from router.store.values import CheckRun as CheckRun
from router.store.values import CheckState as CheckState

RUNS_KEPT = 1000
"""Runs kept per check in the audit trail (a week of runs every ten minutes; a day and a
half of runs every one); older ones are dropped as new ones are kept."""

IngestOne = Callable[[Transaction, Snapshot, Alert, datetime], Accepted]
"""The engine's ingest of one alert inside a unit of work (engine/ingest.py `ingest_one`)."""
Write = Callable[[Callable[[Transaction], Any]], Awaitable[Any]]
"""The store's write that keeps the inhibition index (engine/ingest.py `Ingest.write`)."""


class Checks:
    def __init__(self, state: EngineState, ingest_one: IngestOne, write: Write) -> None:
        self.state = state
        self.ingest_one = ingest_one
        self.write = write

    async def record(self, check: Check, reading: Reading, *, started_at: datetime,
                     duration_ms: float, host: str, error: str | None = None,
                     trace_id: str = "") -> CheckRun:
        """Grade one run of `check`, raise or resolve its alert if its status changed, and
        keep the run; returns it as stored. One unit of work, so one round trip to the
        store: the last status is read, the alert ingested and the run kept together."""
        verdict = evaluate(check, reading)
        snapshot, now = self.state.snapshot, self.state.clock.now()

        def work(transaction: Transaction) -> tuple[CheckRun, bool]:
            transaction.trace_id = trace_id  # carried by the notifications to delivery
            previous = transaction.checks.status(check.id)
            change = transition(None if previous is None else CheckStatus(previous),
                                verdict.status)
            incident_id = None
            if change is not None:
                alert = alert_of(check, verdict, reading.metrics, host, started_at)
                incident_id = self.ingest_one(transaction, snapshot, alert, now).incident_id
            run = CheckRun(check_id=check.id, started_at=started_at,
                           status=verdict.status.value, message=verdict.message,
                           metrics=reading.metrics, duration_ms=round(duration_ms, 2),
                           error=error, trace_id=trace_id, incident_id=incident_id)
            return transaction.checks.record(run, RUNS_KEPT), change is not None

        found: tuple[CheckRun, bool] = await self.write(work)
        run, changed = found
        if changed:
            self.state.outbox_written()
            self.state.timers_written()
        return run

    async def states(self) -> list[CheckState]:
        return await self.state.store.read(lambda reader: reader.checks.states())

    async def runs(self, check_id: str, limit: int = 100) -> list[CheckRun]:
        """The check's runs, newest first.

        Raises:
            NotFound: the config has no such check and the store no run of it.
        """
        found = await self.state.store.read(lambda reader: reader.checks.runs(check_id, limit))
        if not found and check_id not in self.state.snapshot.config.checks:
            raise NotFound(f"no check {check_id}")
        return found


def run_json(run: CheckRun) -> dict[str, Any]:
    return {"id": run.id, "check": run.check_id, "started_at": run.started_at.isoformat(),
            "status": run.status, "message": run.message, "metrics": dict(run.metrics),
            "duration_ms": run.duration_ms, "error": run.error, "trace_id": run.trace_id,
            "incident": run.incident_id}


def checks_json(checks: Mapping[str, Check], states: Sequence[CheckState]
                ) -> list[dict[str, Any]]:
    """Every configured check with its status (`pending` before its first run), and any
    check the store remembers that the config no longer has (`removed`)."""
    by_id = {state.check_id: state for state in states}
    listed = []
    for check_id in sorted(set(checks) | set(by_id)):
        check, state = checks.get(check_id), by_id.get(check_id)
        listed.append({
            "id": check_id, "type": check.type if check else None,
            "interval": check.interval.total_seconds() if check else None,
            "timeout": check.timeout.total_seconds() if check else None,
            "service": check.service if check else None,
            "status": state.status if state else "pending",
            "since": state.since.isoformat() if state else None,
            "configured": check is not None,
            "last_run": run_json(state.last_run) if state else None})
    return listed
