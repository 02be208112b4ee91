"""The `Engine` facade and the incident lifecycle: acknowledge, resolve, send_alert (room:
engine; imports core, store, config.model, alerts.model, clock, errors). Ingest is
engine/ingest.py's.

Each use case reads the config snapshot once at its start and makes its writes in ONE store
unit of work, so a reload never tears an operation in half and nothing is acknowledged to a
sender before it is durable. Decisions are the core's; this module only gathers their
inputs from the store and writes back their effects.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from router.alerts.model import (
    Alert,
    Incident,
    Notification,
    Silence,
    TimelineEntry,
)
from router.clock import Clock
from router.config.model import Config
from router.core import incidents as incident_rules
from router.core.inhibition import Inhibition
from router.engine import direct, expiry
from router.engine.analysis import Analyses
from router.engine.checks import Checks
from router.engine.cluster import Cluster
from router.engine.escalation import Escalation
from router.engine.handoffs import Handoffs
from router.engine.health import Health
from router.engine.heartbeats import Heartbeats
from router.engine.ids import parse_incident_id, time_ordered_id
from router.engine.ingest import Accepted as Accepted  # re-exported: the server's answer
from router.engine.ingest import Ingest
from router.engine.ingest_log import IngestLog
from router.engine.inhibitions import Inhibitions, inhibition_in
from router.engine.jobs import PREFIX as JOB_PREFIX
from router.engine.jobs import Jobs
from router.engine.legacy_keys import LegacyKeys
from router.engine.muting import end_until_resolved
from router.engine.notes import Notes
from router.engine.secrets import Secrets
from router.engine.silences import Silences
from router.engine.snapshot import Snapshot
from router.engine.state import EngineState
from router.errors import NotFound, StoreUnavailable
from router.store import IncidentDetail, Transaction
from router.store.heartbeats import TIMER_PREFIX as HEARTBEAT_TIMER
from router.store.interface import Store
from router.store.outbox import Attempt as Attempt  # re-exported for server and cli


class Engine:
    """The use cases over one explicit `EngineState`, composed: the incident lifecycle here,
    ingest, escalation, handoffs and silences in their own small classes, which this facade
    delegates to so callers need only `Engine`.

    Outside the engine, callers read the config in force through `config` and the time
    through `now()`; `store`, `clock` and `snapshot` are for the engine's own modules.
    """

    def __init__(self, config: Config, store: Store, clock: Clock,
                 new_id: Callable[[], str] = lambda: time_ordered_id()) -> None:
        self.state = EngineState(Snapshot.of(config), store, clock, new_id)
        self.handoffs = Handoffs(self.state)
        self.escalation = Escalation(self.state, self.handoffs)
        self.health = Health(self.state)
        self.ingesting = Ingest(self.state, self.escalation, self._settle_change, self.health)
        self.escalation.page_held = self.ingesting.page_held
        self.silencing = Silences(self.state)
        self.expiry = expiry.Expiry(self.state, self._settle_expired,
                                    write=self.ingesting.write)
        self.notes = Notes(self.state)
        self.direct = direct.DirectNotifications(self.state)
        self.checks = Checks(self.state, self.ingesting.ingest_one, self.ingesting.write)
        self.heartbeats = Heartbeats(self.state, self.ingesting.ingest_one,
                                     self.ingesting.write)
        self.ingesting.feeds = self.heartbeats.feeds  # a heartbeat's alerts are its own
        self.jobs = Jobs(self.state, self.ingesting.ingest_one, self.ingesting.write)
        self.analysis = Analyses(self.state)
        self.ingesting.analyses = self.analysis  # a first page queues its analysis
        self.cluster = Cluster(self.state)  # the routers sharing the store (issue 18 D5)
        self.secrets = Secrets(self.state)  # keys every node shares (issue 18 item 3)

    @property
    def inhibitions(self) -> Inhibitions:
        """The inhibition index ingest keeps (engine/inhibitions.py)."""
        return self.ingesting.inhibitions

    @property
    def ingest_log(self) -> IngestLog:
        """The once-a-second INFO line of accepted alerts (the daemon runs it)."""
        return self.ingesting.log

    @ingest_log.setter
    def ingest_log(self, log: IngestLog) -> None:
        self.ingesting.log = log

    @property
    def legacy_keys(self) -> LegacyKeys:
        """Finds incidents opened under Alertmanager fingerprints (engine/legacy_keys.py)."""
        return self.ingesting.legacy_keys

    @legacy_keys.setter
    def legacy_keys(self, keys: LegacyKeys) -> None:
        self.ingesting.legacy_keys = keys

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
        """Store every alert with its incident changes and notifications, in one commit
        (engine/ingest.py); an alert whose route or service attaches checks waits for them
        first (engine/health.py)."""
        return await self.ingesting.ingest(alerts, trace_id=trace_id)

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
            self.ingesting.inhibitions.resolved(incident.number)
        if self.ingesting.inhibitions.take_released():
            self.ingesting.release_inhibited(transaction, snapshot, now)

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
                self.ingesting.inhibitions.resolved(number)
            if self.ingesting.inhibitions.take_released():
                self.ingesting.release_inhibited(transaction, snapshot, now)
            return change.incident

        incident = await self.ingesting.write(work)
        self.outbox_written()
        self.timers_written()
        return incident

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
            accepted = self.ingesting.ingest_one(transaction, snapshot, alert, now, page=False)
            if accepted.incident_id is not None:
                transaction.add_notifications([Notification(
                    id=notification_id, incident_number=parse_incident_id(accepted.incident_id),
                    channel=slack, target=f"slack:{slack_channel}", address=slack_channel,
                    event="message", created_at=now)])
            return accepted

        accepted = await self.ingesting.write(work)
        self.outbox_written()
        return accepted, notification_id

    async def pages(self, start: datetime, end: datetime) -> dict[str, list[datetime]]:
        """When each person was paged in [start, end), for the fatigue report."""
        return await self.store.read(lambda reader: reader.pages(start, end))

    async def incident(self, incident_id: str, limit: int | None = None
                       ) -> IncidentDetail | None:
        """With `limit`, the newest `limit` alerts and timeline entries (store/records.py)."""
        number = parse_incident_id(incident_id)
        return await self.store.read(lambda reader: reader.detail(number, limit))

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

    async def covered_incidents(self, matchers: Sequence[tuple[str, str, str]]
                                ) -> list[Incident]:
        return await self.silencing.covered_incidents(matchers)

    async def inhibition(self, alert: Alert) -> tuple[Inhibition, Alert] | None:
        """Which firing alert would inhibit `alert` now, by which rule (for route-test)."""
        rules = self.config.inhibit_rules
        return await self.store.read(lambda reader: inhibition_in(reader, rules, alert))

    async def silences(self, *, include_expired: bool = False) -> list[Silence]:
        return await self.silencing.silences(include_expired=include_expired)

    async def bounded_silences(self, *, include_expired: bool, limit: int
                               ) -> tuple[list[Silence], int]:
        return await self.silencing.bounded_silences(include_expired=include_expired,
                                                     limit=limit)

    async def silence_listing(self, expired_limit: int
                              ) -> tuple[list[Silence], list[Silence], int]:
        return await self.silencing.silence_listing(expired_limit)

    async def expire_silence(self, silence_id: str) -> bool:
        return await self.silencing.expire_silence(silence_id)
