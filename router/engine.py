"""The use cases: ingest, acknowledge, resolve, silence (room: engine; imports core, store,
config.model, alerts.model, clock, errors).

Each use case reads the config snapshot once at its start and makes its writes in ONE store
unit of work, so a reload never tears an operation in half and nothing is acknowledged to a
sender before it is durable. Decisions are the core's; this module only gathers their
inputs from the store and writes back their effects.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import jinja2
import jinja2.sandbox

from router.alerts.model import (
    Alert,
    Incident,
    IncidentState,
    Notification,
    Silence,
    SilenceMatcher,
    Status,
    TimelineEntry,
)
from router.clock import Clock
from router.config.model import Config, Rota
from router.core import incidents as incident_rules
from router.core.escalation import next_step, plan_level
from router.core.matching import pattern_of
from router.core.oncall import Shift, shift_at
from router.core.routing import Decision, RouteTable, route
from router.core.suppression import check as check_suppression
from router.errors import BadRequest
from router.store import IncidentDetail, Store, Transaction, outbox
from router.store.outbox import Attempt as Attempt  # re-exported for server and cli

logger = logging.getLogger(__name__)
_TEMPLATES = jinja2.sandbox.SandboxedEnvironment(autoescape=False)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One config with what is derived from it, swapped in as a whole on reload."""

    config: Config
    routes: RouteTable
    dedup_templates: dict[str, jinja2.Template]
    routing_keys: dict[str, str]
    on_call: OnCallCache

    @classmethod
    def of(cls, config: Config) -> Snapshot:
        templates = {service.id: _TEMPLATES.from_string(service.dedup_key)
                     for service in config.services.values() if service.dedup_key}
        keys = {key.reveal(): service.id for service in config.services.values()
                for key in service.routing_keys}
        return cls(config, RouteTable.compile(config.routes), templates, keys, OnCallCache())


class OnCallCache:
    """Who is on call in a rota, remembered for the stretch `shift_at` answers for.

    `shift_at` returns the stretch around the instant in which no input changes (its start
    and end), so any instant inside it has the same answer: paging asks once per shift
    instead of once per incident. One per Snapshot, so a reload starts afresh.
    """

    def __init__(self) -> None:
        self._known: dict[str, tuple[Rota, datetime, datetime, str | None]] = {}

    def __call__(self, rota: Rota, now: datetime) -> str | None:
        known = self._known.get(rota.id)
        if known is not None and known[0] is rota and known[1] <= now < known[2]:
            return known[3]
        shift = shift_at(rota, now).shift
        self._known[rota.id] = (rota, shift.start, shift.end, shift.person)
        return shift.person


@dataclass(frozen=True, slots=True)
class Accepted:
    """What ingest did with one alert, for the sender's answer."""

    incident_id: str | None
    dedup_key: str
    action: str
    suppressed_by: str | None = None


