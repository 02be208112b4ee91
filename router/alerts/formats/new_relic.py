"""New Relic webhooks, classic and workflow (room: alerts.formats; imports alerts.model,
errors).

New Relic sends two shapes. The classic notification channel's default payload carries
`condition_id`, `incident_id` and `policy_name` with `current_state`; a workflow's webhook
destination sends its default template (`id` the issue id, `issueUrl`, `title`, `priority`,
`state`, `alertPolicyNames`, ...). `parse` reads either, telling them apart by `issueUrl`.

Classic:
| Alert field | from                                                                          |
| ----------- | ----------------------------------------------------------------------------- |
| summary     | `condition_name`, else `policy_name`                                          |
| status      | `current_state` (any case): open firing, acknowledged, closed resolved;       |
|             | absent (a channel test): firing; anything else is refused                     |
| severity    | `severity`: CRITICAL critical, WARNING warning, INFO info; else warning       |
| dedup_key   | `new_relic:incident:` + `incident_id`                                         |
| labels      | `policy`, `condition`, `condition_id`, `account_id`, each target's `labels`   |
|             | and the first target's `name` as `target`                                     |
| annotations | `description`: `details`; `condition_description`                             |
| times       | `timestamp` (epoch ms): starts_at when firing, ends_at when closed            |
| links       | `incident_url`, `runbook_url`, `policy_url`                                   |

Workflow:
| Alert field | from                                                                          |
| ----------- | ----------------------------------------------------------------------------- |
| summary     | `title` (text, or the first of a list)                                        |
| status      | `state`: CREATED, ACTIVATED firing; ACKNOWLEDGED; CLOSED resolved             |
| severity    | `priority`: CRITICAL critical, HIGH error, MEDIUM warning, LOW info           |
| dedup_key   | `new_relic:issue:` + `id`                                                     |
| labels      | `policy`, `condition`, `entities`, `workflow` (names joined by ',')           |
| times       | `createdAt` (epoch ms) when firing, `updatedAt` when closed                   |
| links       | `issueUrl`                                                                    |
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType

from router.alerts.formats import _fields, _json
from router.alerts.model import Alert, Link, Severity, Status
from router.errors import BadRequest

SOURCE = "new_relic"

CLASSIC_STATES: Mapping[str, Status] = {
    "open": Status.FIRING, "acknowledged": Status.ACKNOWLEDGED, "closed": Status.RESOLVED,
}
CLASSIC_SEVERITIES: Mapping[str, Severity] = {
    "critical": Severity.CRITICAL, "warning": Severity.WARNING, "info": Severity.INFO,
}
WORKFLOW_STATES: Mapping[str, Status] = {
    "CREATED": Status.FIRING, "ACTIVATED": Status.FIRING,
    "ACKNOWLEDGED": Status.ACKNOWLEDGED, "CLOSED": Status.RESOLVED,
}
PRIORITIES: Mapping[str, Severity] = {
    "CRITICAL": Severity.CRITICAL, "HIGH": Severity.ERROR, "MEDIUM": Severity.WARNING,
    "LOW": Severity.INFO,
}
CLASSIC_LINKS = (("incident_url", "New Relic incident"), ("runbook_url", "Runbook"),
                 ("policy_url", "Alert policy"))
CLASSIC_DETAILS = ("account_name", "event_type", "duration", "owner",
                   "incident_acknowledge_url", "open_violations_count_critical",
                   "open_violations_count_warning")
WORKFLOW_DETAILS = ("totalIncidents", "trigger", "isCorrelated", "sources")


def parse_decoded(decoded: object, headers: Mapping[str, str], *,
                  limits: _json.FieldLimits, now: datetime) -> list[Alert]:
    """The alert of one New Relic notification, classic or workflow.

    Raises:
        BadRequest: naming the field at fault.
    """
    document = _json.as_object(decoded, "", "a JSON object (a New Relic webhook)")
    if "issueUrl" in document:
        return [_workflow(document, limits)]
    return [_classic(document, limits)]


parse = _json.from_bytes(parse_decoded)
"""The same, from the body's bytes (contract.Format)."""


