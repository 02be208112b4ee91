"""The Alertmanager webhook, version 4 (room: alerts.formats; imports alerts.model, errors).

Alertmanager's `webhook_configs` receiver POSTs one group of alerts per request; each entry of
`alerts` becomes one Alert. The payload is parsed leniently: unknown keys are ignored, because
newer Alertmanagers add fields (`notification_reason` in 0.32, `routeLabels` in 0.34) and the
group-level fields (`groupKey`, `commonLabels`, ...) say nothing the alerts do not.

| Alert field  | from                                                                      |
| ------------ | ------------------------------------------------------------------------- |
| dedup_key    | the labels' identity (alerts/identity.py `alert_identity`, see below)     |
| status       | the alert's own `status`: firing or resolved (the group's is ignored)     |
| labels       | `labels` (required), text to text                                         |
| annotations  | `annotations`, text to text                                               |
| summary      | annotations.summary, else annotations.description, else labels.alertname, |
|              | else the labels as `name=value, ...`                                      |
| severity     | labels.severity through SEVERITIES, case-insensitively: critical and page |
|              | critical; error and high error; warning, warn and medium warning; info,   |
|              | low and none info; anything else, or no label, warning                    |
| service      | labels.service, if present                                                |
| starts_at    | `startsAt`; ends_at from `endsAt`; 0001-01-01T00:00:00Z (Go's zero time)  |
|              | means unset                                                               |
| links        | `generatorURL`, as "Source"                                               |

The dedup key is `x` and xxh3-64 of the sorted labels (alerts/identity.py), the same whether
an alert comes through this webhook or straight from Prometheus (alertmanager_v2), so both
join one incident. Alertmanager's own fingerprint (64-bit FNV-1a, `fingerprint`) is computed
only where it is shown: amtool's GET /api/v2/alerts. Before issue 15 it was the dedup key
itself; an incident opened then keeps it (engine/legacy_keys.py finds it).

The body is decoded into `Notification` structs by msgspec; a body that does not fit them goes
through the careful path over plain JSON values, which names the field at fault
(`_structs.or_careful`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import msgspec

from router.alerts.formats import _json, _structs
from router.alerts.identity import alert_identity
from router.alerts.identity import fingerprint as fingerprint  # Alertmanager's, for its API
from router.alerts.model import Alert, Link, Severity, Status
from router.errors import BadRequest

SOURCE = "alertmanager"

STATUSES: Mapping[str, Status] = {"firing": Status.FIRING, "resolved": Status.RESOLVED}

SEVERITIES: Mapping[str, Severity] = {
    "critical": Severity.CRITICAL,
    "page": Severity.CRITICAL,
    "error": Severity.ERROR,
    "high": Severity.ERROR,
    "warning": Severity.WARNING,
    "warn": Severity.WARNING,
    "medium": Severity.WARNING,
    "info": Severity.INFO,
    "low": Severity.INFO,
    "none": Severity.INFO,
}



class WebhookAlert(msgspec.Struct):
    """One entry of `alerts`, as msgspec decodes it; null counts as absent."""

    status: str
    labels: dict[str, str]
    annotations: dict[str, str] | None = None
    startsAt: str | None = None  # Alertmanager's spelling
    endsAt: str | None = None
    generatorURL: str | None = None
    fingerprint: str | None = None


class Notification(msgspec.Struct):
    """The webhook's body; its group-level fields say nothing the alerts do not."""

    alerts: list[WebhookAlert]


_BODY = msgspec.json.Decoder(Notification)


def parse(body: bytes, headers: Mapping[str, str], *, limits: _json.FieldLimits,
          now: datetime) -> list[Alert]:
    """The alerts of one Alertmanager webhook notification, each within `limits`.

    Raises:
        BadRequest: naming the field at fault.
    """
    return _structs.or_careful(lambda: _typed(_BODY.decode(body).alerts, limits),
                               lambda: _careful(_json.decode(body), limits))


