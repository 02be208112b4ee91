"""The ingest use case (room: engine; imports core, store, config.model, alerts.model,
clock, errors): alerts in, their incidents opened, joined, resolved and paged, in ONE store
unit of work per call, so nothing is answered before it is durable.

Split out of engine/core.py (which keeps the facade and the lifecycle: acknowledge, resolve,
send_alert) so each stays one job. Decisions are the core's; this module gathers their
inputs from the store, writes back their effects, and lets `engine/repeats.py` decide a pure
repeat on the trio thread (only its small durable write goes to the store thread).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TypeVar

from router.alerts.model import Alert, Incident, IncidentState, Notification, Status, TimelineEntry
from router.core import incidents as incident_rules
from router.core.escalation import walk
from router.core.evolve import evolve
from router.core.routing import Decision, route
from router.core.suppression import check as check_suppression
from router.engine import expiry
from router.engine.analysis import Analyses
from router.engine.escalation import Escalation, apply_walk
from router.engine.health import Health, health_note
from router.engine.ids import parse_incident_id
from router.engine.ingest_log import IngestLog
from router.engine.inhibitions import Inhibitions
from router.engine.legacy_keys import LegacyKeys
from router.engine.muting import NEVER, UNMUTE, firing_alerts
from router.engine.openings import Opening, Openings
from router.engine.repeats import Plan, Repeats, Resolved, resolve, retriggers
from router.engine.snapshot import Snapshot
from router.engine.state import EngineState
from router.store import Transaction

logger = logging.getLogger("router.engine.core")  # the name operators' filters know
T = TypeVar("T")

Settle = Callable[[Transaction, Snapshot, Incident, str, datetime], None]
"""The lifecycle's follow-up of an acknowledge or resolve (engine/core.py `_settle_change`)."""

Feeds = Callable[[Transaction, Snapshot, Alert, datetime], str | None]
"""Heartbeats taking an alert their `match` selects, in the unit (engine/heartbeats.py
`feeds`): the heartbeat's dedup key, or None when the alert is for ingest."""


@dataclass(frozen=True, slots=True)
class Accepted:
    """What ingest did with one alert, for the sender's answer."""

    incident_id: str | None
    dedup_key: str
    action: str
    suppressed_by: str | None = None


