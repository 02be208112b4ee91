"""Health context (room: engine): the checks a route or service attaches (`attach_checks`)
run when one of its alerts arrives, and their results join the alert and its incident.

Before the alert is stored, each attached check's last run is used if it is younger than
the check's interval; the others run now, together, through the daemon's check runner
(`measure`, set by the daemon: the engine may not import the probes), and the wait ends at
the longest attached timeout plus the runner's grace: an alert is never held longer than
that, and a check that has not answered by then is `unknown` in the context. The results
become the alert's annotations `health.<check>` ("critical: disk_percent:/ is 97, ..."),
kept with the alert (GET /v1/incidents/{id}) and shown to templates as `health`, and a new
incident's timeline gets a `health context` entry. Alerts of checks themselves are left
alone, and a config with no `attach_checks` costs ingest nothing. Requests that arrive
together share a check's run: one that wants a check already running waits for that run.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType

import trio

from router.alerts.model import Alert, Status, TimelineEntry
from router.config.model import Check, Config
from router.core.checks import SOURCE
from router.core.routing import route
from router.engine.snapshot import Snapshot
from router.engine.state import EngineState
from router.store import Transaction
from router.store.values import CheckRun

PREFIX = "health."
"""Annotations that carry a check's result: `health.disk`."""
GRACE = 1.0
"""Seconds past a check's timeout before its run is given up: the command and network
probes honour the timeout themselves (a command is killed at it) and report why. The
runner (probes/runner.py) waits this long for one probe, the health context for the
longest attached one."""

Measure = Callable[[Check], Awaitable[CheckRun]]


@dataclass(slots=True)
class _InFlight:
    """One attached check's run under way; `result` is set before `done` unless it was
    given up."""

    done: trio.Event = field(default_factory=trio.Event)
    result: str | None = None


class Health:
    def __init__(self, state: EngineState) -> None:
        self.state = state
        self.measure: Measure | None = None
        """Runs a check now and keeps the run (the daemon's CheckRunner.run_once)."""
        self._attaching: tuple[Config | None, bool] = (None, False)
        self._in_flight: dict[str, _InFlight] = {}
        """The attached checks running now, by id: a request that wants one waits for it."""

    def attaching(self, config: Config) -> bool:
        """Whether any route or service attaches checks (worked out once per config)."""
        known, answer = self._attaching
        if known is not config:
            answer = any(item.attach_checks for item in config.routes) or any(
                item.attach_checks for item in config.services.values())
            self._attaching = (config, answer)
        return answer

    def attached(self, snapshot: Snapshot, alert: Alert) -> tuple[Check, ...]:
        """The checks `alert`'s matched routes and its service attach."""
        if alert.status is not Status.FIRING or alert.source == SOURCE:
            return ()
        config = snapshot.config
        decision = route(alert, snapshot.routes)
        service = config.services.get(decision.service or alert.service or "")
        names = [name for item in decision.routes for name in item.attach_checks]
        names += service.attach_checks if service else ()
        return tuple(config.checks[name] for name in dict.fromkeys(names)
                     if name in config.checks)

    async def gather(self, snapshot: Snapshot, alerts: Sequence[Alert]) -> Sequence[Alert]:
        """`alerts`, each with its attached checks' results as annotations."""
        if self.measure is None or not self.attaching(snapshot.config):
            return alerts
        wanted = [self.attached(snapshot, alert) for alert in alerts]
        checks = {check.id: check for found in wanted for check in found}
        if not checks:
            return alerts
        results = await self._results(checks)
        return [replace(alert, annotations=MappingProxyType({
                    **alert.annotations,
                    **{PREFIX + check.id: results[check.id] for check in found}}))
                if found else alert for alert, found in zip(alerts, wanted, strict=True)]

    async def _results(self, checks: Mapping[str, Check]) -> dict[str, str]:
        now = self.state.clock.now()
        last = await self.state.store.read(
            lambda reader: {state.check_id: state.last_run for state in reader.checks.states()
                            if state.check_id in checks})
        results = {check_id: _text(run) for check_id, run in last.items()
                   if _fresh(run, checks[check_id], now)}
        stale = [check for check_id, check in checks.items() if check_id not in results]
        limit = max((check.timeout.total_seconds() for check in stale), default=0) + GRACE

        async def run(check: Check) -> None:
            found = await self._shared(check)
            if found is not None:
                results[check.id] = found

        with trio.move_on_after(limit):
            async with trio.open_nursery() as nursery:
                for check in stale:
                    nursery.start_soon(run, check)
        for check in stale:
            results.setdefault(check.id, f"unknown: no result within {limit:g}s")
        return results

    async def _shared(self, check: Check) -> str | None:
        """`check`'s result, from the run another request started if one is under way,
        else from a run started here that later requests share; None when the run that
        was under way was given up (its requester's wait ended first)."""
        flight = self._in_flight.get(check.id)
        if flight is not None:
            await flight.done.wait()
            return flight.result
        measure = self.measure
        assert measure is not None
        flight = self._in_flight[check.id] = _InFlight()
        try:
            flight.result = _text(await measure(check))
        finally:  # done or given up: later requests start their own
            del self._in_flight[check.id]
            flight.done.set()
        return flight.result

    @staticmethod
    def note(transaction: Transaction, numbers: Sequence[int | None],
             alerts: Sequence[Alert], now: datetime) -> None:
        """A `health context` entry on each incident (by number) opened with a context, in
        the ingest's own unit of work."""
        for number, alert in zip(numbers, alerts, strict=True):
            details = {name[len(PREFIX):]: value for name, value in alert.annotations.items()
                       if name.startswith(PREFIX)}
            if number is not None and details:
                transaction.add_timeline(number, [TimelineEntry(
                    at=now, actor="router", action="health context", details=details)])


def health_note(alert: Alert) -> str:
    """The note a first page carries (`Notification.note`): the alert's health context as
    JSON, check id -> result, which templates see as `health`; "" without one."""
    found = {name[len(PREFIX):]: value for name, value in alert.annotations.items()
             if name.startswith(PREFIX)}
    return json.dumps(found, sort_keys=True) if found else ""


def _fresh(run: CheckRun, check: Check, now: datetime) -> bool:
    return now - run.started_at < check.interval


def _text(run: CheckRun) -> str:
    return f"{run.status}: {run.message}"
