"""Incident analysis as a use case (room: engine; imports analysis, core, store, config.model,
alerts.model, clock, redaction): when, in what, and with what result (issue 21).

An incident whose route or service has `analysis` gets a pending run in the SAME unit that
writes its first page, so the run exists exactly when the page is durable and never before.
After the commit a dispatcher hands pending runs to a bounded pool (`workers` tasks fed by a
queue of `queue` runs); a run that finds the queue full is recorded failed ("queue full")
instead of piling up. Each run calls its provider in a worker thread under the analysis's
`timeout`; its result is saved, written on the timeline and sent as a follow-up (event
`analysis`) to the incident's channels that ask for it (`follow_up: analysis`). Runs left
pending or running by a stop are queued again at the next start.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import trio

from router.alerts.model import Alert, Incident, Notification, TimelineEntry
from router.analysis.local import LocalProvider
from router.analysis.model import Provider, Request, Result
from router.analysis.openai import ModelProvider
from router.config.model import Analysis, AnalysisPool, Route, Service
from router.core.routing import route
from router.engine.health import PREFIX as HEALTH_PREFIX
from router.engine.ids import parse_incident_id
from router.engine.snapshot import Snapshot
from router.engine.state import EngineState
from router.errors import NotFound, StoreError
from router.redaction import redact_settings
from router.store import Reader, Transaction
from router.store.values import AnalysisRun, PastIncidents

logger = logging.getLogger(__name__)

EVENT = "analysis"
"""The follow-up notification's event, and the `follow_up` name a channel asks for it by."""
PAST_DAYS = 30
POLL = timedelta(minutes=1)
"""How often the dispatcher looks for pending runs no wake announced (a page a timer sent)."""


Pool = AnalysisPool
"""The analysis pool's bounds: runs at once, and runs waiting for a worker (the setting
`settings.analysis_pool`; its defaults live on the config model)."""


def provider_for(analysis: Analysis) -> Provider:
    """The provider `analysis` names; a model's falls back to the local one."""
    local = LocalProvider(analysis)
    if analysis.provider == "openai_compatible":
        return ModelProvider(analysis, fallback=local)
    return local


def choose(routes: tuple[Route, ...], service: Service | None) -> Analysis | None:
    """The first matched route's `analysis`, else the service's."""
    for item in routes:
        if item.analysis is not None:
            return item.analysis
    return service.analysis if service else None


def settings_of(analysis: Analysis) -> dict[str, Any]:
    """The provider's settings as the audit trail keeps them: secret-like keys redacted."""
    return redact_settings({
        "provider": analysis.provider, "base_url": analysis.base_url,
        "model": analysis.model, "api_key": "set" if analysis.api_key else "",
        "timeout": analysis.timeout.total_seconds(), "max_tokens": analysis.max_tokens,
        "top_processes": analysis.top_processes, "paths": list(analysis.paths),
        "max_files": analysis.max_files, "scan_time": analysis.scan_time.total_seconds()})


def checks_of(alerts: tuple[Mapping[str, Any], ...]) -> dict[str, dict[str, Any]]:
    """The check results an incident's alerts carry: attached checks' `health.<id>`
    annotations, and a local check's own status, message and metrics."""
    found: dict[str, dict[str, Any]] = {}
    for alert in alerts:
        annotations, labels = alert["annotations"], alert["labels"]
        for name, value in annotations.items():
            if name.startswith(HEALTH_PREFIX):
                found[name[len(HEALTH_PREFIX):]] = {
                    "status": str(value).partition(":")[0], "message": str(value)}
        if alert["source"] == "check" and "check" in labels:
            found[labels["check"]] = {
                "status": annotations.get("check_status", "unknown"),
                "message": annotations.get("message", ""),
                "metrics": {name[len("metric."):]: _number(value)
                            for name, value in annotations.items()
                            if name.startswith("metric.")}}
    return found


