"""A timer is claimed by the unit that acts on it (issue 18 item 4): `take_timer` deletes its
row in the same transaction as the escalation, expiry, heartbeat miss, job timeout or
handoff notice it causes (engine/escalation.py, expiry.py, heartbeats.py, jobs.py,
handoffs.py through escalation.py), so two routers on one store that both find a timer due
act on it once: the second finds it gone ("stale"). Two engines, each with its own Store
object on one SQLite file (two processes' worth), race for the same due timers.
"""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trio

from router.alerts.model import Alert, Severity
from router.clock import TrioClock
from router.config import load_config
from router.engine import Engine
from router.store import Store

START = datetime(2026, 11, 23, 7, 50, tzinfo=UTC)
CONFIG = """
people:
  - id: alice
    contact_methods: [{type: email, address: alice@example.com, urgency: high}]
  - id: carol
    contact_methods: [{type: email, address: carol@example.com, urgency: high}]
channels:
  - {id: log, type: log}
  - {id: mail, type: email, host: localhost, from: router@example.com}
escalation_policies:
  - id: walk
    levels:
      - {targets: [{person: alice}], delay: 5m}
      - {targets: [{person: carol}], delay: 15m}
      - {targets: [{channel: log}], delay: 30m}
services:
  - {id: api, escalation_policy: walk}
routes:
  - service: api
"""


@pytest.mark.parametrize("first", [0, 1])
async def test_two_engines_racing_for_each_due_timer_escalate_once(
        tmp_path: Path, first: int) -> None:
    (tmp_path / "router.yaml").write_text(textwrap.dedent(CONFIG))
    config = load_config([tmp_path / "router.yaml"])
    stores = [await Store.open(tmp_path / "router.db", synchronous="NORMAL")
              for _ in range(2)]
    engines = [Engine(config, store, TrioClock(START)) for store in stores]
    engines = engines[first:] + engines[:first]  # which one starts its unit first
    await engines[0].ingest([Alert(summary="disk full", source="test",
                                   severity=Severity.CRITICAL, labels={"alertname": "d"})])
    outcomes: list[list[str]] = []
    for _ in range(2):  # level 1 -> 2, then 2 -> 3
        timers, _ = await engines[1].timers_due_by(START + timedelta(days=1), 10)
        [(number, kind, due_at)] = timers
        fired: list[str] = []

        async def fire(engine: Engine, number: int = number, kind: str = kind,
                       due_at: datetime = due_at, fired: list[str] = fired) -> None:
            fired.append(await engine.timer_fired(number, kind, due_at))

        async with trio.open_nursery() as nursery:
            for engine in engines:
                nursery.start_soon(fire, engine)
        outcomes.append(sorted(fired))
    detail = await engines[1].incident("INC1")
    for store in stores:
        await store.close()
    assert outcomes == [["escalated", "stale"]] * 2
    assert detail is not None and detail.incident.level == 3
    assert [entry.details.get("to") for entry in detail.timeline
            if entry.action == "escalated"] == ["2", "3"]
