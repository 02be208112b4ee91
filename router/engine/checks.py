"""Local health checks' use cases (room: engine; imports core, store, config.model,
alerts.model, errors): keep each run in the audit trail, and turn a change of a check's
status into its alert through the same ingest every other source's alerts take.

The probes (router/probes/) measure; this module grades the reading (core/checks.py),
compares the status with the one the store kept from the last run, so a restart neither
opens an alert twice nor misses a change, and sends the check's alert (source `check`,
one dedup key per check) only when the status changes: ok -> not ok opens, a move between
warning, critical and unknown changes it, back to ok resolves it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from router.alerts.model import Alert
from router.config.model import Check
from router.core.checks import CheckStatus, Reading, alert_of, evaluate, transition
from router.engine.state import EngineState
from router.errors import NotFound
from router.store.values import CheckRun as CheckRun
from router.store.values import CheckState as CheckState

RUNS_KEPT = 1000
"""Runs kept per check in the audit trail (a week of runs every ten minutes; a day and a
half of runs every one); older ones are dropped as new ones are kept."""

Ingest = Callable[..., Awaitable[Sequence[Any]]]
"""`Engine.ingest`: the alerts' one way in (answers `Accepted`s)."""


class Checks:
    def __init__(self, state: EngineState, ingest: Ingest) -> None:
        self.state = state
        self.ingest = ingest

    async def record(self, check: Check, reading: Reading, *, started_at: datetime,
                     duration_ms: float, host: str, error: str | None = None,
                     trace_id: str = "") -> CheckRun:
        """Grade one run of `check`, raise or resolve its alert if its status changed, and
        keep the run; returns it as stored."""
        verdict = evaluate(check, reading)
        previous = await self.state.store.read(lambda reader: reader.checks.status(check.id))
        change = transition(None if previous is None else CheckStatus(previous),
                            verdict.status)
        incident_id = None
        if change is not None:
            alert: Alert = alert_of(check, verdict, reading.metrics, host, started_at)
            accepted = await self.ingest([alert], trace_id=trace_id)
            incident_id = accepted[0].incident_id if accepted else None
        run = CheckRun(check_id=check.id, started_at=started_at, status=verdict.status.value,
                       message=verdict.message, metrics=reading.metrics,
                       duration_ms=round(duration_ms, 2), error=error, trace_id=trace_id,
                       incident_id=incident_id)
        return await self.state.store.write(
            lambda transaction: transaction.checks.record(run, RUNS_KEPT))

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