def _number(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


class Analyses:
    """The analysis use case over the engine's state. `providers` makes a provider of an
    `Analysis` (tests give stand-ins); `run` is the pool, started by the daemon."""

    def __init__(self, state: EngineState, *, pool: Pool | None = None,
                 providers: Callable[[Analysis], Provider] = provider_for) -> None:
        self.state = state
        self.pool = state.snapshot.config.settings.analysis_pool if pool is None else pool
        """The config's bounds when the engine was made: the running pool keeps them."""
        self.providers = providers
        self._woken = trio.Event()
        self._queued: set[str] = set()
        self._limiter = trio.CapacityLimiter(self.pool.workers)
        """Threads a provider may hold, including one abandoned at its timeout."""
        self.added = 0
        """Pending runs `add_pending` wrote (on the store's thread): a unit that wrote none
        need not wake the dispatcher, whose wake costs a read of the store (issue 15)."""

    def wake(self) -> None:
        """A unit committed that may have written a pending run."""
        self._woken.set()

    def add_pending(self, transaction: Transaction, snapshot: Snapshot, incident: Incident,
                    routes: tuple[Route, ...], now: datetime) -> None:
        """In the unit of the incident's first page: a pending run, if it opts in."""
        service = snapshot.config.services.get(incident.service or "")
        analysis = choose(routes, service)
        if analysis is None:
            return
        transaction.analysis.save(AnalysisRun(
            id=self.state.new_id(), incident_number=incident.number,
            provider=analysis.provider, model=analysis.model, settings=settings_of(analysis),
            created_at=now, trace_id=transaction.trace_id))
        self.added += 1

    async def request_again(self, incident_id: str, trace_id: str = "") -> AnalysisRun:
        """A new pending run of an incident (`POST /v1/incidents/{id}/analysis`).

        Raises:
            BadRequest: a malformed id. NotFound: no such incident, or no `analysis` for it.
        """
        number = parse_incident_id(incident_id)
        snapshot, now = self.state.snapshot, self.state.clock.now()

        def work(transaction: Transaction) -> AnalysisRun:
            incident = transaction.incident(number)
            if incident is None:
                raise NotFound(f"no incident INC{number}")
            analysis = self.configured(snapshot, incident)
            if analysis is None:
                raise NotFound(f"INC{number}: neither its route nor its service has analysis")
            run = AnalysisRun(id=self.state.new_id(), incident_number=number,
                              provider=analysis.provider, model=analysis.model,
                              settings=settings_of(analysis), created_at=now,
                              trace_id=trace_id)
            transaction.analysis.save(run)
            return run

        run = await self.state.store.write(work)
        self.wake()
        return run

    async def runs(self, incident_id: str) -> list[AnalysisRun]:
        """The incident's runs, newest first.

        Raises:
            NotFound: no such incident.
        """
        number = parse_incident_id(incident_id)

        def query(reader: Reader) -> list[AnalysisRun] | None:
            if reader.incident(number) is None:
                return None
            return reader.analysis.runs(number)
        found = await self.state.store.read(query)
        if found is None:
            raise NotFound(f"no incident INC{number}")
        return found

    @staticmethod
    def configured(snapshot: Snapshot, incident: Incident) -> Analysis | None:
        """The `analysis` in force for `incident`: routed again from its labels, as a
        held incident is when it pages (its service kept)."""
        alert = Alert(summary=incident.summary, source=incident.source,
                      severity=incident.severity, labels=incident.labels,
                      service=incident.service)
        decision = route(alert, snapshot.routes)
        return choose(decision.routes, snapshot.config.services.get(incident.service or ""))

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        """The pool: a dispatcher and `workers` workers, until cancelled."""
        send, receive = trio.open_memory_channel[str](self.pool.queue)
        async with trio.open_nursery() as nursery:
            for _ in range(self.pool.workers):
                nursery.start_soon(self._work, receive.clone())
            nursery.start_soon(self._dispatch, send)
            task_status.started()

    async def _dispatch(self, send: trio.MemorySendChannel[str]) -> None:
        """Hand each unfinished run not yet handed to the workers, in order of creation;
        one that does not fit the queue is failed at once. A store that cannot be read or
        written is tried again at the next wake or poll: the runs wait in it meanwhile."""
        while True:
            self._woken = trio.Event()
            try:
                await self._hand_over(send)
            except StoreError as error:
                logger.warning("analysis: the store failed, runs wait: %s", error)
            with trio.move_on_after(POLL.total_seconds()):
                await self._woken.wait()

    async def _hand_over(self, send: trio.MemorySendChannel[str]) -> None:
        unfinished = await self.state.store.read(lambda reader: reader.analysis.unfinished())
        for item in unfinished:
            if item.id in self._queued:
                continue
            try:
                send.send_nowait(item.id)
            except trio.WouldBlock:
                await self._finish(item, None, error="queue full")
                continue
            self._queued.add(item.id)

    async def _work(self, receive: trio.MemoryReceiveChannel[str]) -> None:
        async with receive:
            async for run_id in receive:
                try:
                    await self._analyse(run_id)
                except Exception:  # a run's failure must not stop the pool
                    logger.exception("analysis %s failed", run_id, extra={"run": run_id})
                finally:
                    self._queued.discard(run_id)

    async def _analyse(self, run_id: str) -> None:
        snapshot, now = self.state.snapshot, self.state.clock.now()
        loaded = await self.state.store.read(lambda reader: self._load(reader, run_id, now))
        if loaded is None:
            return
        run, request, incident = loaded
        analysis = self.configured(snapshot, incident)
        if analysis is None:
            await self._finish(run, None, error="analysis is no longer configured")
            return
        run = replace(run, status="running", started_at=now, provider=analysis.provider,
                      model=analysis.model, input_summary=request.summary())
        await self.state.store.write(lambda transaction: transaction.analysis.save(run))
        provider = self.providers(analysis)
        started = trio.current_time()
        result, error = None, ""
        with trio.move_on_after(analysis.timeout.total_seconds()) as scope:
            try:
                result = await trio.to_thread.run_sync(
                    provider.analyse, request, abandon_on_cancel=True, limiter=self._limiter)
            except Exception as failure:  # a provider's error is the run's, recorded
                error = f"{type(failure).__name__}: {failure}"
        if scope.cancelled_caught:
            error = f"no result in {analysis.timeout.total_seconds():g}s"
        await self._finish(run, result, error=error,
                           duration_ms=(trio.current_time() - started) * 1000)

    def _load(self, reader: Reader, run_id: str, now: datetime
              ) -> tuple[AnalysisRun, Request, Incident] | None:
        run = reader.analysis.run(run_id)
        if run is None or run.status not in ("pending", "running"):
            return None
        detail = reader.detail(run.incident_number)
        if detail is None:
            return None
        incident = detail.incident
        since = now - timedelta(days=PAST_DAYS)
        by_key = reader.analysis.past_by_key(incident.dedup_key, since, incident.number)
        by_labels = reader.analysis.past_by_labels(incident.labels, since, incident.number)
        annotations = detail.alerts[-1]["annotations"] if detail.alerts else {}
        request = Request(
            incident_id=incident.id, title=incident.summary, severity=incident.severity.value,
            service=incident.service, dedup_key=incident.dedup_key, source=incident.source,
            labels=incident.labels,
            annotations={name: str(value) for name, value in annotations.items()},
            checks=checks_of(detail.alerts),
            past={"by_key": _past_json(by_key), "by_labels": _past_json(by_labels)})
        return run, request, incident

    async def _finish(self, run: AnalysisRun, result: Result | None, *, error: str = "",
                      duration_ms: float | None = None) -> None:
        """Save the run's end; on success, its timeline entry and follow-ups too."""
        now = self.state.clock.now()
        done = _ended(run, result, error, now, duration_ms)
        config = self.state.snapshot.config

        def work(transaction: Transaction) -> None:
            transaction.analysis.save(done)
            transaction.add_timeline(done.incident_number, [_entry(done, now)])
            if done.status != "succeeded":
                return
            channels = [channel for channel in transaction.notified_channels(
                done.incident_number) if channel in config.channels
                and EVENT in config.channels[channel].follow_up]
            transaction.add_notifications(
                Notification(id=self.state.new_id(), incident_number=done.incident_number,
                             channel=channel, target=f"channel:{channel}", address="",
                             event=EVENT, created_at=now, note=json.dumps(note_of(done)))
                for channel in channels)

        await self.state.store.write(work)
        self.state.outbox_written()
        logger.info("analysis %s", done.status, extra={
            "incident": f"INC{done.incident_number}", "run": done.id, "status": done.status,
            "error": done.error, "trace_id": done.trace_id})


def _ended(run: AnalysisRun, result: Result | None, error: str, now: datetime,
           duration_ms: float | None) -> AnalysisRun:
    if result is None:
        return replace(run, status="failed", error=error or "no result", completed_at=now,
                       duration_ms=duration_ms)
    return replace(
        run, status="succeeded", error=result.error, fallback_used=result.fallback_used,
        model=result.model or run.model, summary=result.summary,
        probable_cause=result.probable_cause, confidence=result.confidence,
        recommendations=tuple(item.as_json() for item in result.recommendations),
        findings=dict(result.findings), prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens, total_tokens=result.total_tokens,
        completed_at=now, duration_ms=duration_ms)


def _entry(run: AnalysisRun, now: datetime) -> TimelineEntry:
    details = {"run": run.id, "provider": run.provider, "status": run.status}
    if run.status == "succeeded":
        details.update(summary=run.summary, recommendations=str(len(run.recommendations)))
        if run.fallback_used:  # and why: the model's failure, not the analysis's
            details.update(fallback_used="true", error=run.error)
    else:
        details["error"] = run.error
    return TimelineEntry(at=now, actor="router", action=f"analysis {run.status}",
                         details=details)


def note_of(run: AnalysisRun) -> dict[str, Any]:
    """What a follow-up carries and templates see as `analysis`."""
    return {"id": run.id, "status": run.status, "provider": run.provider, "model": run.model,
            "summary": run.summary, "probable_cause": run.probable_cause,
            "confidence": run.confidence, "fallback_used": run.fallback_used,
            "recommendations": [dict(item) for item in run.recommendations]}


def run_json(run: AnalysisRun) -> dict[str, Any]:
    """A run as the API and the CLI show it."""
    def moment(value: datetime | None) -> str | None:
        return value.isoformat() if value else None
    return {"id": run.id, "incident": f"INC{run.incident_number}", "provider": run.provider,
            "model": run.model, "status": run.status, "error": run.error,
            "fallback_used": run.fallback_used, "input_summary": run.input_summary,
            "summary": run.summary, "probable_cause": run.probable_cause,
            "confidence": run.confidence,
            "recommendations": [dict(item) for item in run.recommendations],
            "findings": dict(run.findings), "settings": dict(run.settings),
            "tokens": {"prompt": run.prompt_tokens, "completion": run.completion_tokens,
                       "total": run.total_tokens},
            "created_at": moment(run.created_at), "started_at": moment(run.started_at),
            "completed_at": moment(run.completed_at), "duration_ms": run.duration_ms,
            "trace_id": run.trace_id}


def _past_json(past: PastIncidents) -> dict[str, Any]:
    return {"count": past.count,
            "last_opened_at": past.last_opened_at.isoformat() if past.last_opened_at else None,
            "median_minutes_to_acknowledge": past.median_minutes_to_acknowledge,
            "median_minutes_to_resolve": past.median_minutes_to_resolve,
            "resolutions": [{**item, "notes": list(item["notes"])}
                            for item in past.resolutions]}
