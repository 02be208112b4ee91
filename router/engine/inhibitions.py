"""The firing alerts that may inhibit others, kept in memory for ingest (room: engine;
imports core, store, config.model, alerts.model).

`core.inhibition.InhibitionIndex` holds the sources; this keeps one per engine, rebuilt from
the store's open incidents when first needed and whenever the config's `inhibit_rules`
change, and kept up to date by every ingest and resolve inside their store unit of work.
A unit of work that fails drops the index (`forget`), so the next one rebuilds it from what
was committed. A source whose incident was resolved by a path that did not tell the index
(a timer, another process) is found stale when it would inhibit, dropped, and not counted.

What happens when the source resolves: in the same unit of work, each triggered incident an
inhibition held (`suppressed_by` "inhibition:...", never notified) whose firing alerts are
no longer all inhibited is checked again as if its alert had just arrived (`held`): not
suppressed, it pages from level 1 with a "suppression ended" line; held by something else
(a silence, another rule), it says so. Alertmanager notifies such an alert at its next
flush; router needs no re-send for it, so senders that send an alert once are paged too.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace

from router.alerts.model import Alert, Incident, Status
from router.config.model import InhibitRule
from router.core.incidents import Change, alert_identity
from router.core.inhibition import Inhibition, InhibitionIndex, SourceKey
from router.engine.muting import latest_firing
from router.store import Reader

OPEN_STATES = ("triggered", "acknowledged")
MAX_OPEN = 1_000_000
"""More open incidents than any store holds; the rebuild reads them all."""


class Inhibitions:
    """The engine's one `InhibitionIndex`, or None until it is (re)built."""

    def __init__(self) -> None:
        self._index: InhibitionIndex | None = None
        self._released = False

    def take_released(self) -> bool:
        """Whether a source stopped firing since last asked: the incidents it held may page."""
        released, self._released = self._released, False
        return released

    def forget(self) -> None:
        """Drop the index: a unit of work that changed it did not commit."""
        self._index = None

    def run_again(self) -> None:
        """A unit of work that changed the index was rolled back and runs again: drop the
        index, and count a source as released, since the rolled-back run may have taken the
        release its own changes made (an idle look at the held incidents is one read)."""
        self._index = None
        self._released = True

    def index(self, reader: Reader, rules: Sequence[InhibitRule]) -> InhibitionIndex:
        """The index for `rules`, built from `reader`'s open incidents if it is not."""
        if self._index is None or self._index.rules != tuple(rules):
            self._index = InhibitionIndex.of(rules, firing_alerts(reader) if rules else ())
        return self._index

    def check(self, reader: Reader, rules: Sequence[InhibitRule],
              alert: Alert) -> Inhibition | None:
        """The inhibition of `alert` now, passing over sources whose incident is closed."""
        if not rules:
            return None
        index = self.index(reader, rules)
        while (found := index.check(alert)) is not None:
            incident = reader.incident(found.source.incident)
            if incident is not None and incident.is_open:
                return found
            self._released = True
            index.discard_incident(found.source.incident)
        return None

    def observe(self, reader: Reader, rules: Sequence[InhibitRule], alert: Alert,
                change: Change) -> None:
        """Keep the index true after `alert` changed its incident as `change` says."""
        if not rules or change.incident is None:
            return
        index = self.index(reader, rules)
        incident = change.incident
        before = len(index)
        if not incident.is_open:
            index.discard_incident(incident.number)
        elif alert.status is Status.FIRING:
            index.add(SourceKey(incident.number, alert_identity(alert.labels)),
                      replace(alert, service=incident.service))
        elif alert.status is Status.RESOLVED:
            index.discard(SourceKey(incident.number, alert_identity(alert.labels)))
        self._released = self._released or len(index) < before

    def resolved(self, number: int) -> None:
        """The incident `number` was resolved: its alerts inhibit no more."""
        if self._index is not None:
            before = len(self._index)
            self._index.discard_incident(number)
            self._released = self._released or len(self._index) < before

    def held(self, reader: Reader, rules: Sequence[InhibitRule]
             ) -> Iterator[tuple[Incident, frozenset[str], Alert]]:
        """Each triggered, never notified incident an inhibition holds whose firing alerts
        are not all inhibited now, with its firing set and the first alert that is not (one
        someone acknowledged needs no page)."""
        for incident in reader.incidents(states=("triggered",), limit=MAX_OPEN):
            if incident.level != 0 or not (incident.suppressed_by or "").startswith(
                    "inhibition:"):
                continue
            found = reader.incident_with_firing(incident.number)
            firing = found[1] if found is not None else frozenset[str]()
            free = next((alert for _, alert in _firing_of(reader, incident, firing)
                         if self.check(reader, rules, alert) is None), None)
            if free is not None:
                yield incident, firing, free


def firing_alerts(reader: Reader) -> Iterator[tuple[SourceKey, Alert]]:
    """Every alert still firing in an open incident, as last received, with its key."""
    for incident in reader.incidents(states=OPEN_STATES, limit=MAX_OPEN):
        found = reader.incident_with_firing(incident.number)
        if found is not None:
            yield from _firing_of(reader, incident, found[1])


def _firing_of(reader: Reader, incident: Incident, firing: frozenset[str]
               ) -> Iterator[tuple[SourceKey, Alert]]:
    """The incident's alerts in `firing`, each as last received, by identity."""
    latest = {identity: replace(alert, service=incident.service)
              for identity, alert in latest_firing(reader, incident.number, firing).items()}
    if not latest and firing:
        # alert rows of this unit of work are written at its commit: the incident's own
        # labels are those of its first alert
        latest[alert_identity(incident.labels)] = Alert(
            summary=incident.summary, source=incident.source, severity=incident.severity,
            labels=incident.labels, service=incident.service)
    for identity, alert in sorted(latest.items()):
        yield SourceKey(incident.number, identity), alert


def inhibition_in(reader: Reader, rules: Sequence[InhibitRule],
                  alert: Alert) -> tuple[Inhibition, Alert] | None:
    """Which alert firing in the store now would inhibit `alert`, and by which rule; from a
    fresh index, for questions asked outside ingest (`router route-test`)."""
    if not rules:
        return None
    firing = dict(firing_alerts(reader))
    found = InhibitionIndex.of(rules, firing.items()).check(alert)
    return (found, firing[found.source]) if found is not None else None
