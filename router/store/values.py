"""The values the store's interface passes in and out (room: store; imports config.model,
alerts.model): rows as records, whatever the database underneath. store/interface.py names
them in its Protocols; the query modules (outbox.py, overrides.py, retention.py) build them.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Literal

from router.alerts.model import Incident, Notification, Silence, TimelineEntry
from router.config.model import Override

Outcome = Literal["delivered", "retry", "failed", "skipped"]


@dataclass(frozen=True, slots=True)
class IncidentDetail:
    """An incident with its alerts (as JSON-ready mappings) and its timeline."""

    incident: Incident
    alerts: tuple[Mapping[str, Any], ...]
    timeline: tuple[TimelineEntry, ...]


@dataclass(frozen=True, slots=True)
class Peek:
    """An open incident and the silences in force, as the store holds them in memory, read
    on the trio thread with no round trip to the store's thread (`Store.peek`). It may be
    stale by the time a unit runs: the unit asks `Transaction.unchanged(seen)` first."""

    incident: Incident
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
