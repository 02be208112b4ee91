"""Incidents keyed by Alertmanager's fingerprint, opened before issue 15 (room: engine).

Until issue 15 an Alertmanager alert's dedup key was Alertmanager's FNV-1a fingerprint of its
labels (16 hex digits); now it is the labels' `alert_identity` (xxh3, `x` and 16 hex digits),
because the FNV hash in Python cost more than the rest of parsing the alert. An incident
opened before the upgrade keeps its key (a PagerDuty channel resolves it by that key), so an
alert that finds no incident under its new key looks under its fingerprint too, but only
while such incidents may be open: whether any is open is read once an hour (they resolve
within hours of the upgrade, and then no alert pays for the old hash again).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from router.alerts.identity import fingerprint
from router.alerts.model import Alert, Incident, IncidentState
from router.store import Reader

SOURCES = frozenset({"alertmanager", "alertmanager_v2"})
"""The formats whose dedup key was Alertmanager's fingerprint."""
RECHECK = timedelta(hours=1)
_OPEN = (IncidentState.TRIGGERED.value, IncidentState.ACKNOWLEDGED.value)
_HEX = frozenset("0123456789abcdef")


def legacy(incident: Incident) -> bool:
    """Whether the incident is keyed by an Alertmanager fingerprint."""
    key = incident.dedup_key
    return incident.source in SOURCES and len(key) == 16 and _HEX.issuperset(key)


class LegacyKeys:
    """Whether open incidents with fingerprint keys may exist, read at most once an hour."""

    def __init__(self) -> None:
        self._checked_at: datetime | None = None
        self._some = True

    def settled(self, alert: Alert, key: str, now: datetime) -> bool:
        """Whether `old_key` would answer None without reading the store (for the trio
        thread: engine/openings.py takes any doubt to the ordinary way)."""
        if alert.source not in SOURCES or alert.dedup_key != key:
            return True
        return (self._checked_at is not None and now - self._checked_at < RECHECK
                and not self._some)

    def old_key(self, reader: Reader, alert: Alert, key: str, now: datetime) -> str | None:
        """The key the alert had before issue 15, if it may still name an open incident."""
        if alert.source not in SOURCES or alert.dedup_key != key:
            return None
        if self._checked_at is None or now - self._checked_at >= RECHECK:
            self._some = any(legacy(incident) for incident in reader.incidents(
                states=_OPEN, limit=1_000_000))
            self._checked_at = now
        return fingerprint(alert.labels) if self._some else None
