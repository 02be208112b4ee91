"""Incidents and silences as JSON documents (room: views; imports alerts.model, store types
and errors only).

Pure functions from records to plain dicts that `json.dumps` takes as they are, shared by the
CLI (`--format json`) and the HTTP read API so both answer with one documented shape. Every
time is ISO 8601 in UTC (`2026-11-23T11:00:00+00:00`); a time that has not happened is null.

incident_json:
    {"id": "INC1", "summary": str, "state": "triggered|acknowledged|resolved",
     "severity": "critical|error|warning|info", "service": str|null, "source": str,
     "dedup_key": str, "escalation_policy": str|null, "level": int (0 before any page),
     "assigned_to": str|null, "alert_count": int, "suppressed_by": "silence:ID"|
     "suppression:ID"|"inhibition:RULE"|"time_interval:NAME"|null, "opened_at": time,
     "updated_at": time, "acknowledged_at": time|null, "acknowledged_by": str|null,
     "resolved_at": time|null, "labels": {str: str}}
detail_json:
    {"incident": incident_json, "alerts": [alert_json, ...], "timeline": [timeline_json, ...]}
    alert_json: {"received_at": time (first arrival), "last_received_at": time,
                 "count": int (arrivals: a repeat updates its alert instead of adding one),
                 "source": str, "status": "firing|acknowledged|resolved",
                 "summary": str, "severity": str, "labels": {...}, "annotations": {...},
                 "suppressed_by": str|null}
    timeline_json: {"at": time, "actor": str, "action": str, "details": {str: str}}
silence_json:
    {"id": "SIL-1a2b3c4d", "state": "pending|active|expired" (at `now`),
     "matchers": [{"name": str, "operator": "=|!=|=~|!~", "value": str}, ...],
     "starts_at": time, "ends_at": time, "reason": str, "created_by": str}
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from router.alerts.model import Incident as Incident  # re-exported for the server
from router.alerts.model import Silence as Silence  # re-exported for the server
from router.alerts.model import TimelineEntry
from router.redaction import redact_urls
from router.store import IncidentDetail
from router.store.outbox import Attempt


def instant_json(moment: datetime | None) -> str | None:
    """An aware datetime as ISO 8601 in UTC; None stays None."""
    return None if moment is None else moment.astimezone(UTC).isoformat()


def incident_json(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id,
        "summary": incident.summary,
        "state": incident.state.value,
        "severity": incident.severity.value,
        "service": incident.service,
        "source": incident.source,
        "dedup_key": incident.dedup_key,
        "escalation_policy": incident.escalation_policy,
        "level": incident.level,
        "repeats": incident.repeats,
        "assigned_to": incident.assigned_to,
        "alert_count": incident.alert_count,
        "suppressed_by": incident.suppressed_by,
        "opened_at": instant_json(incident.opened_at),
        "updated_at": instant_json(incident.updated_at),
        "acknowledged_at": instant_json(incident.acknowledged_at),
        "acknowledged_by": incident.acknowledged_by,
        "resolved_at": instant_json(incident.resolved_at),
        "labels": dict(incident.labels),
    }


def alert_json(alert: Mapping[str, Any]) -> dict[str, Any]:
    """One stored alert of an incident (a row of `IncidentDetail.alerts`)."""
    return {
        "received_at": instant_json(alert["received_at"]),
        "last_received_at": instant_json(alert["last_received_at"]),
        "count": alert["count"],
        "source": alert["source"],
        "status": alert["status"],
        "summary": alert["summary"],
        "severity": alert["severity"],
        "labels": dict(alert["labels"]),
        "annotations": dict(alert["annotations"]),
        "suppressed_by": alert["suppressed_by"],
    }


def timeline_json(entry: TimelineEntry) -> dict[str, Any]:
    return {"at": instant_json(entry.at), "actor": entry.actor, "action": entry.action,
            "details": dict(entry.details)}


def detail_json(detail: IncidentDetail) -> dict[str, Any]:
    return {
        "incident": incident_json(detail.incident),
        "alerts": [alert_json(alert) for alert in detail.alerts],
        "timeline": [timeline_json(entry) for entry in detail.timeline],
    }


def silence_state(silence: Silence, now: datetime) -> str:
    """`pending` before it starts, `active` while in force, `expired` from its end on."""
    if now < silence.starts_at:
        return "pending"
    return "active" if now < silence.ends_at else "expired"


def silence_json(silence: Silence, now: datetime) -> dict[str, Any]:
    return {
        "id": silence.id,
        "state": silence_state(silence, now),
        "matchers": [{"name": matcher.name, "operator": matcher.operator,
                      "value": matcher.value} for matcher in silence.matchers],
        "starts_at": instant_json(silence.starts_at),
        "ends_at": instant_json(silence.ends_at),
        "reason": silence.reason,
        "created_by": silence.created_by,
        # an until-resolved silence: the incidents whose resolve ends it
        **({"until_resolved": [f"INC{number}" for number in silence.covers]}
           if silence.covers else {}),
    }


def attempt_json(attempt: Attempt) -> dict[str, Any]:
    """One line of the delivery log."""
    return {
        "notification_id": attempt.notification_id,
        "incident_id": (f"INC{attempt.incident_number}"
                        if attempt.incident_number is not None else None),
        "channel": attempt.channel, "target": redact_urls(attempt.target),
        "event": attempt.event,
        "attempt": attempt.attempt, "attempted_at": instant_json(attempt.attempted_at),
        "outcome": attempt.outcome, "status_code": attempt.status_code,
        "latency_ms": attempt.latency_ms,
        "error": None if attempt.error is None else redact_urls(attempt.error),
    }
