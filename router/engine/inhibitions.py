"""The firing alerts that may inhibit others, kept in memory for ingest (room: engine;
imports core, store, config.model, alerts.model).

`core.inhibition.InhibitionIndex` holds the sources; this keeps one per engine, rebuilt from
the store's open incidents when first needed and whenever the config's `inhibit_rules`
change, and kept up to date by every ingest and resolve inside their store unit of work.
A unit of work that fails drops the index (`forget`), so the next one rebuilds it from what
was committed. A source whose incident was resolved by a path that did not tell the index
(a timer, another process) is found stale when it would inhibit, dropped, and not counted.

What happens when the source resolves: the inhibited target stays recorded, not paged,
until its sender sends it again (Prometheus re-sends firing alerts every minute, as it does
to Alertmanager); that alert is no longer inhibited and pages from level 1, as a suppressed
alert does after its window (`core.suppression`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace

from router.alerts.model import Alert, Severity, Status
from router.config.model import InhibitRule
from router.core.incidents import Change, label_fingerprint
from router.core.inhibition import Inhibition, InhibitionIndex, SourceKey
from router.store import Reader

OPEN_STATES = ("triggered", "acknowledged")
MAX_OPEN = 1_000_000
"""More open incidents than any store holds; the rebuild reads them all."""


class Inhibitions:
    """The engine's one `InhibitionIndex`, or None until it is (re)built."""

    def __init__(self) -> None:
        self._index: InhibitionIndex | None = None

    def forget(self) -> None:
        """Drop the index: a unit of work that changed it did not commit."""
        self._index = None

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
            index.discard_incident(found.source.incident)
        return None

    def observe(self, reader: Reader, rules: Sequence[InhibitRule], alert: Alert,
                change: Change) -> None:
        """Keep the index true after `alert` changed its incident as `change` says."""
        if not rules or change.incident is None:
            return
        index = self.index(reader, rules)
        incident = change.incident
        if not incident.is_open:
            index.discard_incident(incident.number)
        elif alert.status is Status.FIRING:
            index.add(SourceKey(incident.number, label_fingerprint(alert.labels)),
                      replace(alert, service=incident.service))
        elif alert.status is Status.RESOLVED:
            index.discard(SourceKey(incident.number, label_fingerprint(alert.labels)))

    def resolved(self, number: int) -> None:
        """The incident `number` was resolved: its alerts inhibit no more."""
        if self._index is not None:
            self._index.discard_incident(number)


def firing_alerts(reader: Reader) -> Iterator[tuple[SourceKey, Alert]]:
    """Every alert still firing in an open incident, as last received, with its key."""
    for incident in reader.incidents(states=OPEN_STATES, limit=MAX_OPEN):
        found = reader.incident_with_firing(incident.number)
        detail = reader.detail(incident.number)
        if found is None or detail is None:
            continue
        firing = found[1]
        latest: dict[str, Alert] = {}
        for row in detail.alerts:
            labels = row["labels"]
            identity = label_fingerprint(labels)
            if row["status"] == Status.FIRING.value and identity in firing:
                latest[identity] = Alert(
                    summary=row["summary"], source=row["source"],
                    severity=Severity(row["severity"]), labels=labels,
                    service=incident.service)
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