def _classic(document: Mapping[str, object], limits: _json.FieldLimits) -> Alert:
    summary = _fields.scalar(document, "condition_name", "") or _fields.scalar(
        document, "policy_name", "")
    if summary is None or not summary.strip():
        raise BadRequest("condition_name", "is required (or policy_name)")
    incident = _fields.scalar(document, "incident_id", "")
    if incident is None:
        raise BadRequest("incident_id", "is required")
    state = _fields.scalar(document, "current_state", "")
    status = Status.FIRING if state is None else _json.choice(
        {"current_state": state.lower()}, "current_state", "", CLASSIC_STATES)
    severity = CLASSIC_SEVERITIES.get((_fields.scalar(document, "severity", "") or "").lower(),
                                      Severity.WARNING)
    moment = _fields.epoch_milliseconds(document, "timestamp", "")
    annotations = {name: value for name, value in (
        ("description", _fields.scalar(document, "details", "")),
        ("condition_description", _fields.scalar(document, "condition_description", "")),
    ) if value}
    return Alert(
        summary=summary, source=SOURCE, severity=severity, status=status,
        labels=_fields.checked(_classic_labels(document), "targets", "label", limits),
        annotations=_fields.checked(annotations, "", "annotation", limits),
        details=_details(document, CLASSIC_DETAILS),
        dedup_key=f"new_relic:incident:{incident}",
        starts_at=moment if status is Status.FIRING else None,
        ends_at=moment if status is Status.RESOLVED else None,
        links=_json.url_links(document, "", CLASSIC_LINKS),
    )


def _classic_labels(document: Mapping[str, object]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for position, target in enumerate(_fields.entries(document, "targets", "")):
        path = _json.index("targets", position)
        item = _json.as_object(target, path)
        labels.update(_fields.text_labels(_fields.mapping(item, "labels", path),
                                          _json.member(path, "labels")))
        name = _fields.scalar(item, "name", path)
        if name and "target" not in labels:
            labels["target"] = name
    for label, key in (("policy", "policy_name"), ("condition", "condition_name"),
                       ("condition_id", "condition_id"), ("account_id", "account_id")):
        value = _fields.scalar(document, key, "")
        if value:
            labels[label] = value
    return labels


def _workflow(document: Mapping[str, object], limits: _json.FieldLimits) -> Alert:
    title = document.get("title")
    if isinstance(title, list):
        title = title[0] if title else None
    summary = _json.required_text({"title": title}, "title", "")
    issue = _fields.scalar(document, "id", "")
    if issue is None:
        raise BadRequest("id", "is required (the workflow template's {{ json issueId }})")
    state = _json.choice(document, "state", "", WORKFLOW_STATES)
    priority = PRIORITIES.get(_fields.scalar(document, "priority", "") or "", Severity.WARNING)
    labels = {}
    for label, key in (("policy", "alertPolicyNames"), ("condition", "alertConditionNames"),
                       ("entities", "impactedEntities")):
        value = document.get(key)
        joined = _fields.names(value) if isinstance(value, list) else _fields.scalar(
            document, key, "")
        if joined:
            labels[label] = joined
    workflow = _fields.scalar(document, "workflowName", "")
    if workflow:
        labels["workflow"] = workflow
    created = _fields.epoch_milliseconds(document, "createdAt", "")
    updated = _fields.epoch_milliseconds(document, "updatedAt", "")
    return Alert(
        summary=summary, source=SOURCE, severity=priority, status=state,
        labels=_fields.checked(labels, "", "label", limits),
        details=_details(document, WORKFLOW_DETAILS),
        dedup_key=f"new_relic:issue:{issue}",
        starts_at=created if state is Status.FIRING else None,
        ends_at=updated if state is Status.RESOLVED else None,
        links=(Link(href=_json.required_text(document, "issueUrl", ""), text="New Relic issue"),),
    )


def _details(document: Mapping[str, object], keys: tuple[str, ...]) -> Mapping[str, str]:
    details = {}
    for key in keys:
        value = document.get(key)
        if value is not None and value != "":
            details[key] = _json.detail_text(value, key)
    return MappingProxyType(details)
