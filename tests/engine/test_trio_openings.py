"""New incidents decided on the trio thread (engine/openings.py, issue 15): a new alert whose
key the store's memory holds no open incident for is routed, checked against the silences
and walked to its first page on the trio thread, and its unit only numbers and writes it;
the store ends up with exactly the rows the ordinary way writes, a plan the store no longer
holds when its unit runs is ingested the ordinary way, and nothing is answered before its
commit. Real SQLite files, a fixed clock.

SQLite only: the PostgreSQL store keeps no memory between transactions (`peek` answers None:
other nodes commit), so every alert there takes the ordinary way and there is no fast path to
compare with it; the ordinary way runs on both backends in tests/engine/test_engine.py and
tests/e2e."""

from __future__ import annotations

import logging
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
settings: {timezone: Europe/Berlin, resolve_timeout: {native: 10m}}
people:
  - id: alice
    contact_methods: [{type: email, address: alice@example.com, urgency: high}]
  - id: bob
    contact_methods: [{type: email, address: bob@example.com}]
channels:
  - {id: log, type: log}
  - {id: loud, type: log}
  - {id: mail, type: email, host: localhost, from: router@example.com}
rotas:
  - id: primary
    layers: [{members: [bob, alice], every: 1w, handoff: "09:00", handoff_day: mon,
              start: 2026-11-02}]
  - id: empty
    layers: [{members: [alice], every: 1w, handoff: "09:00", handoff_day: mon,
              start: 2030-01-07}]
escalation_policies:
  - id: api
    levels:
      - {targets: [{rota: primary}], delay: 10m}
      - {targets: [{person: alice}], delay: 10m}
  - id: skipping
    levels:
      - {targets: [{rota: empty}], delay: 10m}
      - {targets: [{person: bob}, {channel: loud}], delay: 10m}
services:
  - {id: api, channels: [log], escalation_policy: api}
  - {id: db, channels: [log], escalation_policy: skipping}
routes:
  - {match: [team=db], service: db, channels: [loud]}
  - {match: [severity=critical], service: api, channels: [loud], continue: true}
  - {service: api}
