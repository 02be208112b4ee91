"""The use cases: ingest, acknowledge, resolve, silence (room: engine; imports core, store,
config.model, alerts.model, clock, errors).

Each use case reads the config snapshot once at its start and makes its writes in ONE store
unit of work, so a reload never tears an operation in half and nothing is acknowledged to a
sender before it is durable. Decisions are the core's; this module only gathers their
inputs from the store and writes back their effects.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar

from router.alerts.model import (
    Alert,
    Incident,
    IncidentState,
    Notification,
    Silence,
    Status,
    TimelineEntry,
)
from router.clock import Clock
from router.config.model import Config
from router.core import incidents as incident_rules
from router.core.escalation import walk
from router.core.evolve import evolve
from router.core.inhibition import Inhibition
from router.core.routing import Decision, route
from router.core.suppression import check as check_suppression
from router.engine import direct, expiry
from router.engine.checks import Checks
from router.engine.escalation import Escalation, apply_walk
from router.engine.handoffs import Handoffs
from router.engine.health import Health, health_note
from router.engine.heartbeats import Heartbeats
from router.engine.ids import parse_incident_id, time_ordered_id
from router.engine.ingest_log import IngestLog
from router.engine.inhibitions import Inhibitions, inhibition_in
from router.engine.jobs import PREFIX as JOB_PREFIX
from router.engine.jobs import Jobs
from router.engine.legacy_keys import LegacyKeys
from router.engine.muting import NEVER, UNMUTE, end_until_resolved, firing_alerts
from router.engine.notes import Notes
from router.engine.silences import Silences
from router.engine.snapshot import Snapshot, render_key
from router.engine.state import EngineState
from router.errors import NotFound, StoreUnavailable
from router.store import IncidentDetail, Store, Transaction
from router.store.heartbeats import TIMER_PREFIX as HEARTBEAT_TIMER
from router.store.outbox import Attempt as Attempt  # re-exported for server and cli

logger = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Accepted:
    """What ingest did with one alert, for the sender's answer."""

    incident_id: str | None
    dedup_key: str
    action: str
    suppressed_by: str | None = None


