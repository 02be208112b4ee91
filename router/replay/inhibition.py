"""The replay's inhibition sources (room: replay; imports core, config.model, alerts.model).

As engine/inhibitions.py keeps them for ingest, without a store: `core.inhibition`'s index
of the alerts firing in open incidents, kept true by every change, and a flag that a source
stopped firing (the incidents it held may page: the simulation's `release_inhibited`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from router.alerts.model import Alert, Status
from router.config.model import InhibitRule
from router.core.incidents import Change, alert_identity
from router.core.inhibition import Inhibition, InhibitionIndex, SourceKey


class Sources:
    """`Inhibitions` (engine/inhibitions.py) over the simulation's open incidents."""

    def __init__(self, rules: Sequence[InhibitRule], is_open: Callable[[int], bool]) -> None:
        self.rules = tuple(rules)
        self._index = InhibitionIndex(rules)
        self._is_open = is_open
        self._released = False

    def take_released(self) -> bool:
        """Whether a source stopped firing since last asked."""
        released, self._released = self._released, False
        return released

    def check(self, alert: Alert) -> Inhibition | None:
        """`Inhibitions.check`: sources whose incident closed are dropped on the way."""
        if not self.rules:
            return None
        while (found := self._index.check(alert)) is not None:
            if self._is_open(found.source.incident):
                return found
            self._released = True
            self._index.discard_incident(found.source.incident)
        return None

    def observe(self, alert: Alert, change: Change) -> None:
        """`Inhibitions.observe`: keep the sources true after the alert's change."""
        incident = change.incident
        if not self.rules or incident is None:
            return
        index, before = self._index, len(self._index)
        identity = alert_identity(alert.labels)
        if not incident.is_open:
            index.discard_incident(incident.number)
        elif alert.status is Status.FIRING:
            index.add(SourceKey(incident.number, identity),
                      replace(alert, service=incident.service))
        elif alert.status is Status.RESOLVED:
            index.discard(SourceKey(incident.number, identity))
        self._released = self._released or len(index) < before

    def resolved(self, number: int) -> None:
        """`Inhibitions.resolved`: the incident's alerts inhibit no more."""
        if self.rules:
            before = len(self._index)
            self._index.discard_incident(number)
            self._released = self._released or len(self._index) < before