"""
# Monday 2026-11-23 08:50 in Berlin: bob's week ends at 09:00, then alice's begins.
START = datetime(2026, 11, 23, 7, 50, tzinfo=UTC)
TABLES = {
    "incidents": "SELECT * FROM incidents ORDER BY number",
    "alerts": "SELECT * FROM alerts ORDER BY id",
    "timeline": "SELECT incident_number, at, actor, action, details, more FROM timeline "
                "ORDER BY id",
    "timers": "SELECT * FROM timers ORDER BY incident_number, kind",
    # ids differ where a stale plan took ids it never wrote: compare the rest, in order
    "outbox": "SELECT incident_number, channel, target, address, event, created_at, note "
              "FROM outbox ORDER BY incident_number, id",
}


async def an_engine(directory: Path) -> Engine:
    return await plans_support.an_engine(directory, CONFIG, START)


def alert(host: str, severity: Severity = Severity.ERROR, team: str = "web",
          status: Status = Status.FIRING, ends_in: timedelta | None = None) -> Alert:
    return Alert(summary=f"{host} is down", source="native", severity=severity, status=status,
                 labels={"alertname": "Down", "host": host, "team": team},
                 ends_at=START + ends_in if ends_in else None)


def scenario() -> list[Step]:
    """A silence (made first: its id comes from the counter a stale plan takes ids from),
    openings on each route (channels, a rota, an empty level skipped, a deadline), two
    alerts of one key in one request (the second plan is stale), one the silence holds, a
    resolve, a rota's handoff, and an alert for a resolved incident's key."""
    return [
        lambda engine: engine.create_silence([("host", "=", "a5")], reason="work",
                                             ends_at=START + timedelta(hours=1)),
        lambda engine: engine.ingest([alert("a1")]),
        lambda engine: engine.ingest([alert("a2", Severity.CRITICAL)]),
        lambda engine: engine.ingest([alert("d1", team="db", ends_in=timedelta(hours=1))]),
        lambda engine: engine.ingest([alert("a3"), alert("a3"), alert("a4")]),
        lambda engine: engine.ingest([alert("a5")]),
        lambda engine: engine.ingest([alert("a2", status=Status.RESOLVED)]),
        later(15), lambda engine: engine.ingest([alert("a6", Severity.WARNING)]),
        lambda engine: engine.ingest([alert("a2", Severity.CRITICAL)]),
        lambda engine: engine.ingest([alert("a7", status=Status.RESOLVED)]),
    ]


async def test_openings_planned_on_the_trio_thread_write_what_the_ordinary_way_writes(
        tmp_path: Path) -> None:
    planned, ordinary = await an_engine(tmp_path / "planned"), await an_engine(
        tmp_path / "ordinary")
    ordinary.ingesting.repeats.plan = lambda *arguments: None  # type: ignore[method-assign]
    ordinary.ingesting.openings.plan = lambda *arguments: None  # type: ignore[method-assign]
    for step in scenario():
        await step(planned)
        await step(ordinary)
    written = await rows(planned, TABLES)
    assert written == await rows(ordinary, TABLES)
    assert len(written["incidents"]) == 8
    assert {row[2] for row in written["outbox"]} >= {"channel:log", "channel:loud"}
    openings = planned.ingesting.openings
    # the first alert loads the store's memory; the silenced one and the second alert of
    # one key in one request (stale: the first opened it) take the ordinary way
    assert (openings.planned, openings.stale) == (7, 1)
    await planned.store.close()
    await ordinary.store.close()


async def test_a_planned_opening_is_answered_after_its_commit(tmp_path: Path) -> None:
    engine = await an_engine(tmp_path / "state")
    await engine.ingest([alert("a1")])
    commits = engine.store.commits
    accepted = await engine.ingest([alert("a2")])
    assert engine.ingesting.openings.planned == 1
    assert engine.store.commits == commits + 1
    assert [(item.incident_id, item.action) for item in accepted] == [("INC2", "opened")]
    detail = await engine.incident("INC2")
    assert detail is not None and detail.incident.assigned_to == "bob"
    await engine.store.close()


@pytest.mark.parametrize("why", ["override", "inhibit_rules", "silenced"])
async def test_what_is_no_plain_opening_takes_the_ordinary_way(tmp_path: Path,
                                                              why: str) -> None:
    engine = await an_engine(tmp_path / "state")
    await engine.ingest([alert("a1")])
    if why == "override":  # the plan saw the overrides before this one was added
        real = engine.ingesting._plan

        def planned_then_overridden(*arguments: object) -> object:
            found = real(*arguments)  # type: ignore[arg-type]
            engine.state.snapshot.on_call.forget()
            engine.state.snapshot.on_call._overrides = {}  # as a reload of changed ones
            return found
        engine.ingesting._plan = planned_then_overridden  # type: ignore[assignment,method-assign]
    if why == "inhibit_rules":
        (tmp_path / "state" / "config.yaml").write_text(textwrap.dedent(CONFIG) + (
            "inhibit_rules: [{name: down, source_matchers: ['alertname=\"Up\"'], "
            "target_matchers: ['alertname=\"Down\"']}]\n"))
        engine.use_config(load_config([tmp_path / "state" / "config.yaml"]))
    if why == "silenced":
        await engine.create_silence([("host", "=", "a2")], reason="work",
                                    ends_at=START + timedelta(hours=1))
        await engine.ingest([alert("a1")])  # the silences are in memory now
    accepted = await engine.ingest([alert("a2")])
    openings = engine.ingesting.openings
    assert (openings.planned, openings.stale) == ((1, 1) if why == "override" else (0, 0))
    assert accepted[0].action == "opened"
    detail = await engine.incident("INC2")
    assert detail is not None
    assert detail.incident.level == (0 if why == "silenced" else 1)
    await engine.store.close()


async def test_an_alert_is_routed_and_keyed_once(tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    """The plans and the ordinary way share one routing (engine/repeats.py `resolve`): a
    service's dedup-key template that fails warns once per alert, not once per look."""
    engine = await an_engine(tmp_path / "state")
    (tmp_path / "state" / "config.yaml").write_text(textwrap.dedent(CONFIG).replace(
        "escalation_policy: api}", "escalation_policy: api, "
        "dedup_key: '{{ labels.missing.deeper }}'}"))
    engine.use_config(load_config([tmp_path / "state" / "config.yaml"]))
    with caplog.at_level(logging.WARNING, logger="router.engine.snapshot"):
        await engine.ingest([alert("a1")])  # the ordinary way: nothing in memory yet
        await engine.ingest([alert("a1", status=Status.RESOLVED)])  # the ordinary way
    assert [record.getMessage() for record in caplog.records] == [
        "dedup key template failed; using the label hash"] * 2
    await engine.store.close()


def test_the_opening_s_copies_equal_dataclasses_replace() -> None:
    """`_with_incident` and `_numbered` copy every field as `dataclasses.replace` does, each
    set to a value of its own (a field added later that they missed would fail here)."""
    import dataclasses

    from router.alerts.model import Notification
    from router.core.incidents import Change
    from router.engine.openings import _numbered, _with_incident

    change = Change(**{field.name: object() for field in dataclasses.fields(Change)})
    incident = object()
    assert _with_incident(change, incident) == dataclasses.replace(  # type: ignore[arg-type]
        change, incident=incident)
    notification = Notification(**{field.name: f"value of {field.name}"
                                   for field in dataclasses.fields(Notification)})
    numbered = _numbered(notification, 7)
    assert numbered == dataclasses.replace(notification, incident_number=7)
    assert numbered.incident_number == 7 and notification.incident_number != 7