class Engine:
    """The use cases over one explicit `EngineState`, composed: ingest and the incident
    lifecycle here, escalation, handoffs and silences in their own small classes, which this
    facade delegates to so callers need only `Engine`.

    Outside the engine, callers read the config in force through `config` and the time
    through `now()`; `store`, `clock` and `snapshot` are for the engine's own modules.
    """

    def __init__(self, config: Config, store: Store, clock: Clock,
                 new_id: Callable[[], str] = lambda: time_ordered_id()) -> None:
        self.state = EngineState(Snapshot.of(config), store, clock, new_id)
        self.handoffs = Handoffs(self.state)
        self.escalation = Escalation(self.state, self.handoffs)
        self.escalation.page_held = self._page_held
        self.silencing = Silences(self.state)
        self.inhibitions = Inhibitions()
        self.expiry = expiry.Expiry(self.state, self._settle_expired,
                                    write=self._write_inhibiting)
        self.notes = Notes(self.state)
        self.direct = direct.DirectNotifications(self.state)
        self.ingest_log = IngestLog()
        self.legacy_keys = LegacyKeys()
        self.checks = Checks(self.state, self.ingest)
        self.health = Health(self.state)
        self.heartbeats = Heartbeats(self.state, self._ingest_one)
        self.jobs = Jobs(self.state, self._ingest_one, self._write_inhibiting)

    @property
    def config(self) -> Config:
        """The config in force (a reload replaces it whole)."""
        return self.state.snapshot.config

    @property
    def routing_keys(self) -> Mapping[str, str]:
        """The service of each PagerDuty routing key the config names."""
        return self.state.snapshot.routing_keys

    def now(self) -> datetime:
        return self.state.clock.now()

    async def check_writable(self) -> StoreUnavailable | None:
        """None when the store can write, else why not (for /readyz)."""
        return await self.state.store.check_writable()

    @property
    def store(self) -> Store:
        return self.state.store

    @property
    def clock(self) -> Clock:
        return self.state.clock

    @property
    def snapshot(self) -> Snapshot:
        return self.state.snapshot

    def new_id(self) -> str:
        """A fresh, time-ordered id (the engine's id maker: tests inject theirs)."""
        return self.state.new_id()

    @property
    def outbox_written(self) -> Callable[[], None]:
        """Called after a commit that may have written notifications (the deliverer's
        wake); set by the daemon."""
        return self.state.outbox_written

    @outbox_written.setter
    def outbox_written(self, wake: Callable[[], None]) -> None:
        self.state.outbox_written = wake

    @property
    def timers_written(self) -> Callable[[], None]:
        """Called after a commit that may have set a timer (the scheduler's wake)."""
        return self.state.timers_written

    @timers_written.setter
    def timers_written(self, wake: Callable[[], None]) -> None:
        self.state.timers_written = wake

    def use_config(self, config: Config) -> None:
        """Swap in a new config; everything fallible (Snapshot.of) happens before the one
        assignment."""
        self.state.snapshot = Snapshot.of(config)

    async def ingest(self, alerts: Sequence[Alert], *,
                     trace_id: str | None = None) -> list[Accepted]:
        """Store every alert with its incident changes and notifications, in one commit.
        `trace_id` names the request in the log lines (the server makes one per request).
        An alert whose route or service attaches checks waits for them first, at most the
        longest attached timeout and a second (engine/health.py)."""
        snapshot = self.snapshot
        given = alerts
        if self.health.measure is not None and self.health.attaching(snapshot.config):
            alerts = await self.health.gather(snapshot, alerts)  # attach_checks
        now = self.clock.now()

        def work(transaction: Transaction) -> list[Accepted]:
            transaction.trace_id = trace_id or ""  # carried by the notifications to delivery
            accepted = [self._accept(transaction, snapshot, alert, now) for alert in alerts]
            if alerts is not given:  # a new incident's health context, on its timeline
                self.health.note(transaction, [
                    parse_incident_id(item.incident_id)
                    if item.incident_id and item.action == "opened" else None
                    for item in accepted], alerts, now)
            if self.inhibitions.take_released():  # once per batch: it reads open incidents
                self._release_inhibited(transaction, snapshot, now)
            return accepted

        accepted = await self._write_inhibiting(work)
        self.outbox_written()
        self.timers_written()
        # A line per alert only at DEBUG; the INFO line at most once a second
        # (engine/ingest_log.py): a JSON line costs about as much as accepting the alert.
        if logger.isEnabledFor(logging.DEBUG):
            for item in accepted:
                logger.debug("alert accepted", extra={
                    "incident": item.incident_id, "action": item.action,
                    "dedup_key": item.dedup_key, "suppressed_by": item.suppressed_by,
                    "trace_id": trace_id})
        self.ingest_log.accepted((item.action for item in accepted), trace_id)
        return accepted

    def _accept(self, transaction: Transaction, snapshot: Snapshot, alert: Alert,
                now: datetime) -> Accepted:
        """One alert of a sender: a heartbeat's when its `match` selects it (it pings the
        heartbeat and opens no incident: engine/heartbeats.py), else ingested."""
        key = self.heartbeats.feeds(transaction, snapshot, alert, now)
        if key is not None:
            return Accepted(None, key, "heartbeat")
        return self._ingest_one(transaction, snapshot, alert, now)

    def _ingest_one(self, transaction: Transaction, snapshot: Snapshot, alert: Alert,
                    now: datetime, *, page: bool = True) -> Accepted:
        config = snapshot.config
        alert = expiry.effective(alert, now)
        if alert.service is None and alert.routing_key in snapshot.routing_keys:
            alert = replace(alert, service=snapshot.routing_keys[alert.routing_key])
        decision = route(alert, snapshot.routes)
        service = config.services.get(decision.service or "")
        key = incident_rules.dedup_key(
            alert, lambda: render_key(snapshot, decision.service, alert), decision.service)
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
            updated = self._effects(transaction, snapshot, change, decision, suppressed_by, now,
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

    def _release_inhibited(self, transaction: Transaction, snapshot: Snapshot,
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
            updated = self._effects(transaction, snapshot, change, decision, verdict.label, now,
                                    firing_alert=False)
            transaction.save_incident(updated, firing)

    def _effects(self, transaction: Transaction, snapshot: Snapshot,
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
                incident = self._page(transaction, snapshot, incident, decision, timeline, now,
                                      note=note)
        elif change.action in ("acknowledged", "resolved"):
            self._settle_change(transaction, snapshot, incident, change.action, now)
        elif (change.action == "updated" and firing_alert and not suppressed_by
              and incident.suppressed_by and incident.state is IncidentState.TRIGGERED):
            transaction.set_timer(incident.number, UNMUTE, now)  # muted no more: re-check
        elif change.action == "updated" and firing_alert and self._retriggers(
                snapshot, incident, now):
            transaction.add_timeline(incident.number, timeline)
            timeline = []
            incident = self._retrigger(transaction, snapshot, incident, change.firing, now)
        transaction.add_timeline(incident.number, timeline)
        return incident

    def _settle_change(self, transaction: Transaction, snapshot: Snapshot,
                       incident: Incident, action: str, now: datetime) -> None:
        """After an acknowledge or resolve: escalation stops, the channels that carried the
        trigger hear of it, and an acknowledgement starts its timeout if the service has one.
        A resolve also cancels the pages not sent yet (a retry would reach someone after the
        incident is over), and tells only the channels the trigger reached. Stale-alert
        deadlines outlive an acknowledge (the alerts still fire)."""
        transaction.cancel_timers(
            incident.number, keep=expiry.PREFIX if action == "acknowledged" else "")
        if action == "resolved":
            end_until_resolved(transaction, incident.number, now)
            cancelled = transaction.outbox.cancel_pages(incident.number, now,
                                            f"{incident.id} was resolved before this was sent")
            if cancelled:
                transaction.add_timeline(incident.number, [TimelineEntry(
                    at=now, actor="router", action="pages cancelled",
                    details={"count": str(len(cancelled)),
                             "why": "the incident was resolved before they were sent"})])
        transaction.add_notifications(self._follow_ups(transaction, snapshot, incident, action,
                                                       now))
        service = snapshot.config.services.get(incident.service or "")
        if action == "acknowledged" and service and service.acknowledge_timeout:
            transaction.set_timer(incident.number, "unacknowledge",
                                  now + service.acknowledge_timeout)

    def _settle_expired(self, transaction: Transaction, snapshot: Snapshot,
                        incident: Incident, action: str, now: datetime) -> None:
        """As `_settle_change` for an incident whose last alert went stale; a source that
        resolved so inhibits no more, and what it held pages now."""
        self._settle_change(transaction, snapshot, incident, action, now)
        if action == "resolved":
            self.inhibitions.resolved(incident.number)
        if self.inhibitions.take_released():
            self._release_inhibited(transaction, snapshot, now)

    @staticmethod
    def _retriggers(snapshot: Snapshot, incident: Incident, now: datetime) -> bool:
        """Whether a firing alert joining `incident` triggers it again (retrigger_after)."""
        service = snapshot.config.services.get(incident.service or "")
        return (incident.state is IncidentState.ACKNOWLEDGED and service is not None
                and service.retrigger_after is not None
                and incident.acknowledged_at is not None
                and now - incident.acknowledged_at >= service.retrigger_after)

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

    def _page(self, transaction: Transaction, snapshot: Snapshot, incident: Incident,
              decision: Decision, timeline: list[TimelineEntry], now: datetime,
              note: str = "") -> Incident:
        """First notifications of an incident: its channels and escalation level 1."""
        service = snapshot.config.services.get(incident.service or "")
        channels = dict.fromkeys((*decision.channels, *(service.channels if service else ())))
        notifications = [
            Notification(id=self.new_id(), incident_number=incident.number, channel=channel,
                         target=f"channel:{channel}", address="", event="trigger",
                         created_at=now)
            for channel in channels]
        found = walk(snapshot.config, incident, (1, 0), now, self.new_id,
                     on_call=snapshot.on_call.within(transaction, now))
        timeline.extend(apply_walk(transaction, incident.number, found, now, notifications,
                                   note=note))
        # Level 1 (or the first that reaches someone) is notified even when no policy adds
        # people: re-sent alerts must not page the channels again (level 0: never notified).
        people = found.plan.people
        return evolve(incident, suppressed_by=None, level=found.level, repeats=found.repeats,
                      assigned_to=people[0] if people else None)

    def _page_held(self, transaction: Transaction, snapshot: Snapshot, incident: Incident,
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
        paged = self._page(transaction, snapshot, replace(incident, updated_at=now), decision,
                           timeline, now)
        transaction.add_timeline(incident.number, timeline)
        transaction.save_incident(paged, firing)
        return "unmuted"

    def _follow_ups(self, transaction: Transaction, snapshot: Snapshot, incident: Incident,
                    event: str, now: datetime) -> list[Notification]:
        """Tell each channel that carried the trigger (PagerDuty, Slack) about the change: an
        acknowledge follows the trigger (it waits for it); a resolve goes only where the
        trigger arrived, or may have (PagerDuty resolves by dedup key: harmless if not)."""
        if event == "acknowledged":
            word, channels = "acknowledge", transaction.notified_channels(incident.number)
        else:
            by_key = [channel.id for channel in snapshot.config.channels.values()
                      if channel.type == "pagerduty"]
            word, channels = "resolve", transaction.outbox.told_channels(incident.number, by_key)
        return [Notification(id=self.new_id(), incident_number=incident.number,
                             channel=channel, target=f"channel:{channel}", address="",
                             event=word, created_at=now)
                for channel in channels]

    async def acknowledge(self, incident_id: str, actor: str) -> Incident:
        return await self._transition(incident_id, actor, "acknowledge")

    async def resolve(self, incident_id: str, actor: str) -> Incident:
        return await self._transition(incident_id, actor, "resolve")

    async def _transition(self, incident_id: str, actor: str, verb: str) -> Incident:
        number = parse_incident_id(incident_id)
        snapshot, now = self.snapshot, self.clock.now()

        def work(transaction: Transaction) -> Incident:
            found = transaction.incident_with_firing(number)
            if found is None:
                raise NotFound(f"no incident {incident_id}")
            incident, firing = found
            if verb == "acknowledge":
                change = incident_rules.acknowledge(incident, firing, actor, now)
            else:
                change = incident_rules.resolve(incident, actor, now)
            if change.action == "ignored":
                return incident
            assert change.incident is not None
            self._settle_change(transaction, snapshot, change.incident, change.action, now)
            transaction.add_timeline(number, change.timeline)
            transaction.save_incident(change.incident, change.firing)
            if change.action == "resolved":
                self.inhibitions.resolved(number)
            if self.inhibitions.take_released():
                self._release_inhibited(transaction, snapshot, now)
            return change.incident

        incident = await self._write_inhibiting(work)
        self.outbox_written()
        self.timers_written()
        return incident

    async def _write_inhibiting(self, work: Callable[[Transaction], T]) -> T:
        """`store.write(work)` for work that keeps the inhibition index: if it does not
        commit, the index (changed as it went) is dropped and rebuilt on next use."""
        try:
            return await self.store.write(work)
        except BaseException:
            self.inhibitions.forget()
            raise

    async def send_alert(self, alert: Alert, slack_channel: str) -> tuple[Accepted, str]:
        """Record `alert` as an incident that pages nobody, and post it to a Slack channel
        (`#alerts`) through the config's first Slack channel; its Acknowledge button then
        acknowledges that incident. Returns the incident and the notification id.

        Raises:
            NotFound: the config has no Slack channel.
        """
        snapshot, now = self.snapshot, self.clock.now()
        slack = next((channel.id for channel in sorted(snapshot.config.channels.values(),
                                                        key=lambda item: item.id)
                      if channel.type == "slack"), None)
        if slack is None:
            raise NotFound("no slack channel is configured")
        notification_id = self.new_id()

        def work(transaction: Transaction) -> Accepted:
            accepted = self._ingest_one(transaction, snapshot, alert, now, page=False)
            if accepted.incident_id is not None:
                transaction.add_notifications([Notification(
                    id=notification_id, incident_number=parse_incident_id(accepted.incident_id),
                    channel=slack, target=f"slack:{slack_channel}", address=slack_channel,
                    event="message", created_at=now)])
            return accepted

        accepted = await self._write_inhibiting(work)
        self.outbox_written()
        return accepted, notification_id

    async def pages(self, start: datetime, end: datetime) -> dict[str, list[datetime]]:
        """When each person was paged in [start, end), for the fatigue report."""
        return await self.store.read(lambda reader: reader.pages(start, end))

    async def incident(self, incident_id: str) -> IncidentDetail | None:
        number = parse_incident_id(incident_id)
        return await self.store.read(lambda reader: reader.detail(number))

    async def incidents(self, **filters: Any) -> list[Incident]:
        return await self.store.read(lambda reader: reader.incidents(**filters))

    async def deliveries(self, *, incident_id: str | None = None, failed: bool = False,
                         channel: str | None = None, limit: int = 100) -> list[Attempt]:
        """The delivery log, newest first."""
        number = parse_incident_id(incident_id) if incident_id is not None else None
        return await self.store.read(lambda reader: reader.outbox.attempts(
            incident_number=number, failed=failed, channel=channel, limit=limit))

    async def log_attempt(self, attempt: Attempt) -> None:
        """Keep an attempt made outside the deliverer (`router test-channel`) in the log."""
        await self.store.write(lambda transaction: transaction.outbox.record(attempt))

    # Delegated use cases: escalation.py, handoffs.py, silences.py, notes.py.

    async def escalate(self, incident_id: str, actor: str, *,
                       from_level: int | None = None) -> tuple[Incident, int]:
        return await self.escalation.escalate(incident_id, actor, from_level=from_level)

    async def timers_due_by(self, until: datetime, limit: int = 256
                            ) -> tuple[list[tuple[int, str, datetime]], datetime | None]:
        return await self.escalation.timers_due_by(until, limit)

    async def timer_fired(self, number: int, kind: str, due_at: datetime) -> str:
        if number == 0 and kind.startswith(HEARTBEAT_TIMER):
            return await self.heartbeats.timer_fired(kind, due_at)
        if kind.startswith(expiry.PREFIX):
            return await self.expiry.timer_fired(number, kind, due_at)
        if number == 0 and kind.startswith(JOB_PREFIX):
            return await self.jobs.timer_fired(number, kind, due_at)
        return await self.escalation.timer_fired(number, kind, due_at)

    async def add_note(self, incident_id: str, text: str, author: str) -> TimelineEntry:
        return await self.notes.add_note(incident_id, text, author)

    async def notify(self, sends: Sequence[direct.Send], *, trace_id: str = ""
                     ) -> list[list[direct.Queued]]:
        return await self.direct.send(sends, trace_id=trace_id)

    def channels(self) -> list[dict[str, Any]]:
        return direct.channels(self.config)

    async def schedule_handoffs(self) -> dict[str, datetime]:
        return await self.handoffs.schedule_handoffs()

    async def schedule_heartbeats(self) -> dict[str, datetime | None]:
        return await self.heartbeats.schedule()

    async def create_silence(self, matchers: Sequence[tuple[str, str, str]], *,
                             ends_at: datetime | None, reason: str, created_by: str = "",
                             starts_at: datetime | None = None,
                             until_resolved: bool = False) -> Silence:
        return await self.silencing.create_silence(
            matchers, ends_at=ends_at, reason=reason, created_by=created_by,
            starts_at=starts_at, until_resolved=until_resolved)

    async def add_silence(self, silence: Silence) -> Silence:
        return await self.silencing.add_silence(silence)

    async def inhibition(self, alert: Alert) -> tuple[Inhibition, Alert] | None:
        """Which firing alert would inhibit `alert` now, by which rule (for route-test)."""
        rules = self.config.inhibit_rules
        return await self.store.read(lambda reader: inhibition_in(reader, rules, alert))

    async def silences(self, *, include_expired: bool = False) -> list[Silence]:
        return await self.silencing.silences(include_expired=include_expired)

    async def expire_silence(self, silence_id: str) -> bool:
        return await self.silencing.expire_silence(silence_id)
