"""How an alert changes its incident (room: core; imports config.model, alerts.model, errors).

Pure: the engine reads the open incident for the alert's dedup key and the set of alerts
still firing in it, calls `apply_alert`, and writes back what it returns.

Rules:
- A firing alert whose dedup key has no open incident opens one (state triggered).
- A firing alert whose dedup key has an open incident joins it: the count and last-seen
  time go up, the severity becomes the most severe seen; a repeat of an alert already in it
  (Prometheus re-sends every cycle) adds no timeline line.
- A resolved alert leaves the incident's firing set; when none is left the incident is
  resolved. A resolve with no labels (PagerDuty's resolve carries only the dedup key)
  resolves every alert of the incident. A resolve with no open incident is ignored
  (Prometheus re-sends resolved alerts for 15 minutes).
- An acknowledge (PagerDuty's acknowledge event) acknowledges a triggered incident.

Which alerts of an incident still fire is a set of identities, one per label set
(`alert_identity`: xxh3, `x` and 16 hex digits). Before issue 15 they were
`label_fingerprint`s (SHA-256 of the labels as JSON, 16 hex digits); an incident opened
before the upgrade may still hold those, and an alert matches its old identity too, so such
an incident neither splits its alerts nor stays open after its last one is resolved.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from router.alerts.identity import alert_identity as alert_identity  # where core's callers look
from router.alerts.model import Alert, Incident, IncidentState, Severity, Status, TimelineEntry
from router.core.evolve import evolve

Action = Literal["opened", "updated", "acknowledged", "resolved", "ignored"]


_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

_LEGACY_LENGTH = 16


def label_fingerprint(labels: Mapping[str, str]) -> str:
    """A stable hash of the sorted label set: the same labels always give the same text.

    Derived dedup keys are made of it and stored with open incidents, so it stays as it was;
    an alert's identity in its incident is `alert_identity`."""
    canonical = _ENCODE(sorted(labels.items()))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def _known(firing: frozenset[str], labels: Mapping[str, str],
           identity: str) -> frozenset[str]:
    """`firing` with the alert's identity from before the upgrade, if it holds one,
    replaced by `identity`; else `firing` itself. Only an incident opened before the upgrade
    holds such identities, so the old hash is computed only then."""
    if identity in firing or not any(len(known) == _LEGACY_LENGTH for known in firing):
        return firing
    legacy = label_fingerprint(labels)
    return firing - {legacy} | {identity} if legacy in firing else firing


DEDUP_KEY_BYTES = 1024
"""The longest dedup key kept as it is, in UTF-8 bytes (see `bounded_key`): PostgreSQL's
B-tree indexes on the key (`incidents_open_key`, `incidents_by_key`, `alerts_repeat`) hold
at most about 2,700 bytes an entry, while a sender's own key is bounded only by the request
body (1 MiB) and a template renders label values of up to 16 KiB each."""


def bounded_key(key: str) -> str:
    """`key` itself when it is at most DEDUP_KEY_BYTES long, else its head and the SHA-256
    of the whole (`<head>~<64 hex digits>`, DEDUP_KEY_BYTES at most): equal keys give equal
    results, different ones different results, on both backends alike, and no alert is
    refused for its key. A sender repeating its long key finds its incident."""
    encoded = key.encode()
    if len(encoded) <= DEDUP_KEY_BYTES:
        return key
    digest = hashlib.sha256(encoded).hexdigest()
    head = encoded[:DEDUP_KEY_BYTES - len(digest) - 1].decode(errors="ignore")
    return f"{head}~{digest}"


def dedup_key(alert: Alert, from_template: Callable[[], str | None],
              service: str | None = None) -> str:
    """The sender's own key, else the service's template result, else a hash of the labels
    with the source and service, so equal labels sent to two services stay apart.

    `from_template` renders the service's template; it is called only when needed, since
    rendering costs more than the rest of choosing the key. A key longer than
    DEDUP_KEY_BYTES is kept as `bounded_key` makes it.
    """
    if alert.dedup_key:
        return bounded_key(alert.dedup_key)
    rendered = from_template()
    if rendered:
        return bounded_key(rendered)
    return label_fingerprint({**alert.labels, "__source": alert.source,
                              "__service": service or ""})


