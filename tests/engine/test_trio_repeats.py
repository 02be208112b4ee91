"""Repeats decided on the trio thread (engine/repeats.py, issue 15): an alert joining an
open incident the store holds in memory is decided from `Store.peek` and its unit only
writes; the store ends up with exactly the rows the ordinary way writes, a plan the store no
longer holds when its unit runs is ingested the ordinary way, and nothing is answered before
its commit. Real SQLite files, a fixed clock.

SQLite only: the PostgreSQL store keeps no memory between transactions (`peek` answers None:
other nodes commit), so every alert there takes the ordinary way and there is no fast path to
compare with it; the ordinary way runs on both backends in tests/engine/test_engine.py and
tests/e2e."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from router.alerts.model import Alert, Severity, Status
from router.config import load_config
from router.engine import Engine
from tests.engine import plans_support
from tests.engine.plans_support import Step, later, rows

CONFIG = """
people: [{id: ann}]
channels: [{id: log, type: log}]
escalation_policies:
  - id: api
    levels: [{targets: [{person: ann}], delay: 10m}]
services: [{id: api, channels: [log], escalation_policy: api, retrigger_after: 2h}]
routes: [{service: api}]
"""
START = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
TABLES = {
    "incidents": "SELECT * FROM incidents ORDER BY number",
    "alerts": "SELECT * FROM alerts ORDER BY id",
    "timeline": "SELECT incident_number, at, actor, action, details, more FROM timeline "
                "ORDER BY id",
    "timers": "SELECT * FROM timers ORDER BY incident_number, kind",
    "outbox": "SELECT id, incident_number, channel, event, created_at FROM outbox ORDER BY id",
}


async def an_engine(directory: Path) -> Engine:
    return await plans_support.an_engine(directory, CONFIG, START)


def alert(host: str = "db1", summary: str = "Disk full",
          severity: Severity = Severity.CRITICAL, ends_in: timedelta | None = None,
          status: Status = Status.FIRING) -> Alert:
    return Alert(summary=summary, source="native", severity=severity, status=status,
                 labels={"alertname": "DiskFull", "host": host}, dedup_key="disk",
                 ends_at=START + ends_in if ends_in else None)


def scenario() -> list[Step]:
    """Opening, repeats (new words, a second alert, a new severity, a deadline), two repeats
    in one request, an acknowledge, repeats while silenced, a retrigger, a resolve."""
    return [
        lambda engine: engine.ingest([alert()]),
        later(1), lambda engine: engine.ingest([alert()]),
        later(1), lambda engine: engine.ingest([alert(summary="Disk 99% full")]),
        lambda engine: engine.ingest([alert(host="db2", severity=Severity.WARNING)]),
        lambda engine: engine.ingest([alert(ends_in=timedelta(hours=1))]),
        later(1), lambda engine: engine.ingest([alert(), alert(), alert(host="db2")]),
        lambda engine: engine.acknowledge("INC1", "ann"),
        later(1), lambda engine: engine.ingest([alert()]),
        lambda engine: engine.create_silence([("host", "=", "db1")], reason="work",
                                             ends_at=START + timedelta(hours=1)),
        lambda engine: engine.ingest([alert()]),
        lambda engine: engine.ingest([alert()]),  # the silences are in memory now
        later(180), lambda engine: engine.ingest([alert(host="db2")]),  # retriggers
        later(1), lambda engine: engine.ingest([alert(host="db2")]),
        lambda engine: engine.ingest([alert(status=Status.RESOLVED)]),
        lambda engine: engine.ingest([alert(host="db2", status=Status.RESOLVED)]),
        lambda engine: engine.ingest([alert(host="db2")]),
    ]


async def test_repeats_planned_on_the_trio_thread_write_what_the_ordinary_way_writes(
        tmp_path: Path) -> None:
    planned, ordinary = await an_engine(tmp_path / "planned"), await an_engine(
        tmp_path / "ordinary")
    ordinary.ingesting.repeats.plan = lambda *arguments: None  # type: ignore[method-assign]
    for step in scenario():
        await step(planned)
        await step(ordinary)
    written = await rows(planned, TABLES)
    assert written == await rows(ordinary, TABLES)
    assert [row[10] for row in written["incidents"]] == [13, 1]  # alert_count
    repeats = planned.ingesting.repeats
    # the two repeats in one request: the second finds the incident changed by the first
    assert (repeats.planned, repeats.stale) == (10, 2)
    await planned.store.close()
    await ordinary.store.close()


async def test_a_planned_repeat_is_answered_after_its_commit(tmp_path: Path) -> None:
    engine = await an_engine(tmp_path / "state")
    await engine.ingest([alert()])
    commits = engine.store.commits
    accepted = await engine.ingest([alert()])
    assert engine.ingesting.repeats.planned == 1
    assert engine.store.commits == commits + 1
    assert [(item.incident_id, item.action) for item in accepted] == [("INC1", "updated")]
    detail = await engine.incident("INC1")
    assert detail is not None and detail.incident.alert_count == 2
    await engine.store.close()


@pytest.mark.parametrize("why", ["never notified", "inhibit_rules", "resolved"])
async def test_what_is_no_plain_repeat_takes_the_ordinary_way(tmp_path: Path, why: str) -> None:
    engine = await an_engine(tmp_path / "state")
    if why == "never notified":  # held by a silence before its first page: level 0
        await engine.create_silence([("host", "=", "db1")], reason="work",
                                    ends_at=START + timedelta(hours=1))
    if why == "inhibit_rules":
        (tmp_path / "state" / "config.yaml").write_text(textwrap.dedent(CONFIG) + (
            "inhibit_rules: [{name: down, source_matchers: ['alertname=\"Down\"'], "
            "target_matchers: ['alertname=\"DiskFull\"']}]\n"))
        engine.use_config(load_config([tmp_path / "state" / "config.yaml"]))
    await engine.ingest([alert()])
    second = alert(status=Status.RESOLVED) if why == "resolved" else alert()
    accepted = await engine.ingest([second])
    assert engine.ingesting.repeats.planned == 0
    assert accepted[0].action == ("resolved" if why == "resolved" else "updated")
    await engine.store.close()


async def test_an_alert_a_heartbeat_takes_is_never_a_planned_repeat(tmp_path: Path) -> None:
    """An incident opened before a heartbeat's `match` took its alerts: the next repeat
    pings the heartbeat (engine/heartbeats.py) and joins nothing, though the store's memory
    holds the open incident a plan would find."""
    engine = await an_engine(tmp_path / "state")
    await engine.ingest([alert()])
    (tmp_path / "state" / "config.yaml").write_text(textwrap.dedent(CONFIG) + (
        "heartbeats: [{id: disk, service: api, period: 5m, grace: 1m, "
        "match: {alertname: DiskFull}}]\n"))
    engine.use_config(load_config([tmp_path / "state" / "config.yaml"]))
    accepted = await engine.ingest([alert()])
    assert [(item.incident_id, item.action) for item in accepted] == [(None, "heartbeat")]
    detail = await engine.incident("INC1")
    assert detail is not None and detail.incident.alert_count == 1
    assert [(heartbeat.id, record.last_ping_at) for heartbeat, record
            in await engine.heartbeats.listed()] == [("disk", START)]
    await engine.store.close()
