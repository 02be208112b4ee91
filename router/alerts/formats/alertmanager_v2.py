"""Alertmanager API v2 `POST /api/v2/alerts` (room: alerts.formats; imports alerts.model, errors).

This is what Prometheus sends to the Alertmanagers in its `alerting.alertmanagers`, so router can
stand in for one. Unlike the other formats, `parse` takes a third argument, `now`: whether an
alert is over depends on the time it arrives, and time is a parameter (STYLE.md rule 8).

The body is a JSON list of postable alerts. Mapping:

| Alert field  | from                                                                       |
| ------------ | -------------------------------------------------------------------------- |
| labels       | `labels` (required); empty values are dropped first, as Alertmanager does; |
|              | at least one label must remain                                             |
| dedup_key    | the labels' identity (alerts/identity.py `alert_identity`, xxh3), as the   |
|              | webhook's; Alertmanager's FNV fingerprint only where its API shows it      |
| status       | resolved when `endsAt` is set and not after `now`, else firing. Prometheus |
|              | re-sends firing alerts every minute with `endsAt` a few evaluation         |
|              | intervals ahead: those stay firing and refresh one incident              |
| starts_at    | `startsAt`, else `endsAt`, else `now` (Alertmanager's defaulting)          |
| ends_at      | `endsAt`; unset when absent (the engine gives it the source's              |
|              | resolve_timeout and resolves a stale alert: engine/expiry.py)              |
| annotations, summary, severity, service | as the Alertmanager webhook (alertmanager.py)   |
| links        | `generatorURL`, as "Source"                                                |

`endsAt` before `startsAt` is refused, as Alertmanager refuses it. Unknown keys are ignored.

The body is decoded into `Postable` structs by msgspec; a body that does not fit them goes
through the careful path over plain JSON values, which names the field at fault
(`_structs.or_careful`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType

import msgspec

from router.alerts.formats import _json, _structs, alertmanager
from router.alerts.identity import alert_identity
from router.alerts.model import Alert, Link, Status
from router.errors import BadRequest

SOURCE = "alertmanager_v2"


class Postable(msgspec.Struct):
    """One postable alert, as msgspec decodes it; null counts as absent, as it does on the
    careful path."""

    labels: dict[str, str]
    annotations: dict[str, str] | None = None
    startsAt: str | None = None  # Alertmanager's spelling
    endsAt: str | None = None
    generatorURL: str | None = None


_BODY = msgspec.json.Decoder(list[Postable])


def parse(body: bytes, headers: Mapping[str, str], *, limits: _json.FieldLimits,
          now: datetime) -> list[Alert]:
    """The alerts of one `POST /api/v2/alerts`.

    Args:
        now: the aware instant the request arrived; decides firing or resolved.
        limits: what each alert's labels and annotations may hold.

    Raises:
        BadRequest: naming the field at fault, e.g. `[3].labels`.
    """
    return _structs.or_careful(lambda: _typed(_BODY.decode(body), now, limits),
                               lambda: _careful(_json.decode(body), now, limits))


def parse_decoded(decoded: object, headers: Mapping[str, str], *,
                  limits: _json.FieldLimits, now: datetime) -> list[Alert]:
    """`parse` of a body already decoded from JSON (detect.py decodes it once): msgspec
    converts it into the structs its decoder makes, else the careful path reads it."""
    return _structs.or_careful(
        lambda: _typed(msgspec.convert(decoded, list[Postable]), now, limits),
        lambda: _careful(decoded, now, limits))


def _typed(postables: list[Postable], now: datetime, limits: _json.FieldLimits) -> list[Alert]:
    if len(postables) > _json.MAX_ALERTS:
        raise BadRequest("", "too many alerts")
    return [_typed_alert(postable, now, limits) for postable in postables]


def _typed_alert(postable: Postable, now: datetime, limits: _json.FieldLimits) -> Alert:
    labels = _structs.text_map(postable.labels, "label", limits)
    labels = labels if all(labels.values()) else _present(labels)
    if not labels:
        raise BadRequest("labels", "must hold at least one non-empty label")
    annotations = _structs.text_map(postable.annotations, "annotation", limits)
    ends_at = alertmanager.not_zero(_structs.timestamp(postable.endsAt))
    starts_at = alertmanager.not_zero(_structs.timestamp(postable.startsAt)) or ends_at or now
    if ends_at is not None and ends_at < starts_at:
        raise BadRequest("endsAt", "is before startsAt")
    return _alert(labels, annotations, starts_at, ends_at, now, postable.generatorURL)


def _careful(decoded: object, now: datetime, limits: _json.FieldLimits) -> list[Alert]:
    entries = _json.bounded(decoded, "", "a JSON list of alerts")
    return [_parse_alert(entry, _json.index("", position), now, limits)
            for position, entry in enumerate(entries)]


def _parse_alert(entry: object, path: str, now: datetime, limits: _json.FieldLimits) -> Alert:
    document = _json.as_object(entry, path, "an alert object")
    labels = _present(_json.text_map(document, "labels", path, "label", limits, required=True))
    if not labels:
        raise BadRequest(_json.member(path, "labels"), "must hold at least one non-empty label")
    annotations = _json.text_map(document, "annotations", path, "annotation", limits)
    ends_at = alertmanager.instant(document, "endsAt", path)
    starts_at = alertmanager.instant(document, "startsAt", path) or ends_at or now
    if ends_at is not None and ends_at < starts_at:
        raise BadRequest(_json.member(path, "endsAt"), "is before startsAt")
    source_url = _json.text(document, "generatorURL", path)
    return _alert(labels, annotations, starts_at, ends_at, now, source_url)


def _alert(labels: Mapping[str, str], annotations: Mapping[str, str], starts_at: datetime,
           ends_at: datetime | None, now: datetime, source_url: str | None) -> Alert:
    return Alert(
        summary=alertmanager.summary(labels, annotations),
        source=SOURCE,
        severity=alertmanager.severity(labels),
        status=Status.RESOLVED if ends_at is not None and ends_at <= now else Status.FIRING,
        labels=labels,
        annotations=annotations,
        service=labels.get("service") or None,
        dedup_key=alert_identity(labels),
        starts_at=starts_at,
        ends_at=ends_at,
        links=(Link(href=source_url, text="Source"),) if source_url else (),
    )


def _present(labels: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType({name: value for name, value in labels.items() if value})
