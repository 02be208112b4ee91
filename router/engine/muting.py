"""Muted incidents (room: engine; imports core, store, alerts.model): an open incident
whose firing alerts are all held by silences or suppression windows pages nobody and does
not escalate (issue 16 item 1; the rule is in docs/escalation.md).

These run inside the escalation's and the silences' store transactions:
- `muting_of` asks core (core/suppression.py `muting`) about the incident's firing alerts;
- `hold` keeps an incident muted: its escalation waits as one durable "unmute" timer at the
  end of what mutes it (a restart keeps it), and the timeline says by what, once;
- `silences_changed` brings every waiting unmute timer forward to now, so a silence ended
  early (by hand, or an until-resolved silence whose incidents resolved) re-checks at once;
- `end_until_resolved` ends the until-resolved silences whose last incident just resolved.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from router.alerts.model import Alert, Incident, TimelineEntry
from router.core.incidents import alert_identity
from router.core.suppression import Muting, muting
from router.engine.snapshot import Snapshot
from router.store import Reader, Transaction

UNMUTE = "unmute"
"""The timer kind of a muted incident's re-check."""
NEVER = datetime(9999, 12, 31, tzinfo=UTC)
"""When a muting with no end re-checks (an until-resolved silence): only when silences
change."""


def latest_firing(reader: Reader, number: int, firing: frozenset[str]) -> dict[str, Alert]:
    """The newest recorded arrival of each alert still firing in the incident, by identity
    (one light query of the incident's alert rows)."""
    latest: dict[str, Alert] = {}
    for alert in reader.firing_alerts(number):
        identity = alert_identity(alert.labels)
        if identity in firing:
            latest[identity] = alert
    return latest


def firing_alerts(reader: Reader, number: int, firing: frozenset[str]) -> list[Alert]:
    """The newest recorded arrival of each alert still firing in the incident."""
    return list(latest_firing(reader, number, firing).values())


def muting_of(transaction: Transaction, snapshot: Snapshot, incident: Incident,
              firing: frozenset[str], now: datetime) -> Muting | None:
    """What mutes the incident now, or None."""
    silences = transaction.active_silences(now)
    suppressions = snapshot.config.suppressions
    if not silences and not suppressions:
        return None  # the common case costs no read of the incident's alerts
    return muting(firing_alerts(transaction, incident.number, firing), suppressions,
                  silences, now)


def hold(transaction: Transaction, incident: Incident, firing: frozenset[str],
         muted: Muting, now: datetime) -> Incident:
    """Keep the incident muted until `muted.until`: its re-check is the one timer it keeps,
    and the timeline says so when what mutes it changes (not once per timer)."""
    transaction.set_timer(incident.number, UNMUTE, muted.until or NEVER)
    by = muted.describe()
    if incident.suppressed_by == by:
        return incident
    details = {"by": by}
    if muted.until is not None:
        details["until"] = muted.until.isoformat()
    transaction.add_timeline(incident.number, [TimelineEntry(
        at=now, actor="router", action="muted", details=details)])
    held = replace(incident, suppressed_by=by)
    transaction.save_incident(held, firing)
    return held


def silences_changed(transaction: Transaction, now: datetime) -> None:
    """A silence ended before its time: every muted incident checks again now."""
    transaction.hurry_timers(UNMUTE, now)


def end_until_resolved(transaction: Transaction, number: int, now: datetime) -> None:
    """Incident `number` resolved: end each until-resolved silence that covered it and
    whose other incidents have all resolved too."""
    for silence in transaction.active_silences(now):
        if number not in silence.covers:
            continue
        others = (transaction.incident(other) for other in silence.covers if other != number)
        if all(other is None or not other.is_open for other in others):
            transaction.expire_silence(silence.id, now)
            silences_changed(transaction, now)