def parse_decoded(decoded: object, headers: Mapping[str, str], *,
                  limits: _json.FieldLimits, now: datetime) -> list[Alert]:
    """`parse` of a body already decoded from JSON (detect.py decodes it once): msgspec
    converts it into the structs its decoder makes, else the careful path reads it."""
    return _structs.or_careful(
        lambda: _typed(msgspec.convert(decoded, Notification).alerts, limits),
        lambda: _careful(decoded, limits))


def _typed(entries: list[WebhookAlert], limits: _json.FieldLimits) -> list[Alert]:
    if len(entries) > _json.MAX_ALERTS:
        raise BadRequest("alerts", "too many alerts")
    return [_typed_alert(entry, limits) for entry in entries]


def _typed_alert(entry: WebhookAlert, limits: _json.FieldLimits) -> Alert:
    labels = _structs.text_map(entry.labels, "label", limits)
    annotations = _structs.text_map(entry.annotations, "annotation", limits)
    status = STATUSES.get(entry.status)
    if status is None:
        raise BadRequest("status", "not firing or resolved")
    return Alert(
        summary=summary(labels, annotations),
        source=SOURCE,
        severity=severity(labels),
        status=status,
        labels=labels,
        annotations=annotations,
        service=labels.get("service") or None,
        dedup_key=alert_identity(labels),
        starts_at=not_zero(_structs.timestamp(entry.startsAt)),
        ends_at=not_zero(_structs.timestamp(entry.endsAt)),
        links=(Link(href=entry.generatorURL, text="Source"),) if entry.generatorURL else (),
    )


def not_zero(moment: datetime | None) -> datetime | None:
    """None for Go's zero time, which means no time."""
    return None if moment == _json.ZERO_TIME else moment


def _careful(decoded: object, limits: _json.FieldLimits) -> list[Alert]:
    document = _json.as_object(decoded, "", "a JSON object (an Alertmanager webhook)")
    entries = _json.alert_list(document, "alerts", "")
    return [
        parse_alert(entry, _json.index("alerts", position), SOURCE, limits)
        for position, entry in enumerate(entries)
    ]


def parse_alert(entry: object, path: str, source: str, limits: _json.FieldLimits) -> Alert:
    """One entry of `alerts`; Grafana's webhook shares this shape."""
    document = _json.as_object(entry, path, "an alert object")
    labels = _json.text_map(document, "labels", path, "label", limits, required=True)
    annotations = _json.text_map(document, "annotations", path, "annotation", limits)
    return Alert(
        summary=summary(labels, annotations),
        source=source,
        severity=severity(labels),
        status=_json.choice(document, "status", path, STATUSES),
        labels=labels,
        annotations=annotations,
        service=labels.get("service") or None,
        dedup_key=_dedup_key(document, path, source, labels),
        starts_at=instant(document, "startsAt", path),
        ends_at=instant(document, "endsAt", path),
        links=_json.url_links(document, path, [("generatorURL", "Source")]),
    )


def _dedup_key(document: Mapping[str, object], path: str, source: str,
               labels: Mapping[str, str]) -> str:
    """Grafana's own `fingerprint` when it sends one; for Alertmanager's the labels'
    `alert_identity`, which is Alertmanager's fingerprint in all but the hash (the field is
    still checked to be text)."""
    given = _json.text(document, "fingerprint", path)
    return given if given and source != SOURCE else alert_identity(labels)


def summary(labels: Mapping[str, str], annotations: Mapping[str, str]) -> str:
    found = annotations.get("summary") or annotations.get("description")
    found = found or labels.get("alertname")
    return found or ", ".join(f"{name}={value}" for name, value in sorted(labels.items()))


def severity(labels: Mapping[str, str]) -> Severity:
    return SEVERITIES.get(labels.get("severity", "").strip().lower(), Severity.WARNING)


def instant(document: Mapping[str, object], key: str, path: str) -> datetime | None:
    """A timestamp where Go's zero time means none."""
    return not_zero(_json.timestamp(document, key, path))


