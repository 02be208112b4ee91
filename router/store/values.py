"""The values the store's interface passes in and out (room: store; imports config.model,
alerts.model): rows as records, whatever the database underneath. store/interface.py names
them in its Protocols; the query modules (outbox.py, overrides.py, retention.py) build them.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Literal

from router.alerts.model import Incident, Notification, Silence, TimelineEntry
from router.config.model import Override

Outcome = Literal["delivered", "retry", "failed", "skipped"]


@dataclass(frozen=True, slots=True)
class IncidentDetail:
    """An incident with its alerts (as JSON-ready mappings) and its timeline; `*_omitted`
    count the older ones a limited read (`Reader.detail(number, limit)`) left out."""

    incident: Incident
    alerts: tuple[Mapping[str, Any], ...]
    timeline: tuple[TimelineEntry, ...]
    alerts_omitted: int = 0
    timeline_omitted: int = 0


@dataclass(frozen=True, slots=True)
class Peek:
    """An open incident and the silences in force, as the store holds them in memory, read
    on the trio thread with no round trip to the store's thread (`Store.peek`). It may be
    stale by the time a unit runs: the unit asks `Transaction.unchanged(seen)` first.
    `incident` is None in what `Store.peek_absent` answers: no incident is open for the key."""

    incident: Incident | None
    firing: frozenset[str]
    silences: list[Silence]
    seen: object
    """What `Transaction.unchanged` compares against what the store holds then (opaque)."""


@dataclass(frozen=True, slots=True)
class Due:
    """A pending notification whose time has come, with its incident as it is now."""

    notification: Notification
    incident: Incident
    attempts: int
    trace_id: str = ""
    """The ingest request that caused it, for the log lines ("" for timers, acks...)."""
    send_at: datetime | None = None
    """When its channel's shared rate limit lets it be sent (store/claims.py): None when the
    channel has no rate, or it was read without a claim."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Attempt:
    """One delivery attempt, as the delivery log keeps it."""

    notification_id: str
    incident_number: int | None
    channel: str
    target: str
    event: str
    attempt: int
    attempted_at: datetime
    outcome: Outcome
    status_code: int | None = None
    latency_ms: float | None = None
    error: str | None = None


RUN_TIME_ORDER = sys.maxsize
"""The rank of every run-time override: above any override of the config. Among themselves
they rank by creation (they reach `core.oncall` in that order), so the newest wins."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RotaOverride:
    """`person` is on call in `rota` during [start, end) instead of `replaces` (None: the
    whole rota), created at run time; `removed_at` is set once someone removed it."""

    id: str
    rota: str
    person: str
    start: datetime
    end: datetime
    reason: str
    created_at: datetime
    replaces: str | None = None
    created_by: str = ""
    removed_at: datetime | None = None

    @property
    def until(self) -> datetime:
        """When it stops applying: its end, or its removal if that came first."""
        return self.end if self.removed_at is None else min(self.end, self.removed_at)

    def as_override(self) -> Override:
        """The override as `core.oncall` applies it: ranked above the config's, cut short
        at its removal."""
        return Override(person=self.person, start=self.start, end=max(self.start, self.until),
                        replaces=self.replaces, reason=self.reason, order=RUN_TIME_ORDER)


@dataclass(frozen=True, slots=True)
class Pruned:
    """Rows removed (or that would be), by kind."""

    incidents: int = 0
    alerts: int = 0
    timeline: int = 0
    notifications: int = 0
    deliveries: int = 0
    silences: int = 0

    def __add__(self, other: Pruned) -> Pruned:
        return Pruned(*(getattr(self, name) + getattr(other, name) for name in _NAMES))

    @property
    def rows(self) -> int:
        return sum(getattr(self, name) for name in _NAMES)

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in _NAMES}


_NAMES = tuple(field.name for field in fields(Pruned))


@dataclass(frozen=True, slots=True)
class Measure:
    """How big the store is."""

    rows: dict[str, int]
    database_bytes: int
    wal_bytes: int
    free_bytes: int
    """Pages the file holds but no table uses (given back by `reclaim`, or by VACUUM)."""
    incremental_vacuum: bool
    oldest_resolved: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckRun:
    """One run of a local health check, as its audit trail keeps it: `status` ok, warning,
    critical or unknown; `error` what went wrong running it (a timeout, a probe's
    exception); `incident_id` the incident its alert opened, changed or resolved."""

    check_id: str
    started_at: datetime
    status: str
    message: str
    metrics: Mapping[str, float]
    duration_ms: float
    error: str | None = None
    trace_id: str = ""
    incident_id: str | None = None
    id: int = 0
    """The store's number for the run (0 before it is stored)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckState:
    """A check's status now, since when, and its last run."""

    check_id: str
    status: str
    since: datetime
    last_run: CheckRun


