"""Escalation use cases (room: engine): escalate by hand, and the timers that escalate,
repeat the policy, end an acknowledgement that timed out, or end a muting.

An incident muted by silences or suppression windows (engine/muting.py) does not escalate:
a timer that falls due for it is held as its one "unmute" timer, and when that fires with
nothing muting it any more the incident notifies as if new, from its current level.

Each runs in ONE store unit of work; the timer is taken in the same transaction that acts on
it, so a timer racing an acknowledgement has one outcome whatever the order, and two routers
sharing one store that both find a timer due act on it once (the unit is the claim; the
other finds it gone: "stale"). Every `take_timer` is so: here (escalate, retry, unacknowledge,
unmute, and handoff through handoffs.fire), expiry.py, heartbeats.py (`timer_fired` and a
late ping's `apply`) and jobs.py (docs/escalation.md "Timers on several routers").
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

from router.alerts.model import (
    Incident,
    IncidentState,
    Notification,
    TimelineEntry,
)
from router.core.escalation import Walk, next_step, plan_level, skips, walk
from router.core.handoff import TIMER_PREFIX
from router.engine.expiry import PREFIX as EXPIRY_PREFIX
from router.engine.handoffs import Handoffs
from router.engine.ids import parse_incident_id
from router.engine.muting import UNMUTE, hold, muting_of
from router.engine.snapshot import Snapshot
from router.engine.state import EngineState
from router.errors import Conflict, NotFound
from router.store import Reader, Transaction
from router.store.outbox import Attempt as Attempt  # re-exported for server and cli

logger = logging.getLogger(__name__)


class Escalation:
    """Escalation over the engine's state; a handoff timer is handed to `handoffs`."""

    def __init__(self, state: EngineState, handoffs: Handoffs) -> None:
        self.state = state
        self.handoffs = handoffs
        self.page_held: PageHeld | None = None
        """Pages an incident a muting held before its first page (level 0): its channels
        and level 1, which need its route; the engine's ingest side sets it."""

    async def escalate(self, incident_id: str, actor: str, *,
                       from_level: int | None = None) -> tuple[Incident, int]:
        """Notify the next level now; returns the incident and the level it was at.

        After the last level the policy starts again at level 1 while its `repeat` allows.
        An acknowledged incident escalated by hand is triggered again, as in PagerDuty.
        `from_level`, when given, is the level the caller saw: checked in the same
        transaction, so two callers that saw the same level escalate only once.

        Raises:
            NotFound: no such incident.
            Conflict: the incident is resolved, is not at `from_level`, or has no further
                level.
        """
        number = parse_incident_id(incident_id)
        snapshot, now = self.state.snapshot, self.state.clock.now()

        def work(transaction: Transaction) -> tuple[Incident, int]:
            found = transaction.incident_with_firing(number)
            if found is None:
                raise NotFound(f"no incident {incident_id}")
            incident, firing = found
            if not incident.is_open:
                raise Conflict(f"{incident.id} is resolved")
            if from_level is not None and incident.level != from_level:
                raise Conflict(f"{incident.id} is at level {incident.level}, not {from_level}")
            if incident.level and incident.suppressed_by:  # a person overrides a muting
                incident = replace(incident, suppressed_by=None)
                transaction.delete_timer(number, UNMUTE)
            for kind in transaction.timers_of(number):
                if kind.startswith(RETRY):  # the level's own repeats end with it
                    transaction.delete_timer(number, kind)
            if incident.state is IncidentState.ACKNOWLEDGED:
                incident = replace(incident, state=IncidentState.TRIGGERED,
                                   acknowledged_at=None, acknowledged_by=None)
                transaction.cancel_timers(number, keep=EXPIRY_PREFIX)
                transaction.add_timeline(number, [TimelineEntry(
                    at=now, actor=actor, action="triggered again",
                    details={"why": "escalated by hand while acknowledged"})])
            updated = self.advance(transaction, snapshot, incident, firing, actor, now)
            if updated is None:
                raise Conflict(f"{incident.id} is at the last level of its policy")
            return updated, found[0].level

        escalated = await self.state.store.write(work)
        self.state.outbox_written()
        self.state.timers_written()
        return escalated

    def advance(self, transaction: Transaction, snapshot: Snapshot, incident: Incident,
                firing: frozenset[str], actor: str, now: datetime) -> Incident | None:
        """Notify the policy's next step and set its deadline; None when it has none."""
        policy = snapshot.config.escalation_policies.get(incident.escalation_policy or "")
        step = next_step(policy, incident.level, incident.repeats)
        if step is None:
            return None
        found = walk(snapshot.config, incident, step, now, self.state.new_id,
                     event="escalate", on_call=snapshot.on_call.within(transaction, now))
        level, repeats, plan = found.level, found.repeats, found.plan
        details = {"from": str(incident.level), "to": str(level),
                   "people": ", ".join(plan.people)}
        if repeats != incident.repeats:
            details["repeat"] = f"{repeats} of {policy.repeat if policy else 0}"
        timeline = [TimelineEntry(at=now, actor=actor, action="escalated", details=details)]
        timeline.extend(apply_walk(transaction, incident.number, found, now))
        transaction.add_timeline(incident.number, timeline)
        updated = replace(incident, level=level, repeats=repeats, updated_at=now,
                          suppressed_by=None,  # paged: whatever muted it no longer does
                          assigned_to=plan.people[0] if plan.people else incident.assigned_to)
        transaction.save_incident(updated, firing)
        return updated

    async def timers_due_by(self, until: datetime, limit: int = 256
                            ) -> tuple[list[tuple[int, str, datetime]], datetime | None]:
        """Timers due at or before `until`, earliest first, at most `limit` of them: (incident
        number, kind, due at); and when the first one after them falls due (None: no other).
        One store read, so the scheduler's look ahead costs one thread hop."""
        def read(reader: Reader) -> tuple[list[tuple[int, str, datetime]], datetime | None]:
            rows = reader.due_timers(until, limit)
            if len(rows) == limit:
                return rows, rows[-1][2]
            after = reader.earliest_timer_after(until)
            return rows, after
        return await self.state.store.read(read)

    async def timer_fired(self, number: int, kind: str, due_at: datetime) -> str:
        """Act on a timer that fell due; returns what it came to (for logs and tests).

        The timer is taken in the same transaction that acts on it, and only if it is still
        the one that fell due: an acknowledge, resolve or escalation that committed first
        removed or moved it, and then nothing happens ("stale"). So a timer and an
        acknowledge arriving together have one outcome whatever their order.
        - escalate: a triggered incident moves to its policy's next step, or is recorded as
          exhausted. A policy that a reload removed stops escalation (recorded).
        - unacknowledge: an acknowledgement that timed out (the service's
          acknowledge_timeout) triggers the incident again from level 1.
        - handoff:<rota>: tell the outgoing and incoming person (router/engine/handoffs.py).
        - unmute: a muted incident checks again: still muted (the timer moves to the new
          end), or it notifies its current level again and escalates on from there.
        An escalate or unacknowledge timer of a muted incident is held as its unmute timer.
        """
        snapshot, now = self.state.snapshot, self.state.clock.now()

        def work(transaction: Transaction) -> str:
            if not transaction.take_timer(number, kind, due_at):
                return "stale"
            if kind.startswith(TIMER_PREFIX):
                return self.handoffs.fire(transaction, snapshot,
                                          kind.removeprefix(TIMER_PREFIX), due_at, now)
            found = transaction.incident_with_firing(number)
            if found is None or not found[0].is_open:
                return "closed"
            incident, firing = found
            if kind == "unacknowledge":
                return self._unacknowledge(transaction, snapshot, incident, firing, now)
            if ((kind not in ("escalate", UNMUTE) and not kind.startswith(RETRY))
                    or incident.state is not IncidentState.TRIGGERED):
                return "ignored"
            muted = muting_of(transaction, snapshot, incident, firing, now)
            if muted is not None:
                hold(transaction, incident, firing, muted, now)
                return "muted"
            if kind == UNMUTE:
                return self._unmute(transaction, snapshot, incident, firing, now)
            if kind.startswith(RETRY):
                return self._retry(transaction, snapshot, incident, firing, now,
                                   int(kind.removeprefix(RETRY)))
            return self._escalate_on_time(transaction, snapshot, incident, firing, now)

        outcome = await self.state.store.write(work)
        self.state.outbox_written()
        self.state.timers_written()
        return outcome

    def _escalate_on_time(self, transaction: Transaction, snapshot: Snapshot,
                          incident: Incident, firing: frozenset[str], now: datetime) -> str:
        policy_id = incident.escalation_policy
        if policy_id and policy_id not in snapshot.config.escalation_policies:
            transaction.add_timeline(incident.number, [TimelineEntry(
                at=now, actor="router", action="escalation stopped",
                details={"why": f"escalation policy {policy_id} is no longer in the config"})])
            return "policy removed"
        if self.advance(transaction, snapshot, incident, firing, "router", now) is not None:
            return "escalated"
        policy = snapshot.config.escalation_policies.get(policy_id or "")
        transaction.add_timeline(incident.number, [TimelineEntry(
            at=now, actor="router", action="escalation exhausted",
            details={"levels": str(len(policy.levels) if policy else 0),
                     "repeats": str(incident.repeats)})])
        return "exhausted"

    def _unacknowledge(self, transaction: Transaction, snapshot: Snapshot,
                       incident: Incident, firing: frozenset[str], now: datetime) -> str:
        if incident.state is not IncidentState.ACKNOWLEDGED:
            return "ignored"
        restarted = replace(incident, state=IncidentState.TRIGGERED, acknowledged_at=None,
                            acknowledged_by=None, level=0, repeats=0, updated_at=now,
                            suppressed_by=None)
        transaction.add_timeline(incident.number, [TimelineEntry(
            at=now, actor="router", action="acknowledgement timed out",
            details={"acknowledged by": incident.acknowledged_by or ""})])
        muted = muting_of(transaction, snapshot, restarted, firing, now)
        if muted is not None:  # level 1 is paged when the muting ends
            restarted = replace(restarted, level=1)
            hold(transaction, restarted, firing, muted, now)
            return "muted"
        if self.advance(transaction, snapshot, restarted, firing, "router", now) is None:
            transaction.save_incident(restarted, firing)
        return "triggered again"

    def _unmute(self, transaction: Transaction, snapshot: Snapshot, incident: Incident,
                firing: frozenset[str], now: datetime) -> str:
        """Nothing mutes the incident any more: as Alertmanager does when a silence ends,
        it notifies as if new, from its current level (that level's pages again, and that
        level's escalation deadline from now)."""
        if incident.level == 0 and self.page_held is not None:
            return self.page_held(transaction, snapshot, incident, firing, now)
        found = walk(snapshot.config, incident, (max(incident.level, 1), incident.repeats), now,
                     self.state.new_id, on_call=snapshot.on_call.within(transaction, now))
        timeline = [TimelineEntry(at=now, actor="router", action="unmuted",
                                  details={"was": incident.suppressed_by or "",
                                           "level": str(found.level)})]
        timeline.extend(apply_walk(transaction, incident.number, found, now))
        transaction.add_timeline(incident.number, timeline)
        people = found.plan.people
        transaction.save_incident(replace(
            incident, level=found.level, repeats=found.repeats, suppressed_by=None,
            updated_at=now, assigned_to=people[0] if people else incident.assigned_to), firing)
        return "unmuted"

    def _retry(self, transaction: Transaction, snapshot: Snapshot, incident: Incident,
               firing: frozenset[str], now: datetime, retries: int) -> str:
        """The level's `retry_interval` passed: notify it again (its `retries`th repeat). A
        level that became empty meanwhile escalates on, as an empty level would."""
        policy = snapshot.config.escalation_policies.get(incident.escalation_policy or "")
        if policy is None or not 1 <= incident.level <= len(policy.levels):
            return self._escalate_on_time(transaction, snapshot, incident, firing, now)
        plan = plan_level(snapshot.config, incident, incident.level, now, self.state.new_id,
                          event="escalate", on_call=snapshot.on_call.within(transaction, now),
                          retries=retries)
        if not plan.reached and skips(policy, incident.level):
            return self._escalate_on_time(transaction, snapshot, incident, firing, now)
        level = policy.levels[incident.level - 1]
        timeline = [TimelineEntry(at=now, actor="router", action="notified again", details={
            "level": str(incident.level), "repeat": f"{retries} of {level.repeat}",
            "people": ", ".join(plan.people)})]
        timeline.extend(apply_walk(transaction, incident.number,
                                   Walk(incident.level, incident.repeats, plan), now))
        transaction.add_timeline(incident.number, timeline)
        transaction.save_incident(replace(incident, updated_at=now), firing)
        return "notified again"


