"""Escalation that does not wait on nobody (issue 16 item 5): an empty level is skipped at
once (or waited on with `skip_empty: false`), the fallback is paged when every level is
empty, and a level repeats `repeat` times `retry_interval` apart before its delay runs. The
engine, scheduler and a real store under MockClock (tests/engine/test_escalation.py's
Daemon) with their own config.
"""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import trio
import trio.testing

from router.alerts.model import Alert, Severity
from tests.engine.test_escalation import START, Daemon

# START is Monday 08:50 in Berlin: the weekend rota has nobody on call.
CONFIG = """
settings: {timezone: Europe/Berlin}
people:
  - {id: ann, contact_methods: [{type: email, address: ann@example.com, urgency: high}]}
  - {id: cat, contact_methods: [{type: email, address: cat@example.com, urgency: high}]}
channels:
  - {id: mail, type: email, host: localhost, from: router@example.com}
rotas:
  - id: weekend
    layers:
      - members: [ann]
        every: 1w
        start: 2026-11-02
        restrictions: [{days: [sat, sun], from: "00:00", until: "24:00"}]
escalation_policies:
  - id: skip
    levels:
      - {targets: [{rota: weekend}], delay: 5m}
      - {targets: [{person: cat}], delay: 10m, repeat: 2, retry_interval: 2m}
      - {targets: [{person: ann}], delay: 10m}
  - id: wait
    skip_empty: false
    levels:
      - {targets: [{rota: weekend}], delay: 5m}
      - {targets: [{person: cat}], delay: 10m}
  - id: fallback
    fallback: {person: cat}
    levels:
      - {targets: [{rota: weekend}], delay: 5m}
services:
  - {id: skip, escalation_policy: skip}
  - {id: wait, escalation_policy: wait}
  - {id: fallback, escalation_policy: fallback}
routes:
  - {match: [service=skip], service: skip}
  - {match: [service=wait], service: wait}
  - {match: [service=fallback], service: fallback}
"""


@pytest.fixture
def clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0.05)


@pytest.fixture
async def daemon(tmp_path: Path, nursery: trio.Nursery) -> AsyncIterator[Daemon]:
    running = Daemon(tmp_path, nursery)
    running.config_path.write_text(textwrap.dedent(CONFIG))
    await running.start()
    yield running
    running.scope.cancel()


async def open_incident(daemon: Daemon, service: str) -> str:
    [accepted] = await daemon.engine.ingest([Alert(
        summary="queue stuck", source="test", severity=Severity.CRITICAL,
        labels={"alertname": "QueueStuck", "service": service})])
    assert accepted.incident_id is not None
    return accepted.incident_id


async def lines(daemon: Daemon, incident_id: str) -> list[tuple[float, str, str]]:
    """(minutes after START, action, the detail that tells it) of each paging line."""
    detail = await daemon.engine.incident(incident_id)
    assert detail is not None
    shown = {"level skipped": "why", "escalated": "to", "notified": "target",
             "notified again": "repeat", "fallback": "target", "nobody reached": "why"}
    return [(round((entry.at - START).total_seconds() / 60, 3), entry.action,
             entry.details.get(shown[entry.action], ""))
            for entry in detail.timeline if entry.action in shown]


async def test_an_empty_level_is_skipped_and_a_level_repeats_before_its_delay(
        daemon: Daemon, clock: trio.testing.MockClock) -> None:
    incident_id = await open_incident(daemon, "skip")
    await trio.sleep(20 * 60)
    assert await lines(daemon, incident_id) == [
        (0.0, "level skipped", "nobody is on call in rota weekend"),
        (0.0, "notified", "person:cat"),
        (2.0, "notified again", "1 of 2"), (2.0, "notified", "person:cat"),
        (4.0, "notified again", "2 of 2"), (4.0, "notified", "person:cat"),
        (14.0, "escalated", "3"), (14.0, "notified", "person:ann")]
    detail = await daemon.engine.incident(incident_id)
    assert detail is not None and (detail.incident.level, detail.incident.assigned_to) == (
        3, "ann")


async def test_skip_empty_false_waits_on_the_empty_level(
        daemon: Daemon, clock: trio.testing.MockClock) -> None:
    incident_id = await open_incident(daemon, "wait")
    await trio.sleep(6 * 60)
    assert await lines(daemon, incident_id) == [
        (5.0, "escalated", "2"), (5.0, "notified", "person:cat")]


async def test_when_every_level_is_empty_the_fallback_is_paged(
        daemon: Daemon, clock: trio.testing.MockClock) -> None:
    incident_id = await open_incident(daemon, "fallback")
    assert await lines(daemon, incident_id) == [
        (0.0, "level skipped", "nobody is on call in rota weekend"),
        (0.0, "fallback", "person:cat"), (0.0, "notified", "person:cat")]
    assert await daemon.pending_timers() == [(1, "escalate", START + timedelta(minutes=5))]


async def test_acknowledge_and_a_manual_escalate_end_a_level_s_repeats(
        daemon: Daemon, clock: trio.testing.MockClock) -> None:
    incident_id = await open_incident(daemon, "skip")
    assert await daemon.pending_timers() == [(1, "retry:1", START + timedelta(minutes=2))]
    await daemon.engine.escalate(incident_id, "api:ann")
    assert await daemon.pending_timers() == [(1, "escalate", START + timedelta(minutes=10))]
    await daemon.engine.acknowledge(incident_id, "api:ann")
    assert await daemon.pending_timers() == []
