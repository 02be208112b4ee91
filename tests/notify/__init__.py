"""Tests of router/notify: channel modules as pure functions, and over real HTTP against the
stand-ins in tests/fakes/."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from router.alerts.model import Incident, IncidentState, Notification, Severity
from router.notify.wire import Message

OPENED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def make_message(*, event: str = "trigger", severity: Severity = Severity.CRITICAL,
                 labels: Mapping[str, str] | None = None, notification_id: str = "n1",
                 target: str = "channel:pager", address: str = "", test: bool = False,
                 **changes: Any) -> Message:
    """A Message about INC3 (dedup key `db-1/disk`, service `database`); `changes` replace
    Message fields, and `incident=` fields may be replaced with `incident_changes`."""
    incident = Incident(
        number=3, dedup_key="db-1/disk", service="database", summary="Disk full on db-1",
        severity=severity, state=IncidentState.TRIGGERED, opened_at=OPENED, updated_at=OPENED,
        source="native", labels=dict(labels if labels is not None else
                                     {"host": "db-1", "alertname": "DiskFull"}))
    incident = replace(incident, **changes.pop("incident_changes", {}))
    notification = Notification(id=notification_id, incident_number=3, channel="pager",
                                target=target, address=address, event=event,
                                created_at=OPENED)
    fields: dict[str, Any] = {
        "notification": notification, "incident": incident, "service_name": "Database",
        "incident_url": "https://router.example.com/incidents/INC3",
        "title": "INC3 Disk full on db-1", "text": "Disk / is 97% full on db-1.",
        "test": test,
    }
    fields.update(changes)
    return Message(**fields)
