"""Zabbix, through a webhook media type (room: alerts.formats; imports alerts.model, errors).

A Zabbix webhook media type runs a script with the parameters it declares, each a macro
Zabbix fills in; docs/formats.md gives the media type whose script posts those parameters
as one JSON object, named after their macros in lower case (`event_id` {EVENT.ID},
`trigger_name` {TRIGGER.NAME}, ...). Every value arrives as text; an empty one, or a macro
Zabbix could not resolve (left as `{EVENT.TAGS}`), counts as absent.

| Alert field | from                                                                          |
| ----------- | ----------------------------------------------------------------------------- |
| summary     | `trigger_name`, required                                                      |
| status      | `event_value` 0 (a recovery) resolved; else an update (`event_update_status`  |
|             | 1) with `event_ack_status` Yes acknowledged; else firing. Without             |
|             | `event_value`, `trigger_status` OK is resolved                                |
| severity    | `trigger_severity` (or `event_nseverity` 0-5): Disaster critical, High error, |
|             | Average and Warning warning, Information and Not classified info              |
| dedup_key   | `zabbix:` + `event_id` (a recovery's {EVENT.ID} is its problem's)             |
| labels      | `host` from `host_name`, `trigger_id`, and `event_tags` ("name:value, ...")   |
| service     | the `service` tag                                                             |
| annotations | `description` from `trigger_description`, `operational_data` from            |
|             | `event_opdata`                                                                |
| links       | `event_url` "Zabbix event", `trigger_url` "Trigger URL"                       |
| details     | `host_ip`, `item_value`, `event_source`, `event_date`, `event_time`           |
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType

from router.alerts.formats import _fields, _json
from router.alerts.model import Alert, Severity, Status
from router.errors import BadRequest

SOURCE = "zabbix"

SEVERITIES: Mapping[str, Severity] = {
    "disaster": Severity.CRITICAL, "high": Severity.ERROR, "average": Severity.WARNING,
    "warning": Severity.WARNING, "information": Severity.INFO, "not classified": Severity.INFO,
    "5": Severity.CRITICAL, "4": Severity.ERROR, "3": Severity.WARNING, "2": Severity.WARNING,
    "1": Severity.INFO, "0": Severity.INFO,
}
LINKS = (("event_url", "Zabbix event"), ("trigger_url", "Trigger URL"))
DETAILS = ("host_ip", "item_value", "event_source", "event_date", "event_time")
_UNRESOLVED = re.compile(r"\{[A-Z0-9_.]+\}")


def parse_decoded(decoded: object, headers: Mapping[str, str], *,
                  limits: _json.FieldLimits, now: datetime) -> list[Alert]:
    """The alert one Zabbix webhook call describes.

    Raises:
        BadRequest: naming the field at fault.
    """
    document = _json.as_object(decoded, "", "a JSON object (a Zabbix webhook)")
    summary = _value(document, "trigger_name")
    if summary is None or not summary.strip():
        raise BadRequest("trigger_name", "is required")
    event = _value(document, "event_id")
    if event is None:
        raise BadRequest("event_id", "is required")
    severity_text = _value(document, "trigger_severity") or _value(document, "event_nseverity")
    annotations = {name: value for name, value in (
        ("description", _value(document, "trigger_description")),
        ("operational_data", _value(document, "event_opdata")),
    ) if value}
    labels = _fields.checked(_labels(document), "event_tags", "label", limits)
    return [Alert(
        summary=summary, source=SOURCE,
        severity=SEVERITIES.get((severity_text or "").strip().lower(), Severity.WARNING),
        status=_status(document),
        labels=labels,
        annotations=_fields.checked(annotations, "", "annotation", limits),
        details=MappingProxyType({key: value for key in DETAILS
                                  if (value := _value(document, key))}),
        service=labels.get("service") or None,
        dedup_key=f"zabbix:{event}",
        links=_json.url_links({key: _value(document, key) for key, _ in LINKS}, "", LINKS),
    )]


parse = _json.from_bytes(parse_decoded)
"""The same, from the body's bytes (contract.Format)."""


def _value(document: Mapping[str, object], key: str) -> str | None:
    """A parameter's text; an unresolved macro (`{EVENT.TAGS}`) counts as absent."""
    value = _fields.scalar(document, key, "")
    if value is None or _UNRESOLVED.fullmatch(value.strip()):
        return None
    return value


def _status(document: Mapping[str, object]) -> Status:
    value = _value(document, "event_value")
    if value is None:
        trigger = (_value(document, "trigger_status") or "").strip().upper()
        return Status.RESOLVED if trigger == "OK" else Status.FIRING
    if value.strip() == "0":
        return Status.RESOLVED
    if value.strip() != "1":
        raise BadRequest("event_value", f"expected 1 (a problem) or 0 (a recovery), got "
                                        f"{_json.quote(value)}")
    update = (_value(document, "event_update_status") or "").strip()
    acknowledged = (_value(document, "event_ack_status") or "").strip().lower() == "yes"
    return Status.ACKNOWLEDGED if update == "1" and acknowledged else Status.FIRING


def _labels(document: Mapping[str, object]) -> dict[str, str]:
    """Event tags as labels ("name:value, name2:value2"; a repeated name joins its values
    with ',', gathered in lists so many repeats stay linear), plus the host and trigger
    id."""
    values: dict[str, list[str]] = {}
    for tag in (_value(document, "event_tags") or "").split(","):
        name, _, value = (part.strip() for part in tag.partition(":"))
        if name:
            found = values.setdefault(name, [])
            if value:
                found.append(value)
    labels = {name: ",".join(found) for name, found in values.items()}
    host = _value(document, "host_name")
    if host:
        labels.setdefault("host", host)
    trigger = _value(document, "trigger_id")
    if trigger:
        labels.setdefault("trigger_id", trigger)
    return labels
