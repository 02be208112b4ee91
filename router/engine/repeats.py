"""Repeats decided on the trio thread (room: engine; imports core, store, config.model,
alerts.model).

Prometheus sends every firing alert again each cycle, so most alerts router takes are
repeats: an alert joining the open incident it already belongs to, which changes the
incident's count and time, its alert row's count and its deadline timer, and pages nobody.
Deciding one needs the open incident and the silences in force, which the store keeps in
memory (store/memory.py), so `plan` decides it on the trio thread from `Store.peek`, with no
round trip to the store's thread, and the unit of work only writes the result: one UPDATE of
the incident, one of the alert row's count, one timer upsert, group-committed with the
others (nothing is answered before its commit, as for every alert).

What the trio thread saw may be stale when the unit runs (another unit of the same commit
changed the incident, a silence was added, another process committed): the unit asks
`Transaction.unchanged` and otherwise ingests the alert the ordinary way. Anything that is
not a plain repeat is left to the ordinary way too: an alert that would open, resolve or
acknowledge an incident, page it (level 0: never notified), end its muting, trigger it again
(retrigger_after), and every alert while `inhibit_rules` are configured (the inhibition
index reads the store).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from router.alerts.model import Alert, Incident, IncidentState, Silence, Status
from router.config.model import Config
from router.core import incidents as incident_rules
from router.core.routing import Decision, route
from router.core.suppression import Verdict
from router.core.suppression import check as check_suppression
from router.engine import expiry
from router.engine.snapshot import Snapshot, render_key
from router.store import Transaction
from router.store.interface import Store


@dataclass(frozen=True, slots=True)
class Resolved:
    """An alert as ingest takes it (`expiry.effective`, its service from its routing key),
    its route and its dedup key: worked out once per alert on the trio thread and shared by
    the plans (here and engine/openings.py)."""

    alert: Alert
    decision: Decision
    key: str


class Planner:
    """What the repeat and opening planners (engine/openings.py) share: the store whose
    memory they peek at, which alerts they take, the silences' and windows' verdict on one,
    and the counts of plans made and of plans the store no longer held when their unit ran
    (those are ingested the ordinary way)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.planned = 0
        self.stale = 0

    @staticmethod
    def takes(config: Config, alert: Alert) -> bool:
        """Only a firing alert, and none while `inhibit_rules` are configured (the
        inhibition index reads the store)."""
        return alert.status is Status.FIRING and not config.inhibit_rules

    @staticmethod
    def verdict(config: Config, resolved: Resolved, silences: Sequence[Silence],
                now: datetime) -> Verdict:
        """The suppression windows' and `silences`' verdict on the alert, as ingest's."""
        return check_suppression(resolved.alert, config.suppressions, silences, now,
                                 routes=resolved.decision.routes,
                                 time_intervals=config.time_intervals)

    def kept(self, fresh: bool) -> bool:
        """`fresh`: whether a plan may be written as decided; a stale one is counted."""
        if not fresh:
            self.stale += 1
        return fresh


def resolve(snapshot: Snapshot, alert: Alert, now: datetime) -> Resolved:
    """`alert` resolved against `snapshot`, as `Ingest.ingest_one` resolves it."""
    alert = expiry.effective(alert, now)
    if alert.service is None and alert.routing_key in snapshot.routing_keys:
        alert = replace(alert, service=snapshot.routing_keys[alert.routing_key])
    decision = route(alert, snapshot.routes)
    key = incident_rules.dedup_key(
        alert, lambda: render_key(snapshot, decision.service, alert), decision.service)
    return Resolved(alert, decision, key)


@dataclass(frozen=True, slots=True)
class Plan:
    """A repeat decided: what its unit writes, if the store still holds what was seen."""

    alert: Alert
    change: incident_rules.Change
    suppressed_by: str | None
    seen: object
    config: Config
    now: datetime

    @property
    def incident(self) -> Incident:
        assert self.change.incident is not None
        return self.change.incident

    def write(self, transaction: Transaction) -> None:
        """The writes `Ingest.ingest_one` makes for this repeat, in its order."""
        incident = self.incident
        transaction.record_alert(self.alert, incident.number, incident.dedup_key, self.now,
                                 self.suppressed_by)
        expiry.track(transaction, self.config, self.alert, self.change, self.now)
        transaction.add_timeline(incident.number, self.change.timeline)
        transaction.save_incident(incident, self.change.firing)


class Repeats(Planner):
    """Plans repeats from the store's memory; counts how many were planned and written."""

    def plan(self, snapshot: Snapshot, resolved: Resolved, now: datetime) -> Plan | None:
        """The repeat's writes, decided now; None when the alert needs the ordinary way."""
        config = snapshot.config
        alert, decision, key = resolved.alert, resolved.decision, resolved.key
        if not self.takes(config, alert):
            return None
        peek = self.store.peek(key, now)
        if peek is None or peek.incident is None or peek.incident.level == 0:
            return None  # not held in memory, or never notified: paging is the store's way
        verdict = self.verdict(config, resolved, peek.silences, now)
        opening = incident_rules.Opening(
            number=0, service=decision.service, severity=decision.severity, dedup_key=key,
            escalation_policy=None)
        change = incident_rules.apply_alert(peek.incident, peek.firing, alert, opening, now)
        incident = change.incident
        if (change.action != "updated" or incident is None
                or (not verdict.label and incident.suppressed_by
                    and incident.state is IncidentState.TRIGGERED)
                or retriggers(config, incident, now)):
            return None
        self.planned += 1
        return Plan(alert, change, verdict.label, peek.seen, config, now)

    def current(self, transaction: Transaction, plan: Plan) -> bool:
        """Whether `plan` may be written as decided (in the unit, on the store's thread)."""
        return self.kept(transaction.unchanged(plan.seen))


def retriggers(config: Config, incident: Incident, now: datetime) -> bool:
    """Whether a firing alert joining `incident` triggers it again (retrigger_after)."""
    service = config.services.get(incident.service or "")
    return (incident.state is IncidentState.ACKNOWLEDGED and service is not None
            and service.retrigger_after is not None
            and incident.acknowledged_at is not None
            and now - incident.acknowledged_at >= service.retrigger_after)
