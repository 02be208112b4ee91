"""Heartbeats (issue 19 item 1): a missed deadline opens an incident on the heartbeat's
service, the next ping resolves it; a failure raises it at once; alerts that match feed a
heartbeat; and the deadline is a durable timer, so a restart, or a daemon down longer than
the grace, neither loses a miss nor reports one twice. The engine and the one timer task on
a real SQLite store under trio's MockClock.
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

from router.alerts.model import Alert, Incident, IncidentState, Severity, Status
from router.clock import TrioClock
from router.config import load_config
from router.core.heartbeats import Ping, Signal, signal_of
from router.engine import Engine
from router.engine.scheduler import Scheduler
from router.errors import NotFound
from router.store import Store
from tests.tasks import start_stoppable

START = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
TOKEN = "0123456789abcdef0123"
CONFIG = f"""
settings: {{timezone: UTC}}
channels:
  - {{id: pd, type: pagerduty, routing_key: RRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRR}}
services:
  - {{id: backups, channels: [pd]}}
  - {{id: monitoring, channels: [pd]}}
heartbeats:
  - id: backup
    service: backups
    period: 1h
    grace: 10m
    token: {TOKEN}
  - id: watchdog
    service: monitoring
    period: 5m
    grace: 1m
    match: {{alertname: Watchdog}}
