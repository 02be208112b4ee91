"""Row values <-> Python values, shared by the store's query modules (room: store; imports
alerts.model).

Times are stored as Unix seconds (REAL) so deadlines compare and index cheaply. Kept apart from
records.py so outbox.py, overrides.py and retention.py can use them while records.py gives
`Reader` and `Transaction` views over those modules, without an import loop.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from router.alerts.model import Incident, IncidentState, Severity

_INCIDENT_COLUMNS = (
    "number, dedup_key, service, summary, severity, state, source, escalation_policy, level, "
    "assigned_to, alert_count, suppressed_by, opened_at, updated_at, acknowledged_at, "
    "acknowledged_by, resolved_at, labels, firing, repeats"
)


def to_seconds(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def from_seconds(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def _incident(row: sqlite3.Row | Mapping[str, Any]) -> tuple[Incident, frozenset[str]]:
    incident = Incident(
        number=row["number"], dedup_key=row["dedup_key"], service=row["service"],
        summary=row["summary"], severity=Severity(row["severity"]),
        state=IncidentState(row["state"]), source=row["source"],
        escalation_policy=row["escalation_policy"], level=row["level"],
        assigned_to=row["assigned_to"], alert_count=row["alert_count"],
        suppressed_by=row["suppressed_by"],
        opened_at=from_seconds(row["opened_at"]),  # type: ignore[arg-type]
        updated_at=from_seconds(row["updated_at"]),  # type: ignore[arg-type]
        acknowledged_at=from_seconds(row["acknowledged_at"]),
        acknowledged_by=row["acknowledged_by"], resolved_at=from_seconds(row["resolved_at"]),
        labels=MappingProxyType(json.loads(row["labels"])), repeats=row["repeats"],
    )
    return incident, frozenset(json.loads(row["firing"]))
