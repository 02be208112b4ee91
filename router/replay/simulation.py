"""An alert history replayed against a config on a simulated clock (room: replay; imports
core, config.model, alerts, the engine's snapshot, expiry and repeats rules, errors).

No daemon, no store, no sleeping: one queue of events ordered by instant, the history's
arrivals and the timers they set (escalation, a level's repeats, a muting's end, an
acknowledgement's timeout, an alert going stale). Each event asks router/core the questions
the engine asks (engine/ingest.py `ingest_one`, `effects`, `page`, `release_inhibited`;
engine/escalation.py `timer_fired`, `advance`, `_retry`, `_unmute`; engine/expiry.py), with
the same functions, over the engine's `Snapshot` of the config, and keeps in memory what the
store would hold: the open incidents, their firing alerts and their timers.

What differs from the daemon, on purpose (docs/replay.md): nobody acknowledges or resolves by
hand, so an incident escalates until an alert resolves it or it goes stale (or its policy is
exhausted); there are no silences or run-time rota overrides; a timer fires at its instant
exactly; each arrival is its own request.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from router.alerts.model import Alert, Incident, IncidentState, Notification, Status
from router.config.model import Config
from router.core import incidents as incident_rules
from router.core.escalation import Walk, next_step, plan_level, skips, walk
from router.core.evolve import evolve
from router.core.heartbeats import fed_by
from router.core.routing import Decision, route
from router.core.suppression import Muting, muting
from router.core.suppression import check as check_suppression
from router.engine.expiry import PREFIX as EXPIRE
from router.engine.expiry import deadline, effective
from router.engine.repeats import retriggers
from router.engine.snapshot import Snapshot, render_key
from router.replay.history import Arrival
from router.replay.inhibition import Sources
from router.replay.tally import Tally

UNMUTE, RETRY, ESCALATE, UNACKNOWLEDGE = "unmute", "retry:", "escalate", "unacknowledge"
NEVER = datetime(9999, 12, 31, tzinfo=UTC)


@dataclass(slots=True)
class Open:
    """An open incident as the store holds it: the incident, the identities of its firing
    alerts, each one's newest arrival (as the store's alert rows give it back: summary,
    source, severity, labels), and its timers by kind."""

    incident: Incident
    firing: frozenset[str]
    latest: dict[str, Alert] = field(default_factory=dict)
    timers: dict[str, datetime] = field(default_factory=dict)


class Simulation:
    """One replay of one config. `run` feeds it a history; `tally` holds what it came to."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.snapshot = Snapshot.of(config)
        self.tally = Tally(config)
        self._open: dict[str, Open] = {}
        self._numbers: dict[int, Open] = {}
        self._queue: list[tuple[datetime, int, int, str]] = []
        self._order = itertools.count()
        self._next_number = itertools.count(1)
        self._ids = itertools.count(1)
        self._watched = tuple(heartbeat for heartbeat in config.heartbeats.values()
                              if heartbeat.match)
        """Heartbeats fed by alerts (engine/heartbeats.py `feeds`)."""
        self._sources = Sources(config.inhibit_rules, self._numbers.__contains__)

    def run(self, arrivals: Iterable[Arrival], end: datetime) -> Tally:
        """Replay `arrivals` (in order of their instants); timers fire while before `end`."""
        for arrival in arrivals:
            self._fire_until(arrival.at, inclusive=True)
            self.ingest(arrival.alert, arrival.at, arrival.fresh_until)
            self.tally.alerts += 1
        self._fire_until(end, inclusive=False)
        self.tally.still_open = len(self._numbers)
        return self.tally

    def _fire_until(self, instant: datetime, *, inclusive: bool) -> None:
        queue = self._queue
        while queue and (queue[0][0] <= instant if inclusive else queue[0][0] < instant):
            due, _, number, kind = heapq.heappop(queue)
            found = self._numbers.get(number)
            if found is None or found.timers.get(kind) != due:
                continue  # stale: moved, cancelled or closed since (the store's take_timer)
            del found.timers[kind]
            self.timer_fired(found, kind, due)

    def _new_id(self) -> str:
        return f"replay-{next(self._ids)}"

    # --- timers, as the store's timers table -------------------------------------------

    def _set_timer(self, entry: Open, kind: str, due: datetime) -> None:
        entry.timers[kind] = due
        if due < NEVER:
            heapq.heappush(self._queue, (due, next(self._order), entry.incident.number, kind))

    def _cancel_timers(self, entry: Open, keep: str = "") -> None:
        entry.timers = {kind: due for kind, due in entry.timers.items()
                        if keep and kind.startswith(keep)}

    # --- ingest (engine/ingest.py) ---------------------------------------------------

    def ingest(self, alert: Alert, now: datetime, fresh_until: datetime) -> None:
        """One alert, as `Ingest.ingest_one` takes it, then `release_inhibited` as the
        batch's end does; an alert a heartbeat's `match` takes is the heartbeat's, as
        `Ingest._accept` leaves it (its pings are not replayed)."""
        config, snapshot = self.config, self.snapshot
        if self._watched and fed_by(self._watched, alert.labels):
            self.tally.heartbeat_alerts += 1  # a heartbeat's: it pings, opens nothing
            return
        alert = effective(alert, now)
        if alert.service is None and alert.routing_key in snapshot.routing_keys:
            alert = replace(alert, service=snapshot.routing_keys[alert.routing_key])
        decision = route(alert, snapshot.routes)
        service = config.services.get(decision.service or "")
        key = incident_rules.dedup_key(
            alert, lambda: render_key(snapshot, decision.service, alert), decision.service)
        verdict = check_suppression(
            alert, config.suppressions, (), now, inhibition=self._sources.check(alert),
            routes=decision.routes, time_intervals=config.time_intervals)
        found = self._open.get(key)
        incident, firing = (found.incident, found.firing) if found else (None, frozenset())
        opening = incident_rules.Opening(
            number=next(self._next_number)
            if incident is None and alert.status is Status.FIRING else 0,
            service=decision.service, severity=decision.severity, dedup_key=key,
            escalation_policy=decision.escalation_policy
            or (service.escalation_policy if service else None))
        change = incident_rules.apply_alert(incident, firing, alert, opening, now)
        if change.incident is None:
            return
        entry = found or Open(change.incident, change.firing)
        self._sources.observe(alert, change)
        self._remember(entry, alert, change)
        self._track(entry, alert, change, max(now, fresh_until))
        if change.action == "opened":
            self.tally.opened(change.incident, now)
        updated = self.effects(entry, change, decision, verdict.label, now,
                               firing_alert=alert.status is Status.FIRING)
        if (updated.level == 0 and verdict.kind in ("silence", "suppression")
                and updated.state is IncidentState.TRIGGERED):
            self._set_timer(entry, UNMUTE, verdict.until or NEVER)
        self._save(entry, updated, change.firing)
        if self._sources.take_released():
            self.release_inhibited(now)

    def _remember(self, entry: Open, alert: Alert, change: incident_rules.Change) -> None:
        """The alert's row, as `muting` and inhibition read the store's rows back."""
        identity = incident_rules.alert_identity(alert.labels)
        if alert.status is Status.FIRING:
            entry.latest[identity] = Alert(summary=alert.summary, source=alert.source,
                                           severity=alert.severity, labels=alert.labels)
        if len(entry.latest) != len(change.firing):  # an alert left: its row is no help
            entry.latest = {known: value for known, value in entry.latest.items()
                            if known in change.firing}

    def _track(self, entry: Open, alert: Alert, change: incident_rules.Change,
               fresh_until: datetime) -> None:
        """engine/expiry.py `track`: the alert's stale deadline, from its last re-send."""
        if change.action not in ("opened", "updated"):
            return
        kind = EXPIRE + incident_rules.alert_identity(alert.labels)
        if alert.status is Status.FIRING:
            due = deadline(alert, self.config, fresh_until)
            if due is not None:
                self._set_timer(entry, kind, due)
        elif alert.status is Status.RESOLVED:
            entry.timers.pop(kind, None)

    def _save(self, entry: Open, incident: Incident, firing: frozenset[str]) -> None:
        entry.incident, entry.firing = incident, firing
        if incident.is_open:
            self._open[incident.dedup_key] = entry
            self._numbers[incident.number] = entry
        else:
            self._open.pop(incident.dedup_key, None)
            self._numbers.pop(incident.number, None)
            entry.timers.clear()

    def effects(self, entry: Open, change: incident_rules.Change, decision: Decision,
                suppressed_by: str | None, now: datetime, *, firing_alert: bool) -> Incident:
        """`Ingest.effects`: page a new incident, hold it, settle it, re-check a muting."""
        incident = change.incident
        assert incident is not None
        if change.action in ("opened", "updated") and incident.level == 0:
            if suppressed_by:
                return evolve(incident, suppressed_by=suppressed_by)
            return self.page(entry, incident, decision, now)
        if change.action in ("acknowledged", "resolved"):
            self._settle(entry, incident, change.action, now)
        elif (change.action == "updated" and firing_alert and not suppressed_by
              and incident.suppressed_by and incident.state is IncidentState.TRIGGERED):
            self._set_timer(entry, UNMUTE, now)
        elif change.action == "updated" and firing_alert and retriggers(
                self.config, incident, now):
            self._cancel_timers(entry, keep=EXPIRE)
            restarted = replace(incident, state=IncidentState.TRIGGERED, acknowledged_at=None,
                                acknowledged_by=None, level=0, repeats=0, updated_at=now)
            return self.advance(entry, restarted, now) or restarted
        return incident

    def _settle(self, entry: Open, incident: Incident, action: str, now: datetime) -> None:
        """`Engine._settle_change`: escalation stops; an acknowledgement's timeout starts."""
        self._cancel_timers(entry, keep=EXPIRE if action == "acknowledged" else "")
        service = self.config.services.get(incident.service or "")
        if action == "acknowledged" and service and service.acknowledge_timeout:
            self._set_timer(entry, UNACKNOWLEDGE, now + service.acknowledge_timeout)
        if action == "resolved":
            self.tally.resolved(incident, now)

    def page(self, entry: Open, incident: Incident, decision: Decision,
             now: datetime) -> Incident:
        """`Ingest.page`: the incident's channels and level 1 (or the first that reaches)."""
        service = self.config.services.get(incident.service or "")
        channels = dict.fromkeys((*decision.channels, *(service.channels if service else ())))
        opening = [Notification(id=self._new_id(), incident_number=incident.number,
                                channel=channel, target=f"channel:{channel}", address="",
                                event="trigger", created_at=now) for channel in channels]
        found = walk(self.config, incident, (1, 0), now, self._new_id,
                     on_call=self.snapshot.on_call)
        self._apply_walk(entry, incident, found, now, opening)
        people = found.plan.people
        return evolve(incident, suppressed_by=None, level=found.level, repeats=found.repeats,
                      assigned_to=people[0] if people else None)

    def _apply_walk(self, entry: Open, incident: Incident, found: Walk, now: datetime,
                    also: Iterable[Notification] = (), *, new_level: bool = True) -> None:
        """engine/escalation.py `apply_walk`: what is sent, counted; the deadline set.
        `new_level`: False for a level notified again (its repeat, or a muting's end)."""
        self.tally.notified(incident, (*also, *found.plan.notifications), found.level, now,
                            new_level=new_level)
        if found.plan.deadline is not None:
            self._set_timer(entry, found.plan.timer, found.plan.deadline)

    # --- inhibition (engine/inhibitions.py, engine/ingest.py) --------------------------

    def release_inhibited(self, now: datetime) -> None:
        """`Ingest.release_inhibited`: each never-paged incident an inhibition held whose
        alert is free now is checked as if that alert had just arrived."""
        config = self.config
        for entry in list(self._numbers.values()):
            incident = entry.incident
            if (incident.state is not IncidentState.TRIGGERED or incident.level != 0
                    or not (incident.suppressed_by or "").startswith("inhibition:")):
                continue
            free = next((alert for _, alert in sorted(entry.latest.items())
                         if self._sources.check(replace(alert, service=incident.service)) is None),
                        None)
            if free is None:
                continue
            decision = route(replace(free, service=incident.service), self.snapshot.routes)
            verdict = check_suppression(free, config.suppressions, (), now,
                                        routes=decision.routes,
                                        time_intervals=config.time_intervals)
            change = incident_rules.Change(action="updated", incident=incident,
                                           firing=entry.firing)
            self._save(entry, self.effects(entry, change, decision, verdict.label, now,
                                           firing_alert=False), entry.firing)

    # --- timers (engine/escalation.py, engine/expiry.py) --------------------------------

    def timer_fired(self, entry: Open, kind: str, now: datetime) -> None:
        """`Escalation.timer_fired` and `Expiry.timer_fired`, the timer already taken."""
        incident = entry.incident
        if kind.startswith(EXPIRE):
            self._expire(entry, kind.removeprefix(EXPIRE), now)
        elif kind == UNACKNOWLEDGE:
            self._unacknowledge(entry, now)
        elif (kind in (ESCALATE, UNMUTE) or kind.startswith(RETRY)) \
                and incident.state is IncidentState.TRIGGERED:
            muted = self._muting(entry, now)
            if muted is not None:
                self._hold(entry, muted)
            elif kind == UNMUTE:
                self._unmute(entry, now)
            elif kind.startswith(RETRY):
                self._retry(entry, int(kind.removeprefix(RETRY)), now)
            else:
                self._escalate_on_time(entry, now)

    def _muting(self, entry: Open, now: datetime) -> Muting | None:
        if not self.config.suppressions:
            return None
        return muting(list(entry.latest.values()), self.config.suppressions, (), now)

    def _hold(self, entry: Open, muted: Muting) -> None:
        """engine/muting.py `hold`: the incident waits as one unmute timer."""
        self._set_timer(entry, UNMUTE, muted.until or NEVER)
        entry.incident = replace(entry.incident, suppressed_by=muted.describe())

    def _expire(self, entry: Open, identity: str, now: datetime) -> None:
        if identity not in entry.firing:
            return
        left = entry.firing - {identity}
        entry.latest.pop(identity, None)
        if left:
            self._save(entry, replace(entry.incident, updated_at=now), left)
            return
        change = incident_rules.resolve(entry.incident, "router", now)
        assert change.incident is not None
        self._settle(entry, change.incident, "resolved", now)
        self._sources.resolved(entry.incident.number)
        self._save(entry, change.incident, change.firing)
        if self._sources.take_released():
            self.release_inhibited(now)

    def _unacknowledge(self, entry: Open, now: datetime) -> None:
        incident = entry.incident
        if incident.state is not IncidentState.ACKNOWLEDGED:
            return
        restarted = replace(incident, state=IncidentState.TRIGGERED, acknowledged_at=None,
                            acknowledged_by=None, level=0, repeats=0, updated_at=now,
                            suppressed_by=None)
        entry.incident = restarted
        muted = self._muting(entry, now)
        if muted is not None:
            entry.incident = replace(restarted, level=1)
            self._hold(entry, muted)
            return
        self.advance(entry, restarted, now)

    def advance(self, entry: Open, incident: Incident, now: datetime) -> Incident | None:
        """`Escalation.advance`: the policy's next step, notified; None when it has none."""
        policy = self.config.escalation_policies.get(incident.escalation_policy or "")
        step = next_step(policy, incident.level, incident.repeats)
        if step is None:
            return None
        found = walk(self.config, incident, step, now, self._new_id, event="escalate",
                     on_call=self.snapshot.on_call)
        self._apply_walk(entry, incident, found, now)
        plan = found.plan
        updated = replace(incident, level=found.level, repeats=found.repeats, updated_at=now,
                          suppressed_by=None,
                          assigned_to=plan.people[0] if plan.people else incident.assigned_to)
        self._save(entry, updated, entry.firing)
        return updated

    def _escalate_on_time(self, entry: Open, now: datetime) -> None:
        policy_id = entry.incident.escalation_policy
        if policy_id and policy_id not in self.config.escalation_policies:
            return
        if self.advance(entry, entry.incident, now) is None:
            self.tally.exhausted += 1

    def _unmute(self, entry: Open, now: datetime) -> None:
        """`Escalation._unmute`: notified as if new, from its current level (level 0: its
        channels and level 1, routed again from its newest firing alert)."""
        incident = entry.incident
        if incident.level == 0:
            alerts = list(entry.latest.values())
            alert = alerts[-1] if alerts else Alert(
                summary=incident.summary, source=incident.source, severity=incident.severity,
                labels=incident.labels)
            decision = route(replace(alert, service=incident.service), self.snapshot.routes)
            self._save(entry, self.page(entry, replace(incident, updated_at=now), decision,
                                        now), entry.firing)
            return
        found = walk(self.config, incident, (max(incident.level, 1), incident.repeats), now,
                     self._new_id, on_call=self.snapshot.on_call)
        self._apply_walk(entry, incident, found, now, new_level=found.level != incident.level)
        people = found.plan.people
        self._save(entry, replace(
            incident, level=found.level, repeats=found.repeats, suppressed_by=None,
            updated_at=now, assigned_to=people[0] if people else incident.assigned_to),
            entry.firing)

    def _retry(self, entry: Open, retries: int, now: datetime) -> None:
        """`Escalation._retry`: the level notified again; an emptied level escalates on."""
        incident = entry.incident
        policy = self.config.escalation_policies.get(incident.escalation_policy or "")
        if policy is None or not 1 <= incident.level <= len(policy.levels):
            self._escalate_on_time(entry, now)
            return
        plan = plan_level(self.config, incident, incident.level, now, self._new_id,
                          event="escalate", on_call=self.snapshot.on_call, retries=retries)
        if not plan.reached and skips(policy, incident.level):
            self._escalate_on_time(entry, now)
            return
        self._apply_walk(entry, incident, Walk(incident.level, incident.repeats, plan), now,
                         new_level=False)
        entry.incident = replace(incident, updated_at=now)
