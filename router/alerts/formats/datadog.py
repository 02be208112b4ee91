"""Datadog webhook (room: alerts.formats; imports alerts.model, errors).

Datadog's webhook body is whatever template the user pastes into the Webhooks tile, filled
with `$VARIABLES`. This module reads the template docs/formats.md recommends, whose keys are
the variable names in lower case, and also Datadog's default payload (`body`, `title`, `date`,
`id`, `event_type`, `last_updated`, `org`). Every value may be empty (Datadog leaves a variable
it has no value for empty), and empty counts as absent. A body sent with "Encode as form"
(`application/x-www-form-urlencoded`) is read as the same fields, flat.

| Alert field | from                                                                             |
| ----------- | -------------------------------------------------------------------------------- |
| summary     | `title` ($EVENT_TITLE), required                                                 |
| status      | `alert_transition` ($ALERT_TRANSITION): Triggered, Re-Triggered, Warn, Re-Warn,  |
|             | No Data, Re-No Data, Renotify are firing; Recovered is resolved; anything else  |
|             | is refused. Without it, the `[Triggered]`/`[Recovered]`... prefix of the title;  |
|             | without that, firing                                                             |
| severity    | `alert_priority` ($ALERT_PRIORITY) P1 critical, P2 error, P3 warning, P4 and P5  |
|             | info; else `alert_type` ($ALERT_TYPE) error, warning, info, success (info); else |
|             | warning                                                                          |
| dedup_key   | `alert_cycle_key`, else `aggreg_key` ($AGGREG_KEY), else `alert_id` ($ALERT_ID)  |
| labels      | `tags` ($TAGS) and `alert_scope`, "k:v, k2:v2" (a tag without ':' gets an empty  |
|             | value; a repeated name joins its values with ','), plus `host` from `hostname`   |
| service     | labels.service, if present                                                       |
| annotations | description: `text_only_msg`, else `body` ($EVENT_MSG)                           |
| starts_at   | `date` ($DATE, epoch milliseconds) of a firing event; ends_at: of a resolved one |
| links       | `link` ($LINK), as "Datadog event"                                               |
| details     | every other field, as text; a nested mapping `org: {id}` becomes `org.id`        |
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

from router.alerts.formats import _json
from router.alerts.model import Alert, Severity, Status
from router.errors import BadRequest

SOURCE = "datadog"

TRANSITIONS: Mapping[str, Status] = {
    "Triggered": Status.FIRING, "Re-Triggered": Status.FIRING,
    "Warn": Status.FIRING, "Re-Warn": Status.FIRING,
    "No Data": Status.FIRING, "Re-No Data": Status.FIRING,
    "Renotify": Status.FIRING, "Recovered": Status.RESOLVED,
}
PRIORITIES: Mapping[str, Severity] = {
    "P1": Severity.CRITICAL, "P2": Severity.ERROR, "P3": Severity.WARNING,
    "P4": Severity.INFO, "P5": Severity.INFO,
}
ALERT_TYPES: Mapping[str, Severity] = {
    "error": Severity.ERROR, "warning": Severity.WARNING,
    "info": Severity.INFO, "success": Severity.INFO,
}
MAPPED = frozenset({
    "title", "alert_transition", "alert_cycle_key", "aggreg_key", "tags", "alert_scope",
    "hostname", "text_only_msg", "body", "date", "link",
})

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TITLE_STATE = re.compile(r"\[(?:Re-)?(Triggered|Recovered|Warn|No Data)\b")
_MILLISECONDS = re.compile(r"[0-9]{1,15}", re.ASCII)
_FORM_FIELDS = 200
_WANTED = "a JSON object (a Datadog webhook)"


def parse(body: bytes, headers: Mapping[str, str], *, limits: _json.FieldLimits,
          now: datetime) -> list[Alert]:
    """The alert one Datadog webhook call describes.

    Raises:
        BadRequest: naming the field at fault.
    """
    return [_alert(_document(body, headers.get("content-type", "")), limits)]


def parse_decoded(decoded: object, headers: Mapping[str, str], *,
                  limits: _json.FieldLimits, now: datetime) -> list[Alert]:
    """`parse` of a JSON body already decoded (detect.py decodes it once)."""
    return [_alert(_json.as_object(decoded, "", _WANTED), limits)]


def _alert(event: Mapping[str, object], limits: _json.FieldLimits) -> Alert:
    summary = _json.required_text(event, "title", "")
    status = _status(event, summary)
    labels = _labels(event, limits)
    moment = _date(event)
    description = _value(event, "text_only_msg") or _value(event, "body")
    annotations = {"description": description} if description else {}
    _json.check_sizes(annotations, "", "annotation", limits,
                      lambda name: "text_only_msg" if _value(event, "text_only_msg") else "body")
    return Alert(
        summary=summary,
        source=SOURCE,
        severity=_severity(event),
        status=status,
        labels=labels,
        annotations=MappingProxyType(annotations),
        details=_details(event),
        service=labels.get("service") or None,
        dedup_key=(_value(event, "alert_cycle_key") or _value(event, "aggreg_key")
                   or _value(event, "alert_id")),
        starts_at=moment if status is Status.FIRING else None,
        ends_at=moment if status is Status.RESOLVED else None,
        links=_json.url_links(event, "", [("link", "Datadog event")]),
    )


def _document(body: bytes, content_type: str) -> dict[str, object]:
    if not content_type.lower().startswith("application/x-www-form-urlencoded"):
        return _json.as_object(_json.decode(body), "", _WANTED)
    try:
        fields = urllib.parse.parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, errors="strict",
            max_num_fields=_FORM_FIELDS,
        )
    except UnicodeDecodeError:
        raise BadRequest("", "the form body is not valid UTF-8") from None
    except ValueError:
        raise BadRequest("", f"a form body has at most {_FORM_FIELDS} fields") from None
    return dict(fields)


def _value(event: Mapping[str, object], key: str) -> str | None:
    """A field as text (a bare number is accepted: the user may have left off the quotes)."""
    value = event.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _json.text(event, key, "") or None


def _status(event: Mapping[str, object], title: str) -> Status:
    transition = _value(event, "alert_transition")
    if transition is not None:
        return _json.choice({"alert_transition": transition.strip()}, "alert_transition", "",
                            TRANSITIONS)
    state = _TITLE_STATE.search(title)
    if state is not None and state[1] == "Recovered":
        return Status.RESOLVED
    return Status.FIRING


def _severity(event: Mapping[str, object]) -> Severity:
    priority = (_value(event, "alert_priority") or "").strip().upper()
    if priority in PRIORITIES:
        return PRIORITIES[priority]
    alert_type = (_value(event, "alert_type") or "").strip().lower()
    return ALERT_TYPES.get(alert_type, Severity.WARNING)


def _labels(event: Mapping[str, object], limits: _json.FieldLimits) -> Mapping[str, str]:
    """Tags as labels; a repeated name joins its distinct values with ',' in order. Linear:
    the values seen are kept in a set, not looked for again in the joined text (which made
    100,000 values of one tag quadratic)."""
    values: dict[str, list[str]] = {}
    seen: set[tuple[str, str]] = set()
    for key in ("tags", "alert_scope"):
        for tag in (_value(event, key) or "").split(","):
            name, _, value = (part.strip() for part in tag.partition(":"))
            if not name:
                continue
            found = values.setdefault(name, [])
            if value and (name, value) not in seen:
                seen.add((name, value))
                found.append(value)
    labels = {name: ",".join(found) for name, found in values.items()}
    hostname = _value(event, "hostname")
    if hostname:
        labels.setdefault("host", hostname)
    _json.check_sizes(labels, "tags", "label", limits,
                      lambda name: _json.member("tags", name) if name in values else "hostname")
    return MappingProxyType(labels)


def _date(event: Mapping[str, object]) -> datetime | None:
    value = _value(event, "date")
    if value is None:
        return None
    if _MILLISECONDS.fullmatch(value.strip()) is None:
        raise BadRequest(
            "date", f"expected milliseconds since 1970 ($DATE), got {_json.quote(value)}"
        )
    try:
        return _EPOCH + timedelta(milliseconds=int(value))
    except OverflowError:
        raise BadRequest("date", f"{_json.quote(value)} is out of range") from None


def _details(event: Mapping[str, object]) -> Mapping[str, str]:
    details = {}
    for key, value in event.items():
        if key in MAPPED or value is None or value == "":
            continue
        if isinstance(value, dict):
            for inner, item in value.items():
                field = _json.member(key, inner)
                if item is not None and item != "":
                    details[field] = _json.detail_text(item, field)
        else:
            details[key] = _json.detail_text(value, key)
    return MappingProxyType(details)