class Engine:
    def __init__(self, config: Config, store: Store, clock: Clock,
                 new_id: Callable[[], str] = lambda: time_ordered_id()) -> None:
        self.snapshot = Snapshot.of(config)
        self.store = store
        self.clock = clock
        self.new_id = new_id
        self.outbox_written: Callable[[], None] = lambda: None
        """Called after a commit that may have written notifications (the deliverer's wake);
        set by the daemon."""
        self.timers_written: Callable[[], None] = lambda: None
        """Called after a commit that may have set a timer (the scheduler's wake)."""

    def use_config(self, config: Config) -> None:
        """Swap in a new config; everything fallible (Snapshot.of) happens before the one
        assignment."""
        self.snapshot = Snapshot.of(config)

    async def ingest(self, alerts: Sequence[Alert], *,
                     trace_id: str | None = None) -> list[Accepted]:
        """Store every alert with its incident changes and notifications, in one commit.
        `trace_id` names the request in the log lines (the server makes one per request)."""
        snapshot, now = self.snapshot, self.clock.now()
        accepted = await self.store.write(
            lambda transaction: [self._ingest_one(transaction, snapshot, alert, now)
                                 for alert in alerts])
        self.outbox_written()
        self.timers_written()
        for item in accepted:
            logger.info("alert accepted", extra={
                "incident": item.incident_id, "action": item.action,
                "dedup_key": item.dedup_key, "suppressed_by": item.suppressed_by,
                "trace_id": trace_id})
        return accepted

    def _ingest_one(self, transaction: Transaction, snapshot: Snapshot, alert: Alert,
                    now: datetime, *, page: bool = True) -> Accepted:
        config = snapshot.config
        if alert.service is None and alert.routing_key in snapshot.routing_keys:
            alert = replace(alert, service=snapshot.routing_keys[alert.routing_key])
        decision = route(alert, snapshot.routes)
        service = config.services.get(decision.service or "")
        key = incident_rules.dedup_key(
            alert, lambda: _render_key(snapshot, decision.service, alert), decision.service)
        verdict = check_suppression(alert, config.suppressions,
                                    transaction.active_silences(now), now)
        suppressed_by = f"{verdict.kind}:{verdict.id}" if verdict.suppressed else None
        found = transaction.open_incident(key)
        incident, firing = found if found else (None, frozenset[str]())
        opening = incident_rules.Opening(
            number=transaction.next_incident_number()
            if incident is None and alert.status is Status.FIRING else 0,
            service=decision.service, severity=decision.severity, dedup_key=key,
            escalation_policy=decision.escalation_policy
            or (service.escalation_policy if service else None))
        change = incident_rules.apply_alert(incident, firing, alert, opening, now)
        transaction.record_alert(alert, change.incident.number if change.incident else None,
                                 key, now, suppressed_by)
        if change.incident is None:
            return Accepted(None, key, change.action, suppressed_by)
        if page:
            updated = self._effects(transaction, snapshot, change, decision, suppressed_by, now,
                                    firing_alert=alert.status is Status.FIRING)
        else:  # send_alert: a message, no escalation
            updated = change.incident
            transaction.add_timeline(updated.number, change.timeline)
        transaction.save_incident(updated, change.firing)
        return Accepted(updated.id, key, change.action, suppressed_by)

    def _effects(self, transaction: Transaction, snapshot: Snapshot,
                 change: incident_rules.Change, decision: Decision,
                 suppressed_by: str | None, now: datetime, *, firing_alert: bool) -> Incident:
        """Write the change's timeline, notifications and timers; return the incident."""
        incident = change.incident
        assert incident is not None
        timeline = list(change.timeline)
        if change.action in ("opened", "updated") and incident.level == 0:
            if suppressed_by:
                if incident.suppressed_by != suppressed_by:
                    timeline.append(TimelineEntry(at=now, actor="router", action="suppressed",
                                                  details={"by": suppressed_by}))
                incident = replace(incident, suppressed_by=suppressed_by)
            else:
                if incident.suppressed_by:
                    timeline.append(TimelineEntry(at=now, actor="router",
                                                  action="suppression ended"))
                incident = self._page(transaction, snapshot, incident, decision, timeline, now)
        elif change.action in ("acknowledged", "resolved"):
            self._settle_change(transaction, snapshot, incident, change.action, now)
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
        trigger hear of it, and an acknowledgement starts its timeout if the service has one."""
        transaction.cancel_timers(incident.number)
        transaction.add_notifications(self._follow_ups(transaction, incident, action, now))
        service = snapshot.config.services.get(incident.service or "")
        if action == "acknowledged" and service and service.acknowledge_timeout:
            transaction.set_timer(incident.number, "unacknowledge",
                                  now + service.acknowledge_timeout)

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
        transaction.cancel_timers(incident.number)
        restarted = replace(incident, state=IncidentState.TRIGGERED, acknowledged_at=None,
                            acknowledged_by=None, level=0, repeats=0, updated_at=now)
        transaction.add_timeline(incident.number, [TimelineEntry(
            at=now, actor="router", action="triggered again",
            details={"why": "the alert fired again after retrigger_after"})])
        return self._advance(transaction, snapshot, restarted, firing, "router", now) or restarted

    def _page(self, transaction: Transaction, snapshot: Snapshot, incident: Incident,
              decision: Decision, timeline: list[TimelineEntry], now: datetime) -> Incident:
        """First notifications of an incident: its channels and escalation level 1."""
        service = snapshot.config.services.get(incident.service or "")
        channels = dict.fromkeys((*decision.channels, *(service.channels if service else ())))
        notifications = [
            Notification(id=self.new_id(), incident_number=incident.number, channel=channel,
                         target=f"channel:{channel}", address="", event="trigger",
                         created_at=now)
            for channel in channels]
        plan = plan_level(snapshot.config, incident, 1, now, self.new_id,
                          on_call=snapshot.on_call)
        notifications.extend(plan.notifications)
        transaction.add_notifications(notifications)
        timeline.extend(TimelineEntry(at=now, actor="router", action="not notified",
                                      details={"why": why}) for why in plan.held)
        timeline.extend(TimelineEntry(at=now, actor="router", action="notified",
                                      details={"channel": item.channel, "target": item.target})
                        for item in notifications)
        if plan.deadline is not None:
            transaction.set_timer(incident.number, "escalate", plan.deadline)
        # Level 1 is notified even when no policy adds people: re-sent alerts must not page
        # the channels again (level 0 means never notified).
        return replace(incident, suppressed_by=None, level=1,
                       assigned_to=plan.people[0] if plan.people else None)

    def _follow_ups(self, transaction: Transaction, incident: Incident, event: str,
                    now: datetime) -> list[Notification]:
        """Tell each channel that carried the trigger (PagerDuty, Slack) about the change."""
        word = "acknowledge" if event == "acknowledged" else "resolve"
        return [Notification(id=self.new_id(), incident_number=incident.number,
                             channel=channel, target=f"channel:{channel}", address="",
                             event=word, created_at=now)
                for channel in transaction.notified_channels(incident.number)]

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
                raise LookupError(incident_id)
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
            return change.incident

        incident = await self.store.write(work)
        self.outbox_written()
        self.timers_written()
        return incident

    async def escalate(self, incident_id: str, actor: str, *,
                       from_level: int | None = None) -> tuple[Incident, int]:
        """Notify the next level now; returns the incident and the level it was at.

        After the last level the policy starts again at level 1 while its `repeat` allows.
        An acknowledged incident escalated by hand is triggered again, as in PagerDuty.
        `from_level`, when given, is the level the caller saw: checked in the same
        transaction, so two callers that saw the same level escalate only once.

        Raises:
            LookupError: no such incident.
            ValueError: the incident is resolved, is not at `from_level`, or has no further
                level.
        """
        number = parse_incident_id(incident_id)
        snapshot, now = self.snapshot, self.clock.now()

        def work(transaction: Transaction) -> tuple[Incident, int]:
            found = transaction.incident_with_firing(number)
            if found is None:
                raise LookupError(incident_id)
            incident, firing = found
            if not incident.is_open:
                raise ValueError(f"{incident.id} is resolved")
            if from_level is not None and incident.level != from_level:
                raise ValueError(f"{incident.id} is at level {incident.level}, not {from_level}")
            if incident.state is IncidentState.ACKNOWLEDGED:
                incident = replace(incident, state=IncidentState.TRIGGERED,
                                   acknowledged_at=None, acknowledged_by=None)
                transaction.cancel_timers(number)
                transaction.add_timeline(number, [TimelineEntry(
                    at=now, actor=actor, action="triggered again",
                    details={"why": "escalated by hand while acknowledged"})])
            updated = self._advance(transaction, snapshot, incident, firing, actor, now)
            if updated is None:
                raise ValueError(f"{incident.id} is at the last level of its policy")
            return updated, found[0].level

        escalated = await self.store.write(work)
        self.outbox_written()
        self.timers_written()
        return escalated

    def _advance(self, transaction: Transaction, snapshot: Snapshot, incident: Incident,
                 firing: frozenset[str], actor: str, now: datetime) -> Incident | None:
        """Notify the policy's next step and set its deadline; None when it has none."""
        policy = snapshot.config.escalation_policies.get(incident.escalation_policy or "")
        step = next_step(policy, incident.level, incident.repeats)
        if step is None:
            return None
        level, repeats = step
        plan = plan_level(snapshot.config, incident, level, now, self.new_id,
                          event="escalate", on_call=snapshot.on_call)
        transaction.add_notifications(plan.notifications)
        if plan.deadline is not None:
            transaction.set_timer(incident.number, "escalate", plan.deadline)
        details = {"from": str(incident.level), "to": str(level),
                   "people": ", ".join(plan.people)}
        if repeats != incident.repeats:
            details["repeat"] = f"{repeats} of {policy.repeat if policy else 0}"
        timeline = [TimelineEntry(at=now, actor=actor, action="escalated", details=details)]
        timeline.extend(TimelineEntry(at=now, actor="router", action="not notified",
                                      details={"why": why}) for why in plan.held)
        timeline.extend(TimelineEntry(at=now, actor="router", action="notified",
                                      details={"channel": item.channel, "target": item.target})
                        for item in plan.notifications)
        transaction.add_timeline(incident.number, timeline)
        updated = replace(incident, level=level, repeats=repeats, updated_at=now,
                          assigned_to=plan.people[0] if plan.people else incident.assigned_to)
        transaction.save_incident(updated, firing)
        return updated

    async def due_timers(self, now: datetime, limit: int = 256
                         ) -> list[tuple[int, str, datetime]]:
        """Timers due at `now`, earliest first: (incident number, kind, due at)."""
        return await self.store.read(lambda reader: reader.due_timers(now, limit))

    async def next_timer(self) -> datetime | None:
        found = await self.store.read(lambda reader: reader.earliest_timer())
        return found[2] if found else None

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
        """
        snapshot, now = self.snapshot, self.clock.now()

        def work(transaction: Transaction) -> str:
            if not transaction.take_timer(number, kind, due_at):
                return "stale"
            found = transaction.incident_with_firing(number)
            if found is None or not found[0].is_open:
                return "closed"
            incident, firing = found
            if kind == "unacknowledge":
                return self._unacknowledge(transaction, snapshot, incident, firing, now)
            if kind != "escalate" or incident.state is not IncidentState.TRIGGERED:
                return "ignored"
            return self._escalate_on_time(transaction, snapshot, incident, firing, now)

        outcome = await self.store.write(work)
        self.outbox_written()
        self.timers_written()
        return outcome

    def _escalate_on_time(self, transaction: Transaction, snapshot: Snapshot,
                          incident: Incident, firing: frozenset[str], now: datetime) -> str:
        policy_id = incident.escalation_policy
        if policy_id and policy_id not in snapshot.config.escalation_policies:
            transaction.add_timeline(incident.number, [TimelineEntry(
                at=now, actor="router", action="escalation stopped",
                details={"why": f"escalation policy {policy_id} is no longer in the config"})])
            return "policy removed"
        if self._advance(transaction, snapshot, incident, firing, "router", now) is not None:
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
                            acknowledged_by=None, level=0, repeats=0, updated_at=now)
        transaction.add_timeline(incident.number, [TimelineEntry(
            at=now, actor="router", action="acknowledgement timed out",
            details={"acknowledged by": incident.acknowledged_by or ""})])
        if self._advance(transaction, snapshot, restarted, firing, "router", now) is None:
            transaction.save_incident(restarted, firing)
        return "triggered again"

    def on_call(self, team: str, at: datetime | None = None) -> tuple[str, Shift]:
        """Who is on call for a rota, or for a service (its policy's first rota).

        Raises:
            LookupError: no such rota or service, or the service's policy names no rota.
        """
        config = self.snapshot.config
        rota = config.rotas.get(team)
        if rota is None and team in config.services:
            policy = config.escalation_policies.get(
                config.services[team].escalation_policy or "")
            rota_ids = [target.id for level in (policy.levels if policy else ())
                        for target in level.targets if target.kind == "rota"]
            rota = config.rotas.get(rota_ids[0]) if rota_ids else None
        if rota is None:
            raise LookupError(team)
        return rota.id, shift_at(rota, at or self.clock.now()).shift

    async def send_alert(self, alert: Alert, slack_channel: str) -> tuple[Accepted, str]:
        """Record `alert` as an incident that pages nobody, and post it to a Slack channel
        (`#alerts`) through the config's first Slack channel; its Acknowledge button then
        acknowledges that incident. Returns the incident and the notification id.

        Raises:
            LookupError: the config has no Slack channel.
        """
        snapshot, now = self.snapshot, self.clock.now()
        slack = next((channel.id for channel in sorted(snapshot.config.channels.values(),
                                                        key=lambda item: item.id)
                      if channel.type == "slack"), None)
        if slack is None:
            raise LookupError("no slack channel is configured")
        notification_id = self.new_id()

        def work(transaction: Transaction) -> Accepted:
            accepted = self._ingest_one(transaction, snapshot, alert, now, page=False)
            if accepted.incident_id is not None:
                transaction.add_notifications([Notification(
                    id=notification_id, incident_number=parse_incident_id(accepted.incident_id),
                    channel=slack, target=f"slack:{slack_channel}", address=slack_channel,
                    event="message", created_at=now)])
            return accepted

        accepted = await self.store.write(work)
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
        return await self.store.read(lambda reader: outbox.attempts(
            reader.connection, incident_number=number, failed=failed, channel=channel,
            limit=limit))

    async def create_silence(self, matchers: Sequence[tuple[str, str, str]], *,
                             ends_at: datetime, reason: str, created_by: str = "",
                             starts_at: datetime | None = None) -> Silence:
        """Check and store a run-time silence from (name, operator, value) triples.

        Raises:
            BadRequest: no matchers, an unknown operator, a regex that does not compile, an
                empty reason, or an end not after the start.
        """
        if not matchers:
            raise BadRequest("matchers", "give at least one matcher: a silence with none "
                                         "would silence everything")
        checked = []
        for index, (name, operator, value) in enumerate(matchers):
            try:
                checked.append(SilenceMatcher(name=name, operator=operator, value=value))
                if operator in ("=~", "!~"):
                    pattern_of(value)
            except (ValueError, re.error) as error:
                raise BadRequest(f"matchers[{index}]", str(error)) from None
        start = starts_at or self.clock.now()
        if ends_at <= start:
            raise BadRequest("ends_at", f"must be after the start ({start.isoformat()})")
        if not reason.strip():
            raise BadRequest("reason", "say why: a silence needs a reason")
        silence = Silence(id=f"SIL-{self.new_id()[-8:]}", matchers=tuple(checked),
                          starts_at=start, ends_at=ends_at, reason=reason,
                          created_by=created_by)
        return await self.add_silence(silence)

    async def add_silence(self, silence: Silence) -> Silence:
        await self.store.write(lambda transaction: transaction.add_silence(silence))
        return silence

    async def silences(self, *, include_expired: bool = False) -> list[Silence]:
        now = self.clock.now()
        return await self.store.read(
            lambda reader: reader.silences(None if include_expired else now))

    async def expire_silence(self, silence_id: str) -> bool:
        now = self.clock.now()
        return await self.store.write(
            lambda transaction: transaction.expire_silence(silence_id, now))


def time_ordered_id() -> str:
    """A fresh id: 32 hex digits like `uuid4().hex`, 72 of its bits random, led by the time
    in microseconds. Outbox ids (its primary key) then append to their index instead of each
    dirtying a random page of it, every one of which a commit must write and fsync. The time
    only orders ids; nothing decides by it (the Clock does that)."""
    return f"{time.time_ns() // 1000:014x}{os.urandom(9).hex()}"


def parse_incident_id(text: str) -> int:
    """`INC12` or `12` -> 12; anything else is a BadRequest."""
    digits = text[3:] if text.upper().startswith("INC") else text
    # ASCII only (int() refuses '²', which isdigit() accepts); at most 18 digits, so the
    # number fits SQLite's 64-bit INTEGER instead of overflowing in the store (a 500).
    if not digits.isascii() or not digits.isdigit() or len(digits) > 18:
        raise BadRequest("incident_id", f"expected an incident id like INC12, got {text!r}")
    return int(digits)


def _render_key(snapshot: Snapshot, service_id: str | None, alert: Alert) -> str | None:
    template = snapshot.dedup_templates.get(service_id or "")
    if template is None:
        return None
    try:
        rendered = template.render(labels=dict(alert.labels), annotations=dict(alert.annotations),
                                   severity=alert.severity.value, source=alert.source,
                                   summary=alert.summary, service=service_id)
    except jinja2.TemplateError as error:
        logger.warning("dedup key template failed; using the label hash",
                       extra={"service": service_id, "error": str(error)})
        return None
    return rendered.strip() or None
