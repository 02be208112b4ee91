"""Stale alerts resolve (issue 16 item 2): an alert's endsAt is a deadline, a repeat moves it,
a source without endsAt gets its resolve_timeout (Alertmanager's 5m for the API v2, none for
PagerDuty), and the deadline is a timer in the store, so a restart keeps it. The engine and
the one timer task on a real SQLite store under trio's MockClock.
"""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trio
import trio.testing
from trio.testing import MockClock

from router.alerts.model import Alert, IncidentState, Severity, Status
from router.clock import TrioClock
from router.config import load_config
from router.engine import Engine
from router.engine.scheduler import Scheduler
from router.store import Store, Transaction
from router.store.outbox import Attempt
from tests.tasks import start_stoppable

START = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
CONFIG = """
settings:
  timezone: UTC
  resolve_timeout: {native: 10m}
channels:
  - {id: pd, type: pagerduty, routing_key: RRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRR}
escalation_policies:
  - id: slow
    levels:
      - {targets: [{channel: pd}], delay: 2h}
      - {targets: [{channel: pd}], delay: 2h}
services:
  - {id: api, escalation_policy: slow, channels: [pd]}
routes:
  - service: api
"""


@dataclass
class Running:
    engine: Engine
    scope: trio.CancelScope

    def at(self, seconds: float) -> datetime:
        return START + timedelta(seconds=seconds)

    async def send(self, source: str = "alertmanager_v2", *, ends_in: float | None = None,
                   status: Status = Status.FIRING, instance: str = "db1") -> str | None:
        now = self.engine.now()
        [accepted] = await self.engine.ingest([Alert(
            summary=f"Disk full on {instance}", source=source, severity=Severity.CRITICAL,
            status=status, labels={"alertname": "DiskFull", "instance": instance},
            dedup_key="disk", ends_at=None if ends_in is None
            else now + timedelta(seconds=ends_in))])
        return accepted.incident_id

    async def delivered(self, channel: str) -> None:
        """Record the incident's triggers to `channel` as delivered, as the deliverer would."""
        pending = await self.engine.store.read(lambda reader: reader.pending_notifications())
        attempts = [Attempt(notification_id=trigger.id, incident_number=1, channel=channel,
                            target=trigger.target, event="trigger", attempt=1,
                            attempted_at=self.engine.now(), outcome="delivered",
                            status_code=202)
                    for trigger in pending if trigger.channel == channel]

        def work(transaction: Transaction) -> None:
            for attempt in attempts:
                transaction.outbox.record(attempt)
        await self.engine.store.write(work)

    async def state(self, incident_id: str = "INC1") -> IncidentState:
        detail = await self.engine.incident(incident_id)
        assert detail is not None
        return detail.incident.state

    async def timers(self) -> dict[str, datetime]:
        return await self.engine.store.write(lambda transaction: transaction.timers_of(1))


async def start(tmp_path: Path, nursery: trio.Nursery, epoch: datetime) -> Running:
    store = await Store.open(tmp_path / "router.db", synchronous="NORMAL")
    engine = Engine(load_config([tmp_path / "router.yaml"]), store, TrioClock(epoch))
    scheduler = Scheduler(engine)
    engine.timers_written = scheduler.poke
    return Running(engine, await start_stoppable(nursery, scheduler.run))


async def stop(running: Running) -> None:
    running.scope.cancel()
    await running.engine.store.close()


@pytest.fixture
def clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0.05)


@pytest.fixture
async def running(tmp_path: Path, nursery: trio.Nursery,
                  clock: MockClock) -> AsyncIterator[Running]:
    (tmp_path / "router.yaml").write_text(textwrap.dedent(CONFIG))
    running = await start(tmp_path, nursery, START)
    yield running
    await stop(running)


async def test_an_alert_not_sent_again_by_its_ends_at_resolves_its_incident(
        running: Running, clock: MockClock) -> None:
    assert await running.send(ends_in=8) == "INC1"
    await running.delivered("pd")
    await trio.sleep(7.9)
    assert await running.state() is IncidentState.TRIGGERED
    await trio.sleep(0.2)
    assert await running.state() is IncidentState.RESOLVED
    detail = await running.engine.incident("INC1")
    assert detail is not None
    resolved_at = detail.incident.resolved_at
    assert resolved_at is not None
    assert running.at(8) <= resolved_at < running.at(8.1)  # a thread hop under autojump
    last = detail.timeline[-1]
    assert (last.actor, last.action, dict(last.details)) == ("router", "resolved", {
        "why": "alert Disk full on db1 not refreshed by its endsAt 2026-12-05T09:00:08Z"})
    # the follow-ups of any resolve: PagerDuty hears of it; no timer is left
    pending = await running.engine.store.read(
        lambda reader: reader.pending_notifications())
    assert [(item.channel, item.event) for item in pending] == [("pd", "resolve")]
    assert await running.timers() == {}


async def test_each_repeat_moves_the_deadline(running: Running, clock: MockClock) -> None:
    await running.send(ends_in=8)
    await trio.sleep(5)
    await running.send(ends_in=8)  # Prometheus re-sends with endsAt ahead again
    await trio.sleep(7)  # 12 s: past the first deadline
    assert await running.state() is IncidentState.TRIGGERED
    due = (await running.timers())["expire:" + _fingerprint()]
    assert running.at(13) <= due < running.at(13.1)
    await trio.sleep(1.1)
    assert await running.state() is IncidentState.RESOLVED


