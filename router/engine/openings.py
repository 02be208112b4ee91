"""New incidents decided on the trio thread (room: engine; imports core, store, config.model,
alerts.model).

A new alert (one that opens an incident and pages it at once) took about a third of the
store thread's time per alert in the engine's decisions (issue 15's profile): routing, the
dedup key, the silences, the incident, the channels, the escalation walk with who is on
call, the timeline lines. All of these are pure given the config, the silences in force, the
run-time overrides and the knowledge that no incident is open for the key, which the store
keeps in memory (store/memory.py). So `plan` decides them here from `Store.peek_absent`, and
the unit of work only takes the next incident number and writes the rows, in the order and
with the values the ordinary way (`Ingest.ingest_one`) writes them. Nothing is answered
before its commit, as for every alert.

What the trio thread saw may be stale when the unit runs (another unit of the same commit
opened an incident for the key, a silence or a run-time override changed, another process
committed): `current` checks, and otherwise the alert is ingested the ordinary way. Anything
that is not a plain opening takes the ordinary way too: an alert a silence or window holds
(its muting timer), every alert while `inhibit_rules` are configured (the inhibition index
reads the store), and one whose key may name an incident opened under its old fingerprint
(engine/legacy_keys.py: `Ingest` asks before it plans).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime

from router.alerts.model import Alert, Incident, Notification, TimelineEntry
from router.config.model import Config
from router.core import incidents as incident_rules
from router.core.escalation import walk
from router.core.evolve import evolve
from router.engine import expiry
from router.engine.escalation import walk_lines, walk_notifications
from router.engine.health import health_note
from router.engine.repeats import Planner, Resolved
from router.engine.snapshot import Snapshot
from router.store import Transaction


@dataclass(frozen=True, slots=True)
class Opening:
    """A new incident decided, numbered 0 until its unit takes the next number."""

    alert: Alert
    change: incident_rules.Change
    notifications: tuple[Notification, ...]
    timer: tuple[str, datetime] | None
    """The escalation deadline's kind and time, if the walk set one."""
    timeline: tuple[TimelineEntry, ...]
    seen: object
    overrides: object
    config: Config
    now: datetime

    @property
    def key(self) -> str:
        """The new incident's dedup key."""
        assert self.change.incident is not None
        return self.change.incident.dedup_key

    def write(self, transaction: Transaction) -> Incident:
        """The writes `Ingest.ingest_one` makes for this opening, in its order; the
        incident as written (its pending analysis is the caller's: `Ingest.page`'s)."""
        number = transaction.next_incident_number()
        planned = self.change.incident
        assert planned is not None
        incident = evolve(planned, number=number)
        change = _with_incident(self.change, incident)
        transaction.record_alert(self.alert, number, incident.dedup_key, self.now, None)
        expiry.track(transaction, self.config, self.alert, change, self.now)
        transaction.add_notifications([_numbered(item, number)
                                       for item in self.notifications])
        if self.timer is not None:
            transaction.set_timer(number, *self.timer)
        transaction.add_timeline(number, self.timeline)
        transaction.save_incident(incident, change.firing)
        return incident


class Openings(Planner):
    """Plans new incidents from the store's memory; counts how many were planned, and how
    many the store no longer held as seen when their unit ran."""

    def plan(self, snapshot: Snapshot, resolved: Resolved, now: datetime,
             new_id: Callable[[], str]) -> Opening | None:
        """The opening's writes, decided now; None when the alert needs the ordinary way."""
        config = snapshot.config
        alert, decision, key = resolved.alert, resolved.decision, resolved.key
        if not self.takes(config, alert):
            return None
        overrides = snapshot.on_call.overrides_seen()
        if overrides is None:
            return None
        peek = self.store.peek_absent(key, now)
        if peek is None:
            return None
        if self.verdict(config, resolved, peek.silences, now).label:
            return None  # held before its first page: the ordinary way sets its timer
        service = config.services.get(decision.service or "")
        change = incident_rules.apply_alert(None, frozenset(), alert, incident_rules.Opening(
            number=0, service=decision.service, severity=decision.severity, dedup_key=key,
            escalation_policy=decision.escalation_policy
            or (service.escalation_policy if service else None)), now)
        incident = change.incident
        assert incident is not None
        channels = dict.fromkeys((*decision.channels, *(service.channels if service else ())))
        also = [Notification(id=new_id(), incident_number=0, channel=channel,
                             target=f"channel:{channel}", address="", event="trigger",
                             created_at=now) for channel in channels]
        found = walk(config, incident, (1, 0), now, new_id, on_call=snapshot.on_call)
        notifications = walk_notifications(found, also, health_note(alert))
        people = found.plan.people
        paged = evolve(incident, suppressed_by=None, level=found.level, repeats=found.repeats,
                       assigned_to=people[0] if people else None)
        deadline = found.plan.deadline
        self.planned += 1
        return Opening(
            alert, _with_incident(change, paged), tuple(notifications),
            (found.plan.timer, deadline) if deadline is not None else None,
            (*change.timeline, *walk_lines(found, now, notifications)),
            peek.seen, overrides, config, now)

    def current(self, transaction: Transaction, snapshot: Snapshot, plan: Opening) -> bool:
        """Whether `plan` may be written as decided (in the unit, on the store's thread):
        still no incident open for its key, the same silences, the same overrides."""
        return self.kept(transaction.unchanged(plan.seen) and snapshot.on_call.within(
            transaction, plan.now).same(plan.overrides))


# `dataclasses.replace` looks up the fields and calls `__init__` by keyword on each call; an
# opening made three such copies, a fifth of planning it (issue 15). These copy directly
# (as core/evolve.py does for the incident).


def _with_incident(change: incident_rules.Change, incident: Incident) -> incident_rules.Change:
    """`replace(change, incident=incident)`."""
    return incident_rules.Change(action=change.action, incident=incident,
                                 firing=change.firing, timeline=change.timeline)


_NOTIFICATION_FIELDS = tuple(field.name for field in fields(Notification))
_SET = object.__setattr__  # what a frozen dataclass's own __init__ uses


def _numbered(notification: Notification, number: int) -> Notification:
    """`replace(notification, incident_number=number)`."""
    new = object.__new__(Notification)
    for name in _NOTIFICATION_FIELDS:
        _SET(new, name, getattr(notification, name))
    _SET(new, "incident_number", number)
    return new