@dataclass(frozen=True, slots=True, kw_only=True)
class Opening:
    """What the engine knows about an incident it would open: routing's answer."""

    number: int
    service: str | None
    escalation_policy: str | None
    severity: Severity
    dedup_key: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Change:
    action: Action
    incident: Incident | None
    firing: frozenset[str]
    timeline: tuple[TimelineEntry, ...] = ()


def apply_alert(incident: Incident | None, firing: frozenset[str], alert: Alert,
                opening: Opening, now: datetime) -> Change:
    """The incident after `alert`; `firing` holds the identities of the alerts still firing."""
    identity = alert_identity(alert.labels)
    firing = _known(firing, alert.labels, identity)
    if alert.status is Status.FIRING:
        if incident is None:
            return _open(alert, identity, opening, now)
        return _join(incident, firing, alert, identity, now)
    if incident is None:
        return Change(action="ignored", incident=None, firing=frozenset())
    if alert.status is Status.ACKNOWLEDGED:
        return acknowledge(incident, firing, f"source:{alert.source}", now)
    return _resolve_alert(incident, firing, alert, identity, now)


def _open(alert: Alert, identity: str, opening: Opening, now: datetime) -> Change:
    incident = Incident(
        number=opening.number, dedup_key=opening.dedup_key, service=opening.service,
        summary=alert.summary, severity=opening.severity, state=IncidentState.TRIGGERED,
        opened_at=now, updated_at=now, source=alert.source,
        escalation_policy=opening.escalation_policy, labels=alert.labels,
    )
    entry = TimelineEntry(at=now, actor=f"source:{alert.source}", action="opened",
                          details={"summary": alert.summary, "severity": opening.severity})
    return Change(action="opened", incident=incident, firing=frozenset({identity}),
                  timeline=(entry,))


def _join(incident: Incident, firing: frozenset[str], alert: Alert, identity: str,
          now: datetime) -> Change:
    severity = min(incident.severity, alert.severity, key=lambda level: level.rank)
    updated = evolve(incident, alert_count=incident.alert_count + 1, updated_at=now,
                     severity=severity)
    timeline: tuple[TimelineEntry, ...] = ()
    if identity not in firing:
        timeline = (TimelineEntry(at=now, actor=f"source:{alert.source}", action="alert joined",
                                  details={"summary": alert.summary}),)
    return Change(action="updated", incident=updated, firing=firing | {identity},
                  timeline=timeline)


def _resolve_alert(incident: Incident, firing: frozenset[str], alert: Alert, identity: str,
                   now: datetime) -> Change:
    left = firing - {identity} if alert.labels else frozenset()
    if left:
        entry = TimelineEntry(at=now, actor=f"source:{alert.source}", action="alert resolved",
                              details={"summary": alert.summary, "still firing": str(len(left))})
        return Change(action="updated", incident=replace(incident, updated_at=now),
                      firing=left, timeline=(entry,))
    return resolve(incident, f"source:{alert.source}", now)


def acknowledge(incident: Incident, firing: frozenset[str], actor: str,
                now: datetime) -> Change:
    """Acknowledge a triggered incident; acknowledging twice or after resolve changes nothing."""
    if incident.state is not IncidentState.TRIGGERED:
        return Change(action="ignored", incident=incident, firing=firing)
    updated = replace(incident, state=IncidentState.ACKNOWLEDGED, acknowledged_at=now,
                      acknowledged_by=actor, updated_at=now)
    entry = TimelineEntry(at=now, actor=actor, action="acknowledged")
    return Change(action="acknowledged", incident=updated, firing=firing, timeline=(entry,))


def resolve(incident: Incident, actor: str, now: datetime) -> Change:
    """Resolve an open incident; resolving a resolved one changes nothing."""
    if incident.state is IncidentState.RESOLVED:
        return Change(action="ignored", incident=incident, firing=frozenset())
    updated = replace(incident, state=IncidentState.RESOLVED, resolved_at=now, updated_at=now)
    entry = TimelineEntry(at=now, actor=actor, action="resolved")
    return Change(action="resolved", incident=updated, firing=frozenset(), timeline=(entry,))
