"""Escalation on the one timer task: the engine, the scheduler and a real store (SQLite, and
PostgreSQL: `where`, one run each) under trio's MockClock, so a two-hour policy walk runs in
milliseconds. Also the races of issue 6:
an acknowledge as the timer fires, two acknowledges at once, an acknowledge after resolve, a
reload that removes the policy of an open incident, and a restart halfway through a policy.
"""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trio
import trio.testing

from router.alerts.model import Alert, IncidentState, Severity
from router.clock import TrioClock
from router.config import load_config
from router.engine import Engine
from router.engine.overrides import add_override
from router.engine.scheduler import Scheduler
from router.errors import Conflict
from router.store import Store, interface, postgres
from tests.tasks import start_stoppable

# Monday 2026-11-23 08:50 in Berlin (07:50 UTC): bob's week ends at 09:00, then alice's begins.
START = datetime(2026, 11, 23, 7, 50, tzinfo=UTC)

CONFIG = """
settings: {timezone: Europe/Berlin}
people:
  - id: alice
    contact_methods: [{type: email, address: alice@example.com, urgency: high}]
  - id: bob
    contact_methods: [{type: email, address: bob@example.com, urgency: high}]
  - id: carol
    contact_methods: [{type: email, address: carol@example.com, urgency: high}]
channels:
  - {id: log, type: log}
  - {id: mail, type: email, host: localhost, from: router@example.com}
rotas:
  - id: primary
    layers: [{members: [bob, alice], every: 1w, handoff: "09:00", handoff_day: mon,
              start: 2026-11-02}]
escalation_policies:
  - id: walk
    repeat: 2
    levels:
      - {targets: [{rota: primary}], delay: 5m}
      - {targets: [{person: carol}], delay: 15m}
      - {targets: [{channel: log}], delay: 30m}
  - id: handoff
    levels:
      - {targets: [{rota: primary}], delay: 15m}
      - {targets: [{rota: primary}], delay: 15m}
services:
  - id: api
    escalation_policy: walk
  - id: web
    escalation_policy: handoff
  - id: patient
    escalation_policy: walk
    acknowledge_timeout: 30m
  - id: noisy
    escalation_policy: walk
    retrigger_after: 1h
routes:
  - {match: [service=web], service: web}
  - {match: [service=patient], service: patient}
  - {match: [service=noisy], service: noisy}
  - service: api
"""
HANDOFF_NOTICES = textwrap.dedent(CONFIG).replace(", urgency: high", "").replace(
    "  - id: primary\n", "  - id: primary\n    name: Primary\n    handoff_notices: true\n")
"""CONFIG with handoff notices on for the primary rota (named Primary); notices go to
low-urgency methods, so everyone's email becomes one."""


class Daemon:
    """The engine and the scheduler as the daemon runs them; stoppable and restartable on
    the same state directory."""

    def __init__(self, tmp_path: Path, nursery: trio.Nursery, where: str | None = None) -> None:
        self.config_path = tmp_path / "router.yaml"
        self.config_path.write_text(textwrap.dedent(CONFIG))
        # a SQLite file (by default in tmp_path: other test modules' daemons), or a
        # PostgreSQL database's URL
        self.where = where or str(tmp_path / "router.db")
        self.store: interface.Store
        self.nursery = nursery
        self.epoch_time = trio.current_time()
        self.lateness: list[float] = []
        """Seconds each timer fired after its deadline."""

    async def start(self) -> None:
        self.store = (await postgres.Store.open(self.where)
                      if self.where.startswith("postgresql:")
                      else await Store.open(Path(self.where), synchronous="NORMAL"))
        clock = TrioClock(START)
        clock.start = self.epoch_time  # one time line across restarts
        self.engine = Engine(load_config([self.config_path]), self.store, clock)
        # Nothing outside this process writes the store: no need to look every 5 s, which
        # would cost a clock jump each (and real time) over hours of virtual time.
        self.scheduler = Scheduler(self.engine, idle=timedelta(hours=1))
        self.scheduler.on_fired = lambda kind, late: self.lateness.append(late)
        self.engine.timers_written = self.scheduler.poke
        self.scope = await start_stoppable(self.nursery, self.scheduler.run)

    async def stop(self) -> None:
        self.scope.cancel()
        await self.store.close()

    def minutes(self) -> float:
        return (trio.current_time() - self.epoch_time) / 60

    async def open(self, service: str = "api") -> str:
        [accepted] = await self.engine.ingest([Alert(
            summary="checkout fails", source="test", severity=Severity.CRITICAL,
            labels={"alertname": "Checkout", "service": service})])
        assert accepted.incident_id is not None
        return accepted.incident_id

    async def escalations(self, incident_id: str) -> list[tuple[float, str, str, str]]:
        """(minutes after START, action, to level, people) of each escalation line."""
        detail = await self.engine.incident(incident_id)
        assert detail is not None
        return [(round((entry.at - START).total_seconds() / 60, 3), entry.action,
                 entry.details.get("to", ""), entry.details.get("people", ""))
                for entry in detail.timeline
                if entry.action in ("escalated", "escalation exhausted", "escalation stopped",
                                    "acknowledged", "acknowledgement timed out",
                                    "triggered again", "resolved")]

    async def pending_timers(self) -> list[tuple[int, str, datetime]]:
        return await self.store.read(lambda reader: reader.due_timers(
            START + timedelta(days=365), 100))