PageHeld = Callable[[Transaction, Snapshot, Incident, frozenset[str], datetime], str]
"""What pages a held incident for the first time (engine/ingest.py `page_held`)."""

RETRY = "retry:"
"""The kind of a level's repeat timer is RETRY + which repeat it starts (core/escalation.py
`level_deadline`)."""


def apply_walk(transaction: Transaction, number: int, found: Walk, now: datetime,
               also: Sequence[Notification] = (), *, note: str = "") -> list[TimelineEntry]:
    """Write what a walk (core/escalation.py `walk`) notifies and its deadline, with `also`
    (an opening's channels) first, each with `note` (a first page's health context);
    returns its timeline lines: the levels it skipped, the fallback or that nobody was
    reached, what was held, and what was notified."""
    notifications = walk_notifications(found, also, note)
    transaction.add_notifications(notifications)
    if found.plan.deadline is not None:
        transaction.set_timer(number, found.plan.timer, found.plan.deadline)
    return walk_lines(found, now, notifications)


def walk_notifications(found: Walk, also: Sequence[Notification] = (),
                       note: str = "") -> list[Notification]:
    """What `apply_walk` writes to the outbox: `also` first, then the walk's, with `note`."""
    notifications = [*also, *found.plan.notifications]
    if note:
        notifications = [replace(item, note=note) for item in notifications]
    return notifications


def walk_lines(found: Walk, now: datetime,
               notifications: Sequence[Notification]) -> list[TimelineEntry]:
    """`apply_walk`'s timeline lines (pure: a page planned on the trio thread uses it)."""
    plan = found.plan
    lines = [TimelineEntry(at=now, actor="router", action="level skipped",
                           details={"level": str(level), "why": why})
             for level, why in found.skipped]
    if found.fallback is not None:
        lines.append(TimelineEntry(at=now, actor="router", action="fallback", details={
            "target": f"{found.fallback.kind}:{found.fallback.id}",
            "why": "no level of the policy reached anyone"}))
    elif found.nobody:
        lines.append(TimelineEntry(at=now, actor="router", action="nobody reached", details={
            "why": "every level tried is empty and the policy has no fallback"}))
    lines.extend(TimelineEntry(at=now, actor="router", action="not notified",
                               details={"why": why}) for why in plan.held)
    lines.extend(TimelineEntry(at=now, actor="router", action="notified",
                               details={"channel": item.channel, "target": item.target})
                 for item in notifications)
    return lines
