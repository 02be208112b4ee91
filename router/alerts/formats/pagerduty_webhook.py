"""PagerDuty's outgoing webhooks, V3 and V2 (room: alerts.formats; imports alerts.model,
errors).

So a team can chain PagerDuty into router while it migrates: PagerDuty's incidents become
router alerts. A V3 webhook carries one `event` (`event_type` `incident.triggered`, ...;
`data` the incident); a V2 webhook carries a `messages` list, each with an `event`
(`incident.trigger`, ...) and the `incident`. An incident's status is what counts; events
about anything but an incident (a note, a responder, a status update, a service) give no
alert.

| Alert field | from (V3: `event.data`; V2: each message's `incident`)                        |
| ----------- | ----------------------------------------------------------------------------- |
| summary     | `title`, required                                                             |
| status      | `status`: triggered firing, acknowledged, resolved; V3 without it: the event  |
|             | type (incident.acknowledged, incident.resolved, else firing)                  |
| severity    | `priority.summary` P1 critical, P2 error, P3 warning, P4 and P5 info; else    |
|             | `urgency` high error, low warning; else warning                               |
| dedup_key   | `pagerduty:` + the incident's `id` (the same through V2 and V3)               |
| labels      | `pagerduty_service` (`service.summary`, V2 `service.name`), `urgency`,        |
|             | `priority`, `escalation_policy`, `teams`                                      |
| starts_at   | `created_at` of a firing incident                                             |
| links       | `html_url`, as "PagerDuty incident"                                           |
| details     | `incident_number` (V3 `number`), the event's `event_type` and `id`            |
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType

from router.alerts.formats import _fields, _json
from router.alerts.model import Alert, Severity, Status

SOURCE = "pagerduty_webhook"

STATUSES: Mapping[str, Status] = {
    "triggered": Status.FIRING, "acknowledged": Status.ACKNOWLEDGED,
    "resolved": Status.RESOLVED,
}
EVENT_STATUSES: Mapping[str, Status] = {
    "incident.acknowledged": Status.ACKNOWLEDGED, "incident.resolved": Status.RESOLVED,
}
PRIORITIES: Mapping[str, Severity] = {
    "P1": Severity.CRITICAL, "P2": Severity.ERROR, "P3": Severity.WARNING,
    "P4": Severity.INFO, "P5": Severity.INFO,
}
URGENCIES: Mapping[str, Severity] = {"high": Severity.ERROR, "low": Severity.WARNING}


def parse_decoded(decoded: object, headers: Mapping[str, str], *,
                  limits: _json.FieldLimits, now: datetime) -> list[Alert]:
    """The alerts of one PagerDuty webhook, V3 (`event`) or V2 (`messages`).

    Raises:
        BadRequest: naming the field at fault.
    """
    document = _json.as_object(decoded, "",
                               "a JSON object (a PagerDuty webhook)")
    if "messages" in document:
        alerts = []
        for position, message in enumerate(_json.alert_list(document, "messages", "")):
            path = _json.index("messages", position)
            item = _json.as_object(message, path)
            if item.get("incident") is None:
                continue
            incident = _json.as_object(item["incident"], _json.member(path, "incident"))
            details = _event_details(item, "event", path)
            alerts.append(_alert(incident, _json.member(path, "incident"), None, details,
                                 limits))
        return alerts
    event = _json.as_object(document.get("event"), "event", "the V3 webhook's event object")
    event_type = _json.required_text(event, "event_type", "event")
    data = event.get("data")
    if not isinstance(data, dict) or data.get("type") != "incident":
        return []
    return [_alert(data, "event.data", EVENT_STATUSES.get(event_type, Status.FIRING),
                   _event_details(event, "event_type", "event"), limits)]


parse = _json.from_bytes(parse_decoded)
"""The same, from the body's bytes (contract.Format)."""


def _alert(incident: Mapping[str, object], path: str, fallback: Status | None,
           details: dict[str, str], limits: _json.FieldLimits) -> Alert:
    summary = _json.required_text(incident, "title", path)
    identity = _json.required_text(incident, "id", path)
    status = _json.choice(incident, "status", path, STATUSES, fallback)
    priority = _fields.scalar(_fields.mapping(incident, "priority", path), "summary",
                              _json.member(path, "priority"))
    urgency = _fields.scalar(incident, "urgency", path)
    number = _fields.scalar(incident, "number", path) or _fields.scalar(
        incident, "incident_number", path)
    if number:
        details["incident_number"] = number
    return Alert(
        summary=summary, source=SOURCE,
        severity=PRIORITIES.get(priority or "") or URGENCIES.get(urgency or "",
                                                                 Severity.WARNING),
        status=status,
        labels=_fields.checked(_labels(incident, path, priority, urgency), path, "label",
                               limits),
        details=MappingProxyType(details),
        dedup_key=f"pagerduty:{identity}",
        starts_at=(_json.timestamp(incident, "created_at", path)
                   if status is Status.FIRING else None),
        links=_json.url_links(incident, path, [("html_url", "PagerDuty incident")]),
    )


def _labels(incident: Mapping[str, object], path: str, priority: str | None,
            urgency: str | None) -> dict[str, str]:
    service = _fields.mapping(incident, "service", path)
    policy = _fields.mapping(incident, "escalation_policy", path)
    teams = [team.get("summary") for team in _fields.entries(incident, "teams", path)
             if isinstance(team, dict)]
    found = {
        "pagerduty_service": (_fields.scalar(service, "summary", path)
                              or _fields.scalar(service, "name", path)),
        "urgency": urgency, "priority": priority,
        "escalation_policy": _fields.scalar(policy, "summary", path),
        "teams": _fields.names(teams),
    }
    return {name: value for name, value in found.items() if value}


def _event_details(event: Mapping[str, object], type_key: str, path: str) -> dict[str, str]:
    details = {}
    for key, name in ((type_key, "event_type"), ("id", "event_id")):
        value = _fields.scalar(event, key, path)
        if value:
            details[name] = value
    return details
