"""Stale alerts resolve (room: engine): an alert's `ends_at` (Alertmanager's `endsAt`) is a
deadline, as in Alertmanager. A firing alert not sent again by then is over.

- A firing alert with `ends_at` in the future sets its deadline there; one without gets its
  source's `settings.resolve_timeout` from now (Alertmanager's 5m for the API v2 by default;
  none for sources that resolve explicitly: PagerDuty events, the native format, the
  webhooks), as Alertmanager sets `endsAt = now + resolve_timeout` on such an alert.
- A firing alert whose `ends_at` is already past is a resolve (`effective`).
- Each repeat moves the deadline: Prometheus re-sends every firing alert each
  resend_delay with `endsAt` four intervals ahead, so a live alert never reaches it.

One durable timer per firing alert of an incident, kind `expire:<identity>` (the
`alert_identity` that names the alert in the incident's firing set), in the store's timers table:
a repeat costs one upsert of that row and nothing else, and a restart keeps the deadline
(the scheduler fires overdue timers at once). One timer per incident at the earliest
deadline would need every alert's deadline stored somewhere else to move it on a repeat.

When a timer falls due and its alert still fires, the alert leaves the firing set; when it
was the last, the incident resolves (actor router, timeline "resolved" with why), and the
follow-ups go as for any resolve. An acknowledge keeps these timers (the alerts still fire);
a resolve removes them with the incident's other timers.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime

from router.alerts.model import Alert, Incident, Status, TimelineEntry
from router.config.model import Config
from router.core import incidents as incident_rules
from router.engine.snapshot import Snapshot
from router.engine.state import EngineState
from router.store import Transaction

logger = logging.getLogger(__name__)

PREFIX = "expire:"
"""The kind of an alert's deadline timer, before the alert's label fingerprint."""

Settle = Callable[[Transaction, Snapshot, Incident, str, datetime], None]
"""The engine's follow-ups of a resolve (timers, pages cancelled, channels told)."""


def effective(alert: Alert, now: datetime) -> Alert:
    """The alert as router takes it: firing with `ends_at` at or before now is resolved."""
    if alert.status is Status.FIRING and alert.ends_at is not None and alert.ends_at <= now:
        return replace(alert, status=Status.RESOLVED)
    return alert


def deadline(alert: Alert, config: Config, now: datetime) -> datetime | None:
    """When a firing alert goes stale unless sent again: its `ends_at`, else its source's
    resolve_timeout from now, else never (None)."""
    if alert.ends_at is not None and alert.ends_at > now:
        return alert.ends_at
    timeout = config.settings.resolve_timeout.get(alert.source)
    return now + timeout if timeout else None


def track(transaction: Transaction, config: Config, alert: Alert,
          change: incident_rules.Change, now: datetime) -> None:
    """Set, move or drop the deadline of `alert` in its incident after ingest's `change`.

    A repeat's deadline is one upsert. A later arrival without a deadline leaves the one in
    force (dropping it would cost every repeat a statement). A resolved alert that leaves
    others firing removes its timer; a resolved incident's timers go with it (the engine's
    resolve)."""
    if change.incident is None or change.action not in ("opened", "updated"):
        return
    kind = PREFIX + incident_rules.alert_identity(alert.labels)
    if alert.status is Status.FIRING:
        due = deadline(alert, config, now)
        if due is not None:
            transaction.set_timer(change.incident.number, kind, due)
    elif alert.status is Status.RESOLVED:
        transaction.delete_timer(change.incident.number, kind)


class Expiry:
    """The deadline timers' use case over the engine's state; `settle` is the engine's."""

    def __init__(self, state: EngineState, settle: Settle,
                 write: Callable[[Callable[[Transaction], str]], Awaitable[str]] | None = None
                 ) -> None:
        self.state = state
        self.settle = settle
        self.write = write or state.store.write
        """The engine's write, which drops the inhibition index if the unit does not commit
        (`settle` may release what a resolved source held)."""

    async def timer_fired(self, number: int, kind: str, due_at: datetime) -> str:
        """An alert's deadline fell due: it leaves the firing set, and the incident resolves
        if it was the last. Returns what it came to: "stale" (refreshed or removed since),
        "closed", "ignored" (the alert no longer fires), "alert expired" or "resolved"."""
        snapshot, now = self.state.snapshot, self.state.clock.now()

        def work(transaction: Transaction) -> str:
            if not transaction.take_timer(number, kind, due_at):
                return "stale"
            found = transaction.incident_with_firing(number)
            if found is None or not found[0].is_open:
                return "closed"
            incident, firing = found
            identity = kind.removeprefix(PREFIX)
            if identity not in firing:
                return "ignored"
            name = _alert_name(transaction, incident, identity)
            why = f"alert {name} not refreshed by its endsAt {_moment(due_at)}"
            return self._expire(transaction, snapshot, incident, firing - {identity},
                                name, why, now)

        outcome = await self.write(work)
        self.state.outbox_written()
        self.state.timers_written()
        return outcome

    def _expire(self, transaction: Transaction, snapshot: Snapshot, incident: Incident,
                left: frozenset[str], name: str, why: str, now: datetime) -> str:
        if left:
            transaction.add_timeline(incident.number, [TimelineEntry(
                at=now, actor="router", action="alert resolved",
                details={"summary": name, "why": why, "still firing": str(len(left))})])
            transaction.save_incident(replace(incident, updated_at=now), left)
            return "alert expired"
        change = incident_rules.resolve(incident, "router", now)
        assert change.incident is not None
        self.settle(transaction, snapshot, change.incident, "resolved", now)
        transaction.add_timeline(incident.number, [
            replace(entry, details={"why": why}) for entry in change.timeline])
        transaction.save_incident(change.incident, change.firing)
        logger.info("incident resolved: %s", why, extra={"incident": incident.id})
        return "resolved"


def _alert_name(transaction: Transaction, incident: Incident, identity: str) -> str:
    """The expired alert's summary (what the timeline calls it), found by its fingerprint."""
    if incident_rules.alert_identity(incident.labels) == identity:
        return incident.summary
    detail = transaction.detail(incident.number)
    for alert in reversed(detail.alerts if detail else ()):
        if incident_rules.alert_identity(alert["labels"]) == identity:
            return str(alert["summary"])
    return identity


def _moment(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