@pytest.fixture
def clock(where: str) -> trio.testing.MockClock:
    """Virtual time that jumps only after 50 ms of real idleness (0.5 s on PostgreSQL, whose
    round trips to the server take longer on a busy machine): the store works in threads,
    and a clock that jumped while a commit runs would move deadlines under it."""
    idle = 0.5 if where.startswith("postgresql:") else 0.05
    return trio.testing.MockClock(autojump_threshold=idle)


@pytest.fixture(params=["sqlite", "postgresql"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The store's database: a SQLite file, or a fresh PostgreSQL database's URL."""
    if request.param == "postgresql":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return str(tmp_path / "router.db")


@pytest.fixture
async def daemon(tmp_path: Path, nursery: trio.Nursery, where: str) -> AsyncIterator[Daemon]:
    """Each test also takes `clock`: pytest-trio runs a test under the clock fixture the
    test itself asks for."""
    running = Daemon(tmp_path, nursery, where)
    await running.start()
    yield running
    await running.stop()


async def test_a_full_policy_walk_with_two_repeats_runs_in_virtual_time(
        daemon: Daemon, clock: trio.testing.MockClock) -> None:
    incident_id = await daemon.open()
    await trio.sleep(4 * 3600)
    walk = [(5.0, "escalated", "2", "carol"), (20.0, "escalated", "3", ""),
            (50.0, "escalated", "1", "alice"), (55.0, "escalated", "2", "carol"),
            (70.0, "escalated", "3", ""), (100.0, "escalated", "1", "alice"),
            (105.0, "escalated", "2", "carol"), (120.0, "escalated", "3", ""),
            (150.0, "escalation exhausted", "", "")]
    assert await daemon.escalations(incident_id) == walk
    detail = await daemon.engine.incident(incident_id)
    assert detail is not None
    assert (detail.incident.level, detail.incident.repeats) == (3, 2)
    assert await daemon.pending_timers() == []
    assert len(daemon.lateness) == 9
    assert max(daemon.lateness) < 0.01


async def test_acknowledge_stops_escalation_and_resolve_ends_it(
        daemon: Daemon, clock: trio.testing.MockClock) -> None:
    incident_id = await daemon.open()
    await trio.sleep(7 * 60)
    await daemon.engine.acknowledge(incident_id, "api:carol")
    await trio.sleep(3600)
    assert await daemon.escalations(incident_id) == [
        (5.0, "escalated", "2", "carol"), (7.0, "acknowledged", "", "")]
    assert await daemon.pending_timers() == []
    await daemon.engine.resolve(incident_id, "api:carol")
    with pytest.raises(Conflict, match="resolved"):
        await daemon.engine.escalate(incident_id, "api:carol")


async def test_a_manual_escalate_moves_on_at_once_and_wraps_while_repeats_remain(
        daemon: Daemon, clock: trio.testing.MockClock) -> None:
    incident_id = await daemon.open()
    for _ in range(2):
        await daemon.engine.escalate(incident_id, "api:ann")
    incident, previous = await daemon.engine.escalate(incident_id, "api:ann")
    assert (previous, incident.level, incident.repeats) == (3, 1, 1)
    assert [line[1:3] for line in await daemon.escalations(incident_id)] == [
        ("escalated", "2"), ("escalated", "3"), ("escalated", "1")]
    # the deadline is the new level's own, from now
    assert await daemon.pending_timers() == [(1, "escalate", START + timedelta(minutes=5))]


async def test_a_restart_halfway_resumes_at_the_right_level_and_deadline(
        daemon: Daemon, clock: trio.testing.MockClock) -> None:
    incident_id = await daemon.open()
    await trio.sleep(6 * 60)  # level 2 (carol) paged at 5 min; level 3 due at 20 min
    await daemon.stop()
    await trio.sleep(10 * 60)  # down from minute 6 to 16
    await daemon.start()
    assert await daemon.pending_timers() == [(1, "escalate", START + timedelta(minutes=20))]
    await trio.sleep(20 * 60)
    assert await daemon.escalations(incident_id) == [
        (5.0, "escalated", "2", "carol"), (20.0, "escalated", "3", "")]


async def test_after_a_long_outage_overdue_timers_fire_at_once(
        daemon: Daemon, clock: trio.testing.MockClock) -> None:
    incident_id = await daemon.open()
    await daemon.stop()
    await trio.sleep(12 * 60)  # the 5-minute deadline passes while router is down
    await daemon.start()
    await trio.sleep(1)
    [(at, action, level, people)] = await daemon.escalations(incident_id)
    assert (action, level, people) == ("escalated", "2", "carol")
    assert at == pytest.approx(12, abs=0.01)
    assert daemon.lateness[0] == pytest.approx(7 * 60, abs=1)


async def test_a_rota_handoff_between_two_levels_pages_the_new_person(
        daemon: Daemon, clock: trio.testing.MockClock) -> None:
    incident_id = await daemon.open("web")  # 08:50 Berlin: bob is on call
    detail = await daemon.engine.incident(incident_id)
    assert detail is not None and detail.incident.assigned_to == "bob"
    await trio.sleep(16 * 60)  # level 2 at 09:05 Berlin, after the 09:00 handoff
    assert await daemon.escalations(incident_id) == [(15.0, "escalated", "2", "alice")]
    notified = [entry.details["target"] for entry in (await daemon.engine.incident(
        incident_id)).timeline if entry.action == "notified"]  # type: ignore[union-attr]
    assert notified == ["person:bob", "person:alice"]


async def test_an_acknowledge_as_the_timer_fires_has_one_outcome(
        daemon: Daemon, clock: trio.testing.MockClock) -> None:
    incident_id = await daemon.open()
    await trio.sleep(5 * 60 - 0.000001)  # the scheduler is about to fire level 2
    await daemon.engine.acknowledge(incident_id, "api:bob")
    await trio.sleep(3600)
    lines = await daemon.escalations(incident_id)
    # whichever committed first, the incident is acknowledged and nothing escalates after
    assert lines[-1][1] == "acknowledged"
    assert [line[1] for line in lines].count("escalated") <= 1
    assert await daemon.pending_timers() == []
    detail = await daemon.engine.incident(incident_id)
    assert detail is not None and detail.incident.state is IncidentState.ACKNOWLEDGED


async def test_two_acknowledges_at_once_record_one_and_one_after_resolve_changes_nothing(
        daemon: Daemon, clock: trio.testing.MockClock) -> None:
    incident_id = await daemon.open()
    async with trio.open_nursery() as both:
        both.start_soon(daemon.engine.acknowledge, incident_id, "api:ann")
        both.start_soon(daemon.engine.acknowledge, incident_id, "slack:bob")
    await daemon.engine.resolve(incident_id, "api:ann")
    after = await daemon.engine.acknowledge(incident_id, "api:late")
    assert after.state is IncidentState.RESOLVED
    lines = [line[1] for line in await daemon.escalations(incident_id)]
    assert lines == ["acknowledged", "resolved"]


async def test_a_reload_that_removes_the_policy_stops_escalation_and_says_so(
        daemon: Daemon, clock: trio.testing.MockClock) -> None:
    incident_id = await daemon.open()
    daemon.config_path.write_text(textwrap.dedent(CONFIG).replace(
        "escalation_policy: walk", "channels: [log]").replace("  - id: walk", "  - id: gone"))
    daemon.engine.use_config(load_config([daemon.config_path]))
    await trio.sleep(3600)
    assert await daemon.escalations(incident_id) == [(5.0, "escalation stopped", "", "")]
    assert await daemon.pending_timers() == []


async def test_an_acknowledgement_that_times_out_triggers_again_from_level_one(
        daemon: Daemon, clock: trio.testing.MockClock) -> None:
    incident_id = await daemon.open("patient")
    await trio.sleep(60)
    await daemon.engine.acknowledge(incident_id, "api:bob")
    await trio.sleep(31 * 60)
    lines = await daemon.escalations(incident_id)
    assert lines[:3] == [(1.0, "acknowledged", "", ""),
                         (31.0, "acknowledgement timed out", "", ""),
                         (31.0, "escalated", "1", "alice")]
    detail = await daemon.engine.incident(incident_id)
    assert detail is not None and detail.incident.state is IncidentState.TRIGGERED


async def test_an_alert_firing_again_after_retrigger_after_triggers_again(
        daemon: Daemon, clock: trio.testing.MockClock) -> None:
    incident_id = await daemon.open("noisy")
    await daemon.engine.acknowledge(incident_id, "api:bob")
    await trio.sleep(20 * 60)
    assert await daemon.open("noisy") == incident_id  # too soon: joins, stays acknowledged
    detail = await daemon.engine.incident(incident_id)
    assert detail is not None and detail.incident.state is IncidentState.ACKNOWLEDGED
    await trio.sleep(45 * 60)  # acknowledged 65 minutes ago now
    await daemon.open("noisy")
    lines = await daemon.escalations(incident_id)
    assert lines == [(0.0, "acknowledged", "", ""), (65.0, "triggered again", "", ""),
                     (65.0, "escalated", "1", "alice")]
    detail = await daemon.engine.incident(incident_id)
    assert detail is not None and detail.incident.state is IncidentState.TRIGGERED


async def test_handoff_notices_tell_the_outgoing_and_incoming_person_once(
        tmp_path: Path, nursery: trio.Nursery, clock: trio.testing.MockClock,
        where: str) -> None:
    daemon = Daemon(tmp_path, nursery, where)
    daemon.config_path.write_text(HANDOFF_NOTICES)
    await daemon.start()
    timers = await daemon.engine.schedule_handoffs()
    assert timers == {"primary": datetime(2026, 11, 23, 8, 0, tzinfo=UTC)}  # 09:00 Berlin
    await trio.sleep(15 * 60)
    pending = await daemon.store.read(lambda reader: reader.pending_notifications())
    told = sorted((item.target, item.event, item.note) for item in pending)
    assert told == [
        ("person:alice", "handoff", "You are on call for Primary from Mon 23 Nov 09:00 "
                                    "(Europe/Berlin), taking over from bob."),
        ("person:bob", "handoff", "Your on-call shift for Primary ended at Mon 23 Nov 09:00 "
                                  "(Europe/Berlin); alice is on call now.")]
    # the next handoff, a week later, is already set
    assert await daemon.pending_timers() == [
        (0, "handoff:primary", datetime(2026, 11, 30, 8, 0, tzinfo=UTC))]
    await daemon.stop()


async def test_a_run_time_override_moves_the_handoff_and_names_who_takes_over(
        tmp_path: Path, nursery: trio.Nursery, clock: trio.testing.MockClock,
        where: str) -> None:
    daemon = Daemon(tmp_path, nursery, where)
    daemon.config_path.write_text(HANDOFF_NOTICES)
    await daemon.start()
    await daemon.engine.schedule_handoffs()
    # carol covers 08:55-10:00 Berlin: the handoff moves to 08:55, from bob to carol
    await add_override(daemon.engine, "primary", person="carol",
                       start=datetime(2026, 11, 23, 7, 55, tzinfo=UTC),
                       end=datetime(2026, 11, 23, 9, 0, tzinfo=UTC), reason="swap")
    assert await daemon.pending_timers() == [
        (0, "handoff:primary", datetime(2026, 11, 23, 7, 55, tzinfo=UTC))]
    await trio.sleep(6 * 60)
    pending = await daemon.store.read(lambda reader: reader.pending_notifications())
    assert sorted((item.target, item.note.split(";")[0]) for item in pending) == [
        ("person:bob", "Your on-call shift for Primary ended at Mon 23 Nov 08:55 "
                       "(Europe/Berlin)"),
        ("person:carol", "You are on call for Primary from Mon 23 Nov 08:55 (Europe/Berlin), "
                         "taking over from bob.")]
    # at 09:00 the layer hands bob's week to alice under carol's cover: nobody is told
    assert await daemon.pending_timers() == [
        (0, "handoff:primary", datetime(2026, 11, 23, 8, 0, tzinfo=UTC))]
    await trio.sleep(10 * 60)
    assert len(await daemon.store.read(lambda reader: reader.pending_notifications())) == 2
    # carol's cover ends at 10:00 Berlin, when alice takes over
    assert await daemon.pending_timers() == [
        (0, "handoff:primary", datetime(2026, 11, 23, 9, 0, tzinfo=UTC))]
    await daemon.stop()