"""
HOUR, MINUTE = 3600.0, 60.0


@dataclass
class Running:
    engine: Engine
    scope: trio.CancelScope

    async def ping(self, action: str = "", message: str = "") -> str:
        heartbeat = self.engine.heartbeats.identify("backup", TOKEN)
        ping = signal_of(action)
        record = await self.engine.heartbeats.ping(
            heartbeat, Ping(signal=ping.signal, exit_code=ping.exit_code, message=message))
        return record.state

    async def incidents(self, service: str = "backups") -> list[Incident]:
        return await self.engine.incidents(service=service, limit=10)

    async def states(self) -> dict[str, tuple[str, datetime | None]]:
        return {heartbeat.id: (record.state, record.deadline)
                for heartbeat, record in await self.engine.heartbeats.listed()}


async def start(tmp_path: Path, nursery: trio.Nursery, epoch: datetime) -> Running:
    store = await Store.open(tmp_path / "router.db", synchronous="NORMAL")
    engine = Engine(load_config([tmp_path / "router.yaml"]), store, TrioClock(epoch))
    scheduler = Scheduler(engine, idle=timedelta(days=1))  # no other process writes timers
    engine.timers_written = scheduler.poke
    await engine.schedule_heartbeats()  # as the daemon does before the scheduler starts
    return Running(engine, await start_stoppable(nursery, scheduler.run))


async def stop(running: Running) -> None:
    running.scope.cancel()
    await running.engine.store.close()


@pytest.fixture
def clock() -> MockClock:
    return trio.testing.MockClock(autojump_threshold=0.05)


@pytest.fixture
async def running(tmp_path: Path, nursery: trio.Nursery,
                  clock: MockClock) -> AsyncIterator[Running]:
    (tmp_path / "router.yaml").write_text(textwrap.dedent(CONFIG))
    running = await start(tmp_path, nursery, START)
    yield running
    await stop(running)


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


async def test_a_missed_deadline_opens_an_incident_and_the_next_ping_resolves_it(
        running: Running, clock: MockClock) -> None:
    assert (await running.states())["backup"] == ("new", at(HOUR + 10 * MINUTE))
    await trio.sleep(HOUR + 10 * MINUTE - 1)
    assert await running.incidents() == []
    await trio.sleep(2)
    [incident] = await running.incidents()
    assert (incident.service, incident.source, incident.state, incident.summary) == (
        "backups", "heartbeat", IncidentState.TRIGGERED, "Heartbeat backup missed its deadline")
    assert incident.dedup_key == "heartbeat:backup"
    assert (await running.states())["backup"] == ("missed", None)
    pending = await running.engine.store.read(lambda reader: reader.pending_notifications())
    assert [(item.channel, item.event) for item in pending
            if item.incident_number == incident.number] == [("pd", "trigger")]
    # Hours more without a ping: the miss is reported once, not once per period.
    await trio.sleep(5 * HOUR)
    assert len(await running.incidents()) == 1
    assert await running.ping() == "up"
    [incident] = await running.incidents()
    assert incident.state is IncidentState.RESOLVED
    state, deadline = (await running.states())["backup"]
    assert state == "up" and deadline is not None
    assert deadline - running.engine.now() == timedelta(hours=1, minutes=10)


async def test_each_ping_moves_the_deadline(running: Running, clock: MockClock) -> None:
    for _ in range(5):
        await trio.sleep(HOUR)
        assert await running.ping() == "up"
    assert await running.incidents() == []
    record = await running.engine.store.read(lambda reader: reader.heartbeats.get("backup"))
    assert record is not None and record.pings == 5
    assert record.deadline == at(5 * HOUR + HOUR + 10 * MINUTE)
    # The ping's answer names the deadline it set, not the one it replaced.
    await trio.sleep(MINUTE)
    heartbeat = running.engine.heartbeats.identify("backup", TOKEN)
    answered = await running.engine.heartbeats.ping(heartbeat, Ping(signal=Signal.SUCCESS))
    assert answered.deadline == at(5 * HOUR + MINUTE + HOUR + 10 * MINUTE)


async def test_a_failure_pages_at_once_and_a_success_resolves_it(
        running: Running, clock: MockClock) -> None:
    await trio.sleep(MINUTE)
    assert await running.ping("start") == "new"
    assert await running.ping("3", "rsync: connection refused") == "failed"
    [incident] = await running.incidents()
    assert incident.summary == "Heartbeat backup reported a failure (exit code 3)"
    detail = await running.engine.incident(incident.id)
    assert detail is not None
    assert detail.alerts[-1]["annotations"] == {"exit_code": "3",
                                                "message": "rsync: connection refused"}
    # A failed heartbeat has no deadline: it stays one incident until a success.
    await trio.sleep(3 * HOUR)
    assert len(await running.incidents()) == 1
    assert await running.ping("0") == "up"
    [incident] = await running.incidents()
    assert incident.state is IncidentState.RESOLVED
    record = await running.engine.store.read(lambda reader: reader.heartbeats.get("backup"))
    assert record is not None
    assert (record.last_signal, record.last_exit_code, record.started_at) == (
        "success", 0, at(MINUTE))


async def test_a_wrong_token_or_id_is_not_found_alike(running: Running) -> None:
    for heartbeat_id, token in (("backup", TOKEN[:-1] + "x"), ("backup", ""),
                                ("nope", TOKEN), ("watchdog", TOKEN), ("watchdog", "")):
        with pytest.raises(NotFound) as raised:
            running.engine.heartbeats.identify(heartbeat_id, token)
        assert str(raised.value.message) == "no such heartbeat, or not its token"


async def test_an_alert_that_matches_feeds_the_heartbeat_and_pages_when_it_stops(
        running: Running, clock: MockClock) -> None:
    watchdog = Alert(summary="Watchdog", source="alertmanager_v2", severity=Severity.INFO,
                     labels={"alertname": "Watchdog", "prometheus": "eu"})
    for _ in range(10):  # Prometheus re-sends it every minute
        [accepted] = await running.engine.ingest([watchdog])
        assert (accepted.incident_id, accepted.action) == (None, "heartbeat")
        await trio.sleep(MINUTE)
    assert await running.incidents("monitoring") == []  # the Watchdog itself opens nothing
    await trio.sleep(6 * MINUTE)  # 5m + 1m grace after the last one
    [incident] = await running.incidents("monitoring")
    assert (incident.service, incident.summary) == (
        "monitoring", "Heartbeat watchdog missed its deadline")
    await running.engine.ingest([watchdog])
    [incident] = await running.incidents("monitoring")
    assert incident.state is IncidentState.RESOLVED
    # A resolved Watchdog (the rule removed) is the heartbeat's too, and pings nothing.
    [accepted] = await running.engine.ingest([Alert(
        summary="Watchdog", source="alertmanager_v2", status=Status.RESOLVED,
        labels={"alertname": "Watchdog"})])
    assert accepted.action == "heartbeat"


async def test_a_restart_across_the_deadline_reports_the_miss_once(
        running: Running, clock: MockClock, tmp_path: Path, nursery: trio.Nursery) -> None:
    await trio.sleep(10 * MINUTE)
    assert await running.ping() == "up"  # due at 1h20m
    await stop(running)  # down from 10m to 3h: longer than period and grace
    await trio.sleep(3 * HOUR - 10 * MINUTE)
    again = await start(tmp_path, nursery, at(3 * HOUR))
    running.scope, running.engine = again.scope, again.engine  # the fixture stops this one
    await trio.sleep(1)  # overdue: fires at once
    [incident] = await again.incidents()
    assert incident.summary == "Heartbeat backup missed its deadline"
    detail = await again.engine.incident(incident.id)
    assert detail is not None
    assert detail.alerts[-1]["annotations"]["deadline"] == at(HOUR + 20 * MINUTE).isoformat(
        timespec="seconds")
    # Restarted again: still one miss, no timer left to report it again.
    await stop(again)
    third = await start(tmp_path, nursery, at(3 * HOUR + 2))
    running.scope, running.engine = third.scope, third.engine
    await trio.sleep(2 * HOUR)
    assert len(await third.incidents()) == 1
    assert (await third.states())["backup"] == ("missed", None)


async def test_a_ping_after_the_deadline_before_the_timer_fired_records_the_miss(
        running: Running, clock: MockClock, tmp_path: Path, nursery: trio.Nursery) -> None:
    await stop(running)  # no scheduler: nothing fires the overdue timer
    store = await Store.open(tmp_path / "router.db", synchronous="NORMAL")
    engine = Engine(load_config([tmp_path / "router.yaml"]), store, TrioClock(at(2 * HOUR)))
    running.engine = engine
    heartbeat = engine.heartbeats.identify("backup", TOKEN)
    record = await engine.heartbeats.ping(heartbeat, Ping(signal=Signal.SUCCESS))
    assert record.state == "up"
    [incident] = await engine.incidents()
    assert incident.state is IncidentState.RESOLVED  # opened and resolved in one commit
    detail = await engine.incident(incident.id)
    assert detail is not None
    assert [entry.action for entry in detail.timeline][:1] == ["opened"]
    pending = await store.read(lambda reader: reader.pending_notifications())
    assert pending == []  # its page cancelled before it went out
    # and the timer the scheduler would have fired is gone: no second report
    assert await engine.timer_fired(0, "heartbeat:backup", at(HOUR + 10 * MINUTE)) == "stale"


async def test_the_config_decides_which_heartbeats_are_watched(
        running: Running, clock: MockClock, tmp_path: Path) -> None:
    await trio.sleep(30 * MINUTE)
    (tmp_path / "router.yaml").write_text(textwrap.dedent(CONFIG).replace(
        "period: 1h\n", "period: 2h\n").replace("  - id: watchdog", "  - id: watchdog2"))
    running.engine.use_config(load_config([tmp_path / "router.yaml"]))
    deadlines = await running.engine.schedule_heartbeats()
    assert deadlines == {"backup": at(2 * HOUR + 10 * MINUTE),  # from when it was watched
                         "watchdog2": at(30 * MINUTE + 6 * MINUTE)}
    timers = await running.engine.store.write(lambda transaction: transaction.timers_of(0))
    assert sorted(timers) == ["heartbeat:backup", "heartbeat:watchdog2"]
    assert sorted(await running.states()) == ["backup", "watchdog2"]


async def test_an_alert_past_its_ends_at_pings_nothing(running: Running,
                                                       clock: MockClock) -> None:
    ended = Alert(summary="Watchdog", source="alertmanager_v2",
                  labels={"alertname": "Watchdog"}, ends_at=at(-1))
    [accepted] = await running.engine.ingest([ended])
    assert accepted.action == "heartbeat"
    record = await running.engine.store.read(lambda reader: reader.heartbeats.get("watchdog"))
    assert record is not None and (record.state, record.pings) == ("new", 0)


async def test_a_catch_all_route_naming_a_service_leaves_the_heartbeat_s_own(
        tmp_path: Path, nursery: trio.Nursery, clock: MockClock) -> None:
    """The heartbeat declares where its incident opens; the catch-all's channel still adds."""
    config = CONFIG.replace("channels:\n", "channels:\n  - {id: log, type: log}\n", 1)
    (tmp_path / "router.yaml").write_text(
        textwrap.dedent(config) + "routes:\n  - {service: monitoring, channels: [log]}\n")
    running = await start(tmp_path, nursery, START)
    await trio.sleep(HOUR + 10 * MINUTE + 1)
    [incident] = await running.incidents()
    assert (incident.service, incident.summary) == (
        "backups", "Heartbeat backup missed its deadline")
    assert [item.dedup_key for item in await running.incidents("monitoring")] == [
        "heartbeat:watchdog"]  # missed as well, on its own service
    pending = await running.engine.store.read(lambda reader: reader.pending_notifications())
    assert sorted(item.channel for item in pending
                  if item.incident_number == incident.number) == ["log", "pd"]
    await stop(running)