async def test_a_restart_keeps_the_deadline(running: Running, clock: MockClock,
                                            tmp_path: Path, nursery: trio.Nursery) -> None:
    await running.send(ends_in=60)
    await trio.sleep(10)
    await stop(running)  # the daemon is down across the deadline
    await trio.sleep(120)
    again = await start(tmp_path, nursery, running.at(130))
    try:
        await trio.sleep(0.5)  # overdue: fires at once
        assert await again.state() is IncidentState.RESOLVED
        detail = await again.engine.incident("INC1")
        assert detail is not None
        assert detail.timeline[-1].details["why"].endswith("endsAt 2026-12-05T09:01:00Z")
    finally:
        running.scope = again.scope  # the fixture stops the running one
        running.engine = again.engine


async def test_a_firing_alert_whose_ends_at_is_past_resolves_now(
        running: Running, clock: MockClock) -> None:
    await running.send(ends_in=300)
    await trio.sleep(1)
    await running.send(ends_in=-1)
    assert await running.state() is IncidentState.RESOLVED
    assert await running.send("native", ends_in=-1, instance="db2") is None  # opens nothing


async def test_a_source_without_ends_at_resolves_after_its_resolve_timeout(
        running: Running, clock: MockClock) -> None:
    await running.send("native")  # settings.resolve_timeout: {native: 10m}
    await trio.sleep(599)
    assert await running.state() is IncidentState.TRIGGERED
    await trio.sleep(2)
    assert await running.state() is IncidentState.RESOLVED


async def test_the_api_v2_without_ends_at_gets_alertmanagers_five_minutes(
        running: Running, clock: MockClock) -> None:
    await running.send("alertmanager_v2")
    await trio.sleep(299)
    assert await running.state() is IncidentState.TRIGGERED
    await trio.sleep(2)
    assert await running.state() is IncidentState.RESOLVED


async def test_pagerduty_events_have_no_deadline(running: Running, clock: MockClock) -> None:
    await running.send("pagerduty")
    await trio.sleep(3600)
    assert await running.state() is IncidentState.TRIGGERED
    assert list(await running.timers()) == ["escalate"]


async def test_an_acknowledged_incident_still_resolves_when_its_alert_goes_stale(
        running: Running, clock: MockClock) -> None:
    await running.send(ends_in=30)
    await running.engine.acknowledge("INC1", "api:ann")
    await trio.sleep(31)
    assert await running.state() is IncidentState.RESOLVED


async def test_escalating_an_acknowledged_incident_by_hand_keeps_the_deadline(
        running: Running, clock: MockClock) -> None:
    await running.send(ends_in=30)
    await running.engine.acknowledge("INC1", "api:ann")
    await running.engine.escalate("INC1", "api:ann")  # triggered again: escalation restarts
    assert "expire:" + _fingerprint() in await running.timers()
    await trio.sleep(31)
    assert await running.state() is IncidentState.RESOLVED


async def test_the_incident_stays_open_while_another_of_its_alerts_fires(
        running: Running, clock: MockClock) -> None:
    await running.send(ends_in=10, instance="db1")
    await running.send(ends_in=60, instance="db2")
    await trio.sleep(11)
    detail = await running.engine.incident("INC1")
    assert detail is not None and detail.incident.state is IncidentState.TRIGGERED
    last = detail.timeline[-1]
    assert (last.action, last.details["summary"], last.details["still firing"]) == (
        "alert resolved", "Disk full on db1", "1")
    await trio.sleep(50)
    detail = await running.engine.incident("INC1")
    assert detail is not None and detail.incident.state is IncidentState.RESOLVED
    assert detail.timeline[-1].details["why"].startswith("alert Disk full on db2 ")


async def test_an_alert_resolved_by_its_sender_takes_its_deadline_with_it(
        running: Running, clock: MockClock) -> None:
    await running.send(ends_in=10, instance="db1")
    await running.send(ends_in=60, instance="db2")
    await running.send(status=Status.RESOLVED, instance="db1")
    assert sorted(await running.timers()) == ["escalate", "expire:" + _fingerprint("db2")]


def _fingerprint(instance: str = "db1") -> str:
    from router.core.incidents import alert_identity
    return alert_identity({"alertname": "DiskFull", "instance": instance})


async def test_a_repeat_moves_its_deadline_with_one_statement_more(
        running: Running, clock: MockClock) -> None:
    """What a repeat costs with a deadline, beside a repeat of an alert without one."""
    writer = running.engine.store._writer

    async def repeat(source: str, instance: str) -> list[str]:
        await running.send(source, ends_in=None if source == "pagerduty" else 60,
                           instance=instance)
        statements: list[str] = []
        writer.set_trace_callback(statements.append)
        try:
            await running.send(source, ends_in=None if source == "pagerduty" else 60,
                               instance=instance)
        finally:
            writer.set_trace_callback(None)
        return statements

    without = await repeat("pagerduty", "db1")
    with_deadline = await repeat("alertmanager_v2", "db2")
    [upsert] = [text for text in with_deadline if "timers" in text]
    assert upsert.startswith("INSERT INTO timers (incident_number, kind, due_at) VALUES "
                             f"(1, 'expire:{_fingerprint('db2')}', ")
    assert upsert.endswith("ON CONFLICT (incident_number, kind) DO UPDATE SET due_at = "
                           "excluded.due_at")
    assert len(with_deadline) == len(without) + 1, (without, with_deadline)
