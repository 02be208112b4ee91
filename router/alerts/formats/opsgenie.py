"""Opsgenie's outgoing webhook (room: alerts.formats; imports alerts.model, errors).

An Opsgenie Webhook integration posts `{action, alert, source, integrationId,
integrationName, ...}` for each action on an alert it is told to send. Create, Acknowledge,
UnAcknowledge, Close and Delete change the alert's state and become one alert each; every
other action (AddNote, AssignOwnership, AddTags, Escalate, ...) says nothing about whether
the alert fires, and gives no alert (the answer lists no incident).

| Alert field | from                                                                          |
| ----------- | ----------------------------------------------------------------------------- |
| summary     | `alert.message`, required                                                     |
| status      | `action`: Create, UnAcknowledge firing; Acknowledge acknowledged; Close,      |
|             | Delete resolved                                                               |
| severity    | `alert.priority`: P1 critical, P2 error, P3 warning, P4 and P5 info; else     |
|             | warning                                                                       |
| dedup_key   | `alert.alias`, else `alert.alertId` (the same key the sender gave Opsgenie)   |
| labels      | `alert.details` (text values), `entity` from `alert.entity`, `teams`          |
| annotations | `description` from `alert.description`, `tags` (joined by ',')                |
| starts_at   | `alert.createdAt` (epoch ms) of a firing alert                                |
| details     | `alertId`, `tinyId`, `username`, `source`, `integrationName`                  |
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType

from router.alerts.formats import _fields, _json
from router.alerts.model import Alert, Severity, Status
from router.errors import BadRequest

SOURCE = "opsgenie"

ACTIONS: Mapping[str, Status] = {
    "Create": Status.FIRING, "UnAcknowledge": Status.FIRING,
    "Acknowledge": Status.ACKNOWLEDGED, "Close": Status.RESOLVED, "Delete": Status.RESOLVED,
}
PRIORITIES: Mapping[str, Severity] = {
    "P1": Severity.CRITICAL, "P2": Severity.ERROR, "P3": Severity.WARNING,
    "P4": Severity.INFO, "P5": Severity.INFO,
}


def parse_decoded(decoded: object, headers: Mapping[str, str], *,
                  limits: _json.FieldLimits, now: datetime) -> list[Alert]:
    """The alert one Opsgenie webhook call describes; none for an action that does not
    change whether the alert fires.

    Raises:
        BadRequest: naming the field at fault.
    """
    document = _json.as_object(decoded, "", "a JSON object (an Opsgenie webhook)")
    action = _json.required_text(document, "action", "")
    alert = _json.as_object(document.get("alert"), "alert") if "alert" in document else None
    if alert is None:
        raise BadRequest("alert", "is required")
    status = ACTIONS.get(action)
    if status is None:
        return []
    summary = _json.required_text(alert, "message", "alert")
    dedup_key = _fields.scalar(alert, "alias", "alert") or _fields.scalar(
        alert, "alertId", "alert")
    labels = _fields.text_labels(_fields.mapping(alert, "details", "alert"), "alert.details")
    entity = _fields.scalar(alert, "entity", "alert")
    if entity:
        labels.setdefault("entity", entity)
    teams = _fields.names(_fields.entries(alert, "teams", "alert"))
    if teams:
        labels.setdefault("teams", teams)
    annotations = {name: value for name, value in (
        ("description", _fields.scalar(alert, "description", "alert")),
        ("tags", _fields.names(_fields.entries(alert, "tags", "alert"))),
    ) if value}
    return [Alert(
        summary=summary, source=SOURCE,
        severity=PRIORITIES.get(_fields.scalar(alert, "priority", "alert") or "",
                                Severity.WARNING),
        status=status,
        labels=_fields.checked(labels, "alert.details", "label", limits),
        annotations=_fields.checked(annotations, "alert", "annotation", limits),
        details=_details(document, alert),
        dedup_key=dedup_key,
        starts_at=(_fields.epoch_milliseconds(alert, "createdAt", "alert")
                   if status is Status.FIRING else None),
    )]


parse = _json.from_bytes(parse_decoded)
"""The same, from the body's bytes (contract.Format)."""


def _details(document: Mapping[str, object], alert: Mapping[str, object]) -> Mapping[str, str]:
    details = {}
    for key in ("alertId", "tinyId", "username", "source"):
        value = _fields.scalar(alert, key, "alert")
        if value:
            details[key] = value
    integration = _fields.scalar(document, "integrationName", "")
    if integration:
        details["integrationName"] = integration
    return MappingProxyType(details)