class Ingest:
    """Ingest over the engine's state: `ingest` for senders, `ingest_one` for a use case
    that records an alert inside its own unit (send_alert), `release_inhibited` and
    `page_held` for the lifecycle and escalation, and `write` (the store's, keeping the
    inhibition index) for every unit that changes the index."""

    def __init__(self, state: EngineState, escalation: Escalation, settle: Settle,
                 health: Health) -> None:
        self.state = state
        self.escalation = escalation
        self.settle = settle
        self.health = health
        self.inhibitions = Inhibitions()
        self.log = IngestLog()
        self.legacy_keys = LegacyKeys()
        self.repeats = Repeats(state.store)
        self.openings = Openings(state.store)
        self.feeds: Feeds | None = None
        """Set by the engine once its heartbeats exist (they ingest through `ingest_one`)."""
        self.analyses: Analyses | None = None
        """Set by the engine: a first page's unit also writes its pending analysis."""

    async def ingest(self, alerts: Sequence[Alert], *,
                     trace_id: str | None = None) -> list[Accepted]:
        """Store every alert with its incident changes and notifications, in one commit.
        `trace_id` names the request in the log lines (the server makes one per request).
        An alert a heartbeat's `match` selects pings it and opens nothing (engine/heartbeats.py).
        A repeat the store's memory can decide (engine/repeats.py) is decided here on the
        trio thread; its unit only checks that nothing changed meanwhile and writes.
        An alert whose route or service attaches checks waits for them first, at most the
        longest attached timeout and a second (engine/health.py)."""
        snapshot = self.state.snapshot
        given = alerts
        if self.health.measure is not None and self.health.attaching(snapshot.config):
            alerts = await self.health.gather(snapshot, alerts)  # attach_checks
        now = self.state.clock.now()
        plans = [self._plan(snapshot, alert, now) for alert in alerts]

        ordinary = [False]  # whether a unit took the ordinary way (it may page)
        analysed = [False]  # whether a unit wrote a pending analysis

        def work(transaction: Transaction) -> list[Accepted]:
            transaction.trace_id = trace_id or ""  # carried by the notifications to delivery
            added = self.analyses.added if self.analyses is not None else 0
            accepted = []
            for alert, plan in zip(alerts, plans, strict=True):
                item, paging = self._accept(transaction, snapshot, alert, plan, now)
                ordinary[0] = ordinary[0] or paging
                accepted.append(item)
            if alerts is not given:  # a new incident's health context, on its timeline
                self.health.note(transaction, [
                    parse_incident_id(item.incident_id)
                    if item.incident_id and item.action == "opened" else None
                    for item in accepted], alerts, now)
            if self.inhibitions.take_released():  # once per batch: it reads open incidents
                self.release_inhibited(transaction, snapshot, now)
            analysed[0] = self.analyses is not None and self.analyses.added != added
            return accepted

        accepted = await self.write(work)
        if ordinary[0]:  # a repeat written as planned writes no notification
            self.state.outbox_written()
        if analysed[0] and self.analyses is not None:
            self.analyses.wake()  # a first page's pending analysis, now committed
        self.state.timers_written()
        # A line per alert only at DEBUG; the INFO line at most once a second
        # (engine/ingest_log.py): a JSON line costs about as much as accepting the alert.
        if logger.isEnabledFor(logging.DEBUG):
            for item in accepted:
                logger.debug("alert accepted", extra={
                    "incident": item.incident_id, "action": item.action,
                    "dedup_key": item.dedup_key, "suppressed_by": item.suppressed_by,
                    "trace_id": trace_id})
        self.log.accepted((item.action for item in accepted), trace_id)
        return accepted

    def _plan(self, snapshot: Snapshot, alert: Alert,
              now: datetime) -> tuple[Resolved, Plan | Opening | None]:
        """The alert routed and keyed once (the ordinary way uses it too), and a repeat or
        a new incident decided on the trio thread (engine/repeats.py, engine/openings.py);
        None: the ordinary way (also for a new alert whose key may name an incident opened
        under its old fingerprint)."""
        resolved = resolve(snapshot, alert, now)
        repeat = self.repeats.plan(snapshot, resolved, now)
        if repeat is not None or not self.legacy_keys.settled(resolved.alert, resolved.key, now):
            return resolved, repeat
        return resolved, self.openings.plan(snapshot, resolved, now, self.state.new_id)

    def _accept(self, transaction: Transaction, snapshot: Snapshot, alert: Alert,
                planned: tuple[Resolved, Plan | Opening | None],
                now: datetime) -> tuple[Accepted, bool]:
        """One alert of a sender, in the unit, and whether it took a way that may page: a
        heartbeat's when its `match` selects it (it pings the heartbeat, opens nothing and
        is never a planned repeat: engine/heartbeats.py), else its plan if the store still
        holds what the plan saw, else the ordinary way."""
        fed = self.feeds(transaction, snapshot, alert, now) if self.feeds else None
        if fed is not None:  # a heartbeat failing or recovering may page
            return Accepted(None, fed, "heartbeat"), True
        resolved, plan = planned
        if isinstance(plan, Opening):
            if self.openings.current(transaction, snapshot, plan):
                incident = plan.write(transaction)
                if self.analyses is not None:  # as `page` does: runs once this commits
                    self.analyses.add_pending(transaction, snapshot, incident,
                                              resolved.decision.routes, now)
                return Accepted(incident.id, plan.key, "opened"), True
        elif plan is not None and self.repeats.current(transaction, plan):
            return self._write_planned(transaction, plan), False
        return self.ingest_one(transaction, snapshot, alert, now, resolved=resolved), True

    @staticmethod
    def _write_planned(transaction: Transaction, plan: Plan) -> Accepted:
        """A repeat decided on the trio thread: its alert row, deadline and incident."""
        plan.write(transaction)
        return Accepted(plan.incident.id, plan.incident.dedup_key, "updated",
                        plan.suppressed_by)

    def ingest_one(self, transaction: Transaction, snapshot: Snapshot, alert: Alert,
                   now: datetime, *, page: bool = True,
                   resolved: Resolved | None = None) -> Accepted:
        """One alert, the ordinary way, in `transaction`; `resolved` is what `resolve` made
        of it on the trio thread (worked out here when not given)."""
        config = snapshot.config
        resolved = resolved or resolve(snapshot, alert, now)
        alert, decision, key = resolved.alert, resolved.decision, resolved.key
        service = config.services.get(decision.service or "")
        verdict = check_suppression(
            alert, config.suppressions, transaction.active_silences(now), now,
            inhibition=self.inhibitions.check(transaction, config.inhibit_rules, alert),
            routes=decision.routes, time_intervals=config.time_intervals)
        suppressed_by = verdict.label
        found = transaction.open_incident(key)
        if found is None and (old := self.legacy_keys.old_key(transaction, alert, key, now)):
            found = transaction.open_incident(old)
            key = old if found else key
        incident, firing = found if found else (None, frozenset[str]())
        opening = incident_rules.Opening(
            number=transaction.next_incident_number()
            if incident is None and alert.status is Status.FIRING else 0,
            service=decision.service, severity=decision.severity, dedup_key=key,
            escalation_policy=decision.escalation_policy
            or (service.escalation_policy if service else None))
        change = incident_rules.apply_alert(incident, firing, alert, opening, now)
        self.inhibitions.observe(transaction, config.inhibit_rules, alert, change)
        transaction.record_alert(alert, change.incident.number if change.incident else None,
                                 key, now, suppressed_by)
        if change.incident is None:
            return Accepted(None, key, change.action, suppressed_by)
        expiry.track(transaction, config, alert, change, now)
        if page:
            updated = self.effects(transaction, snapshot, change, decision, suppressed_by, now,
                                   firing_alert=alert.status is Status.FIRING,
                                   note=health_note(alert))
        else:  # send_alert: a message, no escalation
            updated = change.incident
            transaction.add_timeline(updated.number, change.timeline)
        if (page and updated.level == 0 and verdict.kind in ("silence", "suppression")
                and updated.state is IncidentState.TRIGGERED):
            # Held before its first page: it pages when the silence or window ends, whether
            # or not the sender sends again (engine/escalation.py `_unmute`).
            transaction.set_timer(updated.number, UNMUTE, verdict.until or NEVER)
        transaction.save_incident(updated, change.firing)
        return Accepted(updated.id, key, change.action, suppressed_by)

    def release_inhibited(self, transaction: Transaction, snapshot: Snapshot,
                          now: datetime) -> None:
        """A source stopped firing: each incident an inhibition held whose alert is free now
        is checked as if that alert had just arrived, and pages unless something else holds
        it (engine/inhibitions.py)."""
        config = snapshot.config
        for incident, firing, alert in list(self.inhibitions.held(transaction,
                                                                   config.inhibit_rules)):
            decision = route(alert, snapshot.routes)
            verdict = check_suppression(
                alert, config.suppressions, transaction.active_silences(now), now,
                routes=decision.routes, time_intervals=config.time_intervals)
            change = incident_rules.Change(action="updated", incident=incident, firing=firing)
            updated = self.effects(transaction, snapshot, change, decision, verdict.label, now,
                                   firing_alert=False)
            transaction.save_incident(updated, firing)

    def effects(self, transaction: Transaction, snapshot: Snapshot,
                change: incident_rules.Change, decision: Decision,
                suppressed_by: str | None, now: datetime, *, firing_alert: bool,
                note: str = "") -> Incident:
        """Write the change's timeline, notifications and timers; return the incident.
        `note` goes with a first page (the health context: engine/health.py)."""
        incident = change.incident
        assert incident is not None
        timeline = list(change.timeline)
        if change.action in ("opened", "updated") and incident.level == 0:
            if suppressed_by:
                if incident.suppressed_by != suppressed_by:
                    timeline.append(TimelineEntry(at=now, actor="router", action="suppressed",
                                                  details={"by": suppressed_by}))
                incident = evolve(incident, suppressed_by=suppressed_by)
            else:
                if incident.suppressed_by:
                    timeline.append(TimelineEntry(at=now, actor="router",
                                                  action="suppression ended"))
                incident = self.page(transaction, snapshot, incident, decision, timeline, now,
                                     note=note)
        elif change.action in ("acknowledged", "resolved"):
            self.settle(transaction, snapshot, incident, change.action, now)
        elif (change.action == "updated" and firing_alert and not suppressed_by
              and incident.suppressed_by and incident.state is IncidentState.TRIGGERED):
            transaction.set_timer(incident.number, UNMUTE, now)  # muted no more: re-check
        elif change.action == "updated" and firing_alert and retriggers(
                snapshot.config, incident, now):
            transaction.add_timeline(incident.number, timeline)
            timeline = []
            incident = self._retrigger(transaction, snapshot, incident, change.firing, now)
        transaction.add_timeline(incident.number, timeline)
        return incident

    def _retrigger(self, transaction: Transaction, snapshot: Snapshot, incident: Incident,
                   firing: frozenset[str], now: datetime) -> Incident:
        """Acknowledged -> triggered, escalating again from level 1."""
        transaction.cancel_timers(incident.number, keep=expiry.PREFIX)
        restarted = replace(incident, state=IncidentState.TRIGGERED, acknowledged_at=None,
                            acknowledged_by=None, level=0, repeats=0, updated_at=now)
        transaction.add_timeline(incident.number, [TimelineEntry(
            at=now, actor="router", action="triggered again",
            details={"why": "the alert fired again after retrigger_after"})])
        advanced = self.escalation.advance(transaction, snapshot, restarted, firing, "router",
                                           now)
        return advanced or restarted

    def page(self, transaction: Transaction, snapshot: Snapshot, incident: Incident,
             decision: Decision, timeline: list[TimelineEntry], now: datetime,
             note: str = "") -> Incident:
        """First notifications of an incident: its channels and escalation level 1."""
        service = snapshot.config.services.get(incident.service or "")
        channels = dict.fromkeys((*decision.channels, *(service.channels if service else ())))
        new_id = self.state.new_id
        notifications = [
            Notification(id=new_id(), incident_number=incident.number, channel=channel,
                         target=f"channel:{channel}", address="", event="trigger",
                         created_at=now)
            for channel in channels]
        found = walk(snapshot.config, incident, (1, 0), now, new_id,
                     on_call=snapshot.on_call.within(transaction, now))
        timeline.extend(apply_walk(transaction, incident.number, found, now, notifications,
                                   note=note))
        if self.analyses is not None:  # runs once this unit (the first page) is committed
            self.analyses.add_pending(transaction, snapshot, incident, decision.routes, now)
        # Level 1 (or the first that reaches someone) is notified even when no policy adds
        # people: re-sent alerts must not page the channels again (level 0: never notified).
        people = found.plan.people
        return evolve(incident, suppressed_by=None, level=found.level, repeats=found.repeats,
                      assigned_to=people[0] if people else None)

    def page_held(self, transaction: Transaction, snapshot: Snapshot, incident: Incident,
                  firing: frozenset[str], now: datetime) -> str:
        """An incident a silence or window held before its first page is free: it pages as
        if new, its route's channels and level 1, routed again from its newest firing
        alert (the service it was opened on kept)."""
        alerts = firing_alerts(transaction, incident.number, firing)
        alert = alerts[-1] if alerts else Alert(
            summary=incident.summary, source=incident.source, severity=incident.severity,
            labels=incident.labels)
        decision = route(replace(alert, service=incident.service), snapshot.routes)
        timeline = [TimelineEntry(at=now, actor="router", action="unmuted",
                                  details={"was": incident.suppressed_by or "", "level": "1"})]
        paged = self.page(transaction, snapshot, replace(incident, updated_at=now), decision,
                          timeline, now)
        transaction.add_timeline(incident.number, timeline)
        transaction.save_incident(paged, firing)
        return "unmuted"

    async def write(self, work: Callable[[Transaction], T]) -> T:
        """`store.write(work)` for work that keeps the inhibition index: if it does not
        commit, the index (changed as it went) is dropped and rebuilt on next use. The same
        when the store undoes a run of `work` and runs it again (PostgreSQL, after another
        node's transaction broke it: store/postgres.py): the second run starts from the
        index and the release the first one changed and took, which were rolled back."""
        runs = 0

        def each_run(transaction: Transaction) -> T:
            nonlocal runs
            runs += 1
            if runs > 1:
                self.inhibitions.run_again()
            return work(transaction)

        try:
            return await self.state.store.write(each_run)
        except BaseException:
            self.inhibitions.forget()
            raise