@dataclass(frozen=True, slots=True, kw_only=True)
class HeartbeatRecord:
    """A heartbeat as the store keeps it (store/heartbeats.py): its state (`new`, `up`,
    `missed`, `failed`), since when router watches it, its last ping and what that said
    (a `success`, `start` or `failure`, the exit code, the body's tail), its last success
    (what the deadline counts from), and its deadline: the due time of its timer, None
    while missed or failed (the next successful ping sets one)."""

    id: str
    state: str
    watched_since: datetime
    last_ping_at: datetime | None = None
    last_signal: str | None = None
    last_exit_code: int | None = None
    last_message: str = ""
    started_at: datetime | None = None
    last_success_at: datetime | None = None
    pings: int = 0
    deadline: datetime | None = None


JobStatus = Literal["started", "succeeded", "failed", "timed_out"]


@dataclass(frozen=True, slots=True, kw_only=True)
class JobRun:
    """One run of a batch job as reported (`router exec`, `POST /v1/jobs/{id}/runs`) or
    ended by router's timeout timer; `timeout_at` is when a started run times out (None:
    never), `duration` seconds as the runner measured them."""

    job: str
    run_id: str
    status: JobStatus
    started_at: datetime
    exit_code: int | None = None
    duration: float | None = None
    output: str = ""
    ended_at: datetime | None = None
    timeout_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class JobAlert:
    """One of a job's alert targets: a webhook URL or an email address told of its failed
    (`on_failure`) and timed-out (`on_timeout`) runs through a channel of that type
    (`channel`; None: the config's first)."""

    id: str
    job: str
    alert_type: Literal["webhook", "email"]
    target: str
    created_at: datetime
    on_failure: bool = True
    on_timeout: bool = True
    channel: str | None = None
    created_by: str = ""


AnalysisStatus = Literal["pending", "running", "succeeded", "failed"]


@dataclass(frozen=True, slots=True, kw_only=True)
class AnalysisRun:
    """One run of an incident's analysis, as its audit trail keeps it (issue 21 item 5).

    `recommendations` and `findings` are JSON-ready (the store knows no analysis types);
    `settings` are the provider's settings with every secret-like key redacted before they
    reach the store; token counts are None where the provider gave none."""

    id: str
    incident_number: int
    provider: str
    model: str = ""
    status: AnalysisStatus = "pending"
    error: str = ""
    fallback_used: bool = False
    input_summary: str = ""
    recommendations: tuple[Mapping[str, Any], ...] = ()
    summary: str = ""
    probable_cause: str = ""
    confidence: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    findings: Mapping[str, Any] = field(default_factory=dict)
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    duration_ms: float | None = None
    trace_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class PastIncidents:
    """Incidents like one (same dedup key, or same label set) opened since a moment: how
    many, the last, the median minutes to acknowledge and to resolve (None when none was),
    and who resolved the latest ones with the notes they left (newest first)."""

    count: int
    last_opened_at: datetime | None
    median_minutes_to_acknowledge: float | None
    median_minutes_to_resolve: float | None
    resolutions: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadLetter:
    """A notification the deliverer gave up on (outbox state `failed`): where it was going,
    how many attempts it had, when it failed and why (its last error)."""

    notification_id: str
    incident_number: int | None  # 0 or None: a direct message, about no incident
    channel: str
    target: str
    event: str
    attempts: int
    created_at: datetime
    failed_at: datetime | None
    error: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeRecord:
    """A router sharing the store (a node of the cluster, issue 18): who it is, where it
    runs, the config it runs on and when it last beat (store/nodes.py). What it holds:
    `claimed_notifications` counts the outbox rows it has claimed and not yet recorded (the
    outbox's `claimed_by`, issue 18 D6; None only for a record not read from a store).
    A node holds a timer only inside the unit that fires it (D6), so none is counted."""

    id: str
    host: str
    pid: int
    started_at: datetime
    config_revision: str
    last_beat: datetime
    claimed_notifications: int | None = None
