"""Alertmanager's inhibition rules over the alerts firing now (room: core; imports
config.model, alerts.model and core.matching only).

Pure: no I/O, no clock. The engine feeds the index every firing alert of the open incidents
(rebuilt from the store when it starts or the rules change, then kept up to date by ingest
and resolve) and asks it about each alert it ingests. The rules, as Alertmanager's:

- A rule inhibits an alert (the target) when the target matches every `target_matchers`
  matcher and some FIRING alert (the source) matches every `source_matchers` matcher and has
  the same value as the target for every `equal` label. Matchers read labels and router's
  fields as routes do (`core.matching`); a missing label reads "", so missing equals
  missing, and equals an empty value.
- An alert that matches both sides of a rule is not inhibited by itself, nor by another
  source that also matches both sides (Alertmanager's `excludeTwoSidedMatch`): two alerts of
  the same kind never silence each other, while a source of another kind still can.
- Rules are tried in the order declared; the verdict names the first that inhibits and one
  source alert of it. Acknowledged incidents' alerts still fire and still inhibit; resolved
  alerts never do.
- Index. Sources are kept per (rule, values of its `equal` labels), split into those that
  match only the source side and those that match both, so `check` costs one dictionary
  lookup per rule whatever the number of open alerts.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass

from router.alerts.model import Alert
from router.config.model import InhibitRule
from router.core.matching import fields_of, first_mismatch

Bucket = tuple[int, tuple[str, ...]]
"""(position of the rule, the source's values of the rule's `equal` labels)."""


@dataclass(frozen=True, slots=True, order=True)
class SourceKey:
    """One firing alert: its incident's number and its label fingerprint there."""

    incident: int
    identity: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Inhibition:
    """The first rule that inhibits an alert, and one source alert that does it."""

    rule: InhibitRule
    position: int
    source: SourceKey

    @property
    def label(self) -> str:
        """What `suppressed_by` records: `inhibition:<rule name>`."""
        return f"inhibition:{self.rule.name}"


class InhibitionIndex:
    """The firing alerts that are sources of some rule, indexed for `check`."""

    def __init__(self, rules: Sequence[InhibitRule]) -> None:
        self.rules = tuple(rules)
        self._one_sided: dict[Bucket, dict[SourceKey, None]] = {}
        self._two_sided: dict[Bucket, dict[SourceKey, None]] = {}
        self._buckets_of: dict[SourceKey, list[tuple[Bucket, bool]]] = {}
        self._keys_of: dict[int, set[SourceKey]] = {}
        self._per_rule = [0] * len(self.rules)
        """How many sources each rule has: a rule with none costs `check` nothing."""

    @classmethod
    def of(cls, rules: Sequence[InhibitRule],
           firing: Iterable[tuple[SourceKey, Alert]]) -> InhibitionIndex:
        """An index of `rules` holding every alert of `firing`."""
        index = cls(rules)
        for key, alert in firing:
            index.add(key, alert)
        return index

    def __len__(self) -> int:
        """How many firing alerts are a source of some rule."""
        return len(self._buckets_of)

    def add(self, key: SourceKey, alert: Alert) -> None:
        """`alert` fires (again): index it under every rule whose source side it matches."""
        if key in self._buckets_of or not self.rules:
            return
        fields = fields_of(alert)
        places = []
        for position, rule in enumerate(self.rules):
            if first_mismatch(rule.source_matchers, fields) is not None:
                continue
            bucket = (position, tuple(fields.get(name, "") for name in rule.equal))
            two_sided = first_mismatch(rule.target_matchers, fields) is None
            side = self._two_sided if two_sided else self._one_sided
            side.setdefault(bucket, {})[key] = None
            places.append((bucket, two_sided))
            self._per_rule[position] += 1
        if places:
            self._buckets_of[key] = places
            self._keys_of.setdefault(key.incident, set()).add(key)

    def discard(self, key: SourceKey) -> None:
        """The alert `key` no longer fires (resolved); nothing if it was no source."""
        for bucket, two_sided in self._buckets_of.pop(key, ()):
            side = self._two_sided if two_sided else self._one_sided
            keys = side[bucket]
            del keys[key]
            if not keys:
                del side[bucket]
            self._per_rule[bucket[0]] -= 1
        keys_of_incident = self._keys_of.get(key.incident)
        if keys_of_incident is not None:
            keys_of_incident.discard(key)
            if not keys_of_incident:
                del self._keys_of[key.incident]

    def discard_incident(self, incident: int) -> None:
        """Every alert of the incident `incident` stopped firing (it resolved)."""
        for key in sorted(self._keys_of.get(incident, ())):
            self.discard(key)

    def check(self, alert: Alert, *, skip: Container[SourceKey] = frozenset()
              ) -> Inhibition | None:
        """The first rule that inhibits `alert` now, with a source; None if none does.

        `skip` names sources not to count (the engine's way to pass over one it found to
        be stale); one lookup per rule, plus one per skipped source.
        """
        if not self._buckets_of:
            return None
        fields = fields_of(alert)
        for position, rule in enumerate(self.rules):
            if not self._per_rule[position] or first_mismatch(rule.target_matchers,
                                                              fields) is not None:
                continue
            bucket = (position, tuple([fields.get(name, "") for name in rule.equal]))
            source = _first(self._one_sided.get(bucket), skip)
            if source is None and first_mismatch(rule.source_matchers, fields) is not None:
                source = _first(self._two_sided.get(bucket), skip)
            if source is not None:
                return Inhibition(rule=rule, position=position, source=source)
        return None


def _first(keys: dict[SourceKey, None] | None, skip: Container[SourceKey]
           ) -> SourceKey | None:
    """The first of `keys` not in `skip`, or None."""
    for key in keys or ():
        if key not in skip:
            return key
    return None
