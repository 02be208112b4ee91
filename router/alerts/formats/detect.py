"""Which format a body is in, from its top-level fields (room: alerts.formats; imports
alerts.model, errors).

`POST /v1/ingest` takes any tool's webhook. The body is decoded once and its top level (or,
for a list, its first entry) compared with what each format's payload always carries, most
specific first and the generic reading last; then only the chosen format reads the decoded
body (`parse_decoded`: contract.DecodedFormat), without decoding it again. So the work is
one decode and a few key lookups besides the parse, whatever the body's size: no format is
tried on a body another one could have claimed.

A body no format claims is a `Undetected`, a BadRequest that lists what each looked for.
The generic reading (`GENERIC`) is a fixed mapping for payloads that carry an `alerts` list
or a `name`/`title`; the config's own generic webhooks have their own routes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from router.alerts.formats import (
    _json,
    alertmanager,
    alertmanager_v2,
    datadog,
    generic,
    grafana,
    native,
    new_relic,
    opsgenie,
    pagerduty_webhook,
    zabbix,
)
from router.alerts.formats.contract import DecodedFormat, Format
from router.alerts.model import Alert
from router.errors import BadRequest

Top = Mapping[str, object]


@dataclass(frozen=True, slots=True)
class Candidate:
    """One format auto-detection may choose: its name (the alerts' source), what it looks
    for in words (the 400 lists them), and the test over the body's top level."""

    name: str
    looks_for: str
    matches: Callable[[Top], bool]
    inbound: DecodedFormat
    in_list: bool = False  # tested on a list body's first entry instead of an object


@dataclass(frozen=True, slots=True)
class _AutoMapping:
    """The generic reading's field mapping (generic.GenericMappingLike): the fields most
    in-house senders use, unknown statuses and severities taken as firing and warning."""

    summary: str
    alerts: str | None = None
    name: str = "auto"
    severity: str | None = "severity"
    status: str | None = "status"
    dedup_key: str | None = "dedup_key"
    service: str | None = "service"
    labels: str | Mapping[str, str] | None = "labels"
    annotations: str | Mapping[str, str] | None = "annotations"
    severity_map: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    status_map: Mapping[str, str] = field(default_factory=lambda: _STATUS_WORDS)
    default_severity: str | None = "warning"
    default_status: str | None = "firing"


_STATUS_WORDS: Mapping[str, str] = MappingProxyType({
    "ok": "resolved", "OK": "resolved", "problem": "firing", "alerting": "firing",
    "triggered": "firing", "open": "firing", "closed": "resolved",
})


class _Generic:
    """The generic reading as a `Format`: `title`, else `name`, is the summary; an `alerts`
    list is a batch, each entry read alike."""

    def parse(self, body: bytes, headers: Mapping[str, str], *, limits: _json.FieldLimits,
              now: datetime) -> list[Alert]:
        return self.parse_decoded(_json.decode(body), headers, limits=limits, now=now)

    def parse_decoded(self, document: object, headers: Mapping[str, str], *,
                      limits: _json.FieldLimits, now: datetime) -> list[Alert]:
        if isinstance(document, dict) and isinstance(document.get("alerts"), list):
            entries = document["alerts"]
            first = entries[0] if entries and isinstance(entries[0], dict) else {}
            mapping = _AutoMapping(summary=_summary_key(first), alerts="alerts")
        else:
            top = document if isinstance(document, dict) else {}
            mapping = _AutoMapping(summary=_summary_key(top))
        return generic.parse_document(document, mapping, limits=limits)


GENERIC = _Generic()
"""The generic reading; its alerts' source is `generic:auto`."""


def _summary_key(entry: Top) -> str:
    return "title" if "title" in entry else "name"


def _has(*keys: str) -> Callable[[Top], bool]:
    return lambda top: all(top.get(key) is not None for key in keys)


def _pagerduty(top: Top) -> bool:
    event = top.get("event")
    return (isinstance(event, dict) and "event_type" in event) or isinstance(
        top.get("messages"), list)


def _grafana(top: Top) -> bool:
    return _has("orgId", "state", "title")(top) or _has("alerts", "dashboardId")(top)


def _alertmanager(top: Top) -> bool:
    return isinstance(top.get("alerts"), list) and "status" in top and any(
        key in top for key in ("groupKey", "receiver", "groupLabels"))


def _datadog(top: Top) -> bool:
    return _has("alert_id", "alert_type", "alert_transition")(top) or _has(
        "title", "body", "event_type", "last_updated")(top)


def _new_relic(top: Top) -> bool:
    return _has("condition_id", "incident_id", "policy_name")(top) or _has(
        "issueUrl", "state", "title")(top)


def _opsgenie(top: Top) -> bool:
    return (isinstance(top.get("alert"), dict) and "action" in top) or "integrationId" in top


def _generic(top: Top) -> bool:
    return isinstance(top.get("alerts"), list) or "name" in top or "title" in top


CANDIDATES: tuple[Candidate, ...] = (
    Candidate("pagerduty_webhook", "event.event_type (V3), or a messages list (V2)",
              _pagerduty, pagerduty_webhook),
    Candidate("grafana", "orgId + state + title, or alerts + dashboardId", _grafana, grafana),
    Candidate("alertmanager", "alerts + status + one of groupKey/receiver/groupLabels",
              _alertmanager, alertmanager),
    Candidate("datadog", "alert_id + alert_type + alert_transition, or Datadog's default "
              "payload's title + body + event_type + last_updated", _datadog, datadog),
    Candidate("new_relic", "condition_id + incident_id + policy_name, or issueUrl + state + "
              "title (workflow)", _new_relic, new_relic),
    Candidate("opsgenie", "alert + action, or integrationId", _opsgenie, opsgenie),
    Candidate("zabbix", "event_id + trigger_id + trigger_name + trigger_severity",
              _has("event_id", "trigger_id", "trigger_name", "trigger_severity"), zabbix),
    Candidate("native", "summary", _has("summary"), native),
    Candidate("native", "a list of alerts with summary", _has("summary"), native,
              in_list=True),
    Candidate("alertmanager_v2", "a list of alerts with labels (no summary)", _has("labels"),
              alertmanager_v2, in_list=True),
    Candidate("generic", "an alerts list, or a name or title field", _generic, GENERIC),
)
"""Most specific first, the generic reading last: the first that matches is chosen."""

FORCED: Mapping[str, Format] = MappingProxyType(
    {candidate.name: candidate.inbound for candidate in CANDIDATES})
"""What `POST /v1/ingest/{format}` may name: every format detection may choose."""


class Undetected(BadRequest):
    """No format claims the body; `looked_for` lists (format, what it looks for)."""

    def __init__(self, looked_for: tuple[tuple[str, str], ...]) -> None:
        super().__init__("", "no format accepts this payload: "
                             + "; ".join(f"{name}: {what}" for name, what in looked_for))
        self.looked_for = looked_for


class Refused(BadRequest):
    """The format chosen for a body refused it; `format` names the format."""

    def __init__(self, chosen: str, refusal: BadRequest) -> None:
        super().__init__(refusal.field, refusal.message)
        self.format = chosen


def choose(document: object) -> Candidate:
    """The first candidate whose fields the decoded body's top level carries.

    Raises:
        Undetected: none does.
    """
    if isinstance(document, list):
        top = document[0] if document and isinstance(document[0], dict) else None
    else:
        top = document if isinstance(document, dict) else None
    if top is not None:
        for candidate in CANDIDATES:
            if candidate.in_list == isinstance(document, list) and candidate.matches(top):
                return candidate
    raise Undetected(tuple((candidate.name, candidate.looks_for) for candidate in CANDIDATES))


def parse(body: bytes, headers: Mapping[str, str], *, limits: _json.FieldLimits,
          now: datetime) -> tuple[str, list[Alert]]:
    """The format detected for `body` and its alerts, parsed by that format alone.

    Raises:
        BadRequest: the body is not JSON; Undetected: no format claims it; Refused: the
            chosen format refuses it, naming the field.
    """
    document = _json.decode(body)
    candidate = choose(document)
    try:
        return candidate.name, candidate.inbound.parse_decoded(document, headers, limits=limits,
                                                               now=now)
    except BadRequest as refusal:
        raise Refused(candidate.name, refusal) from None
