"""The engine's use cases against a real store, on SQLite and on PostgreSQL (`store`, one run
each), and the example-shaped config."""

from __future__ import annotations

import itertools
import textwrap
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from router.alerts.model import Alert, IncidentState, Severity, Silence, SilenceMatcher, Status
from router.clock import FixedClock
from router.config import load_config
from router.engine import Engine
from router.errors import BadRequest, NotFound
from router.store import Store, interface, postgres

CONFIG = """
settings: {timezone: Europe/Berlin}
people:
  - id: alice
    contact_methods:
      - {type: email, address: alice@example.com}
      - {type: phone, address: "+491", channel: sms, urgency: high}
    quiet_hours: {from: "22:00", until: "07:00"}
  - id: bob
    contact_methods: [{type: email, address: bob@example.com}]
channels:
  - {id: log, type: log}
  - {id: mail, type: email, host: localhost, from: router@example.com}
  - {id: sms, type: webhook, url: "http://127.0.0.1:1/sms"}
  - {id: pager, type: pagerduty, routing_key: R0000000000000000000000000000000}
rotas:
  - id: primary
    layers: [{members: [alice, bob], every: 1w, handoff: "09:00", handoff_day: mon,
              start: 2026-11-02}]
escalation_policies:
  - id: default
    levels:
      - {targets: [{rota: primary}], delay: 15m}
      - {targets: [{person: bob}], delay: 15m}
services:
  - id: api
    escalation_policy: default
    channels: [log]
    routing_keys: [R1234567890123456789012345678901]
    dedup_key: "{{ labels.alertname }}"
routes:
  - match: [env=staging]
    service: api
    severity: info
  - match: [severity=critical]
    service: api
    channels: [pager]
  - service: api
suppressions:
  - id: maintenance
    reason: weekly maintenance
    match: [team=db]
    weekly: [{days: [mon], from: "10:00", until: "11:00"}]
"""

# Monday 2026-11-23, 12:00 in Berlin: the fourth weekly turn since 2026-11-02 (alice, bob,
# alice, bob) began at 09:00, so bob is on call.
MONDAY_NOON = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The store's database: a SQLite file, or a fresh PostgreSQL database's URL."""
    if request.param == "postgresql":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return str(tmp_path / "state.db")


@pytest.fixture
async def store(where: str) -> AsyncIterator[interface.Store]:
    opened = (await postgres.Store.open(where) if where.startswith("postgresql:")
              else await Store.open(Path(where)))
    yield opened
    await opened.close()


@pytest.fixture
async def engine(tmp_path: Path, store: interface.Store) -> Engine:
    (tmp_path / "config.yaml").write_text(textwrap.dedent(CONFIG))
    config = load_config([tmp_path / "config.yaml"])
    counter = itertools.count(1)
    return Engine(config, store, FixedClock(MONDAY_NOON), new_id=lambda: f"n{next(counter)}")


def alert(status: Status = Status.FIRING, **labels: str) -> Alert:
    severity = Severity(labels.pop("severity", "critical"))
    return Alert(summary="Disk full", source="native", severity=severity, status=status,
                 labels={"alertname": "DiskFull", **labels})


async def outbox(engine: Engine) -> list[tuple[str, str, str, str]]:
    pending = await engine.store.read(lambda reader: reader.pending_notifications())
    return sorted((item.channel, item.target, item.address, item.event) for item in pending)


async def test_a_firing_alert_opens_an_incident_and_pages_level_one(engine: Engine) -> None:
    [accepted] = await engine.ingest([alert(host="db1")])
    assert (accepted.incident_id, accepted.action, accepted.dedup_key) == (
        "INC1", "opened", "DiskFull")
    detail = await engine.incident("INC1")
    assert detail is not None
    assert detail.incident.state is IncidentState.TRIGGERED
    assert detail.incident.level == 1
    on_call = detail.incident.assigned_to
    assert on_call == "bob"
    expected_people = {"alice": [("mail", "person:alice", "alice@example.com", "trigger"),
                                 ("sms", "person:alice", "+491", "trigger")],
                       "bob": [("mail", "person:bob", "bob@example.com", "trigger")]}
    assert await outbox(engine) == sorted([
        ("log", "channel:log", "", "trigger"), ("pager", "channel:pager", "", "trigger"),
        *expected_people[on_call]])
    timer = await engine.store.read(lambda reader: reader.earliest_timer())
    assert timer == (1, "escalate", MONDAY_NOON + timedelta(minutes=15))


async def test_repeats_join_the_open_incident_and_resolve_closes_it(engine: Engine) -> None:
    await engine.ingest([alert(host="db1")])
    again = await engine.ingest([alert(host="db1"), alert(host="db2")])
    assert [item.action for item in again] == ["updated", "updated"]
    assert {item.incident_id for item in again} == {"INC1"}
    first = await engine.ingest([alert(Status.RESOLVED, host="db1")])
    assert first[0].action == "updated"  # db2 still fires
    last = await engine.ingest([alert(Status.RESOLVED, host="db2")])
    assert last[0].action == "resolved"
    detail = await engine.incident("INC1")
    assert detail is not None and detail.incident.state is IncidentState.RESOLVED
    assert detail.incident.alert_count == 3
    assert [entry.action for entry in detail.timeline if entry.actor.startswith("source")] == [
        "opened", "alert joined", "alert resolved", "resolved"]
    assert await engine.store.read(lambda reader: reader.earliest_timer()) is None
    # nothing was sent yet: the pages are cancelled and no resolve follows (issue 13 item 6)
    assert await outbox(engine) == []
    repeat = await engine.ingest([alert(Status.RESOLVED, host="db2")])
    assert repeat[0].action == "ignored"
    reopened = await engine.ingest([alert(host="db1")])
    assert reopened[0].incident_id == "INC2"


async def test_routing_key_picks_the_service_and_route_severity_applies(engine: Engine) -> None:
    [accepted] = await engine.ingest([Alert(
        summary="from a PagerDuty client", source="pagerduty", dedup_key="abc",
        routing_key="R1234567890123456789012345678901", labels={"env": "staging"})])
    detail = await engine.incident(accepted.incident_id or "")
    assert detail is not None
    assert detail.incident.service == "api"
    assert detail.incident.severity is Severity.INFO
    assert detail.incident.dedup_key == "abc"


async def test_a_suppressed_alert_is_recorded_not_notified_until_the_window_ends(
        engine: Engine) -> None:
    clock = FixedClock(datetime(2026, 11, 23, 9, 30, tzinfo=UTC))  # 10:30 local
    engine.state.clock = clock
    [accepted] = await engine.ingest([alert(team="db")])
    assert accepted.suppressed_by == "suppression:maintenance"
    assert await outbox(engine) == []
    clock.advance(timedelta(hours=1))  # 11:30 local: the window has ended, the alert re-sent
    [again] = await engine.ingest([alert(team="db")])
    assert (again.incident_id, again.suppressed_by) == ("INC1", None)
    assert ("pager", "channel:pager", "", "trigger") in await outbox(engine)
    detail = await engine.incident("INC1")
    assert detail is not None
    actions = [entry.action for entry in detail.timeline]
    assert actions[:3] == ["opened", "suppressed", "suppression ended"]


async def test_silences_are_stored_listed_and_expired(engine: Engine) -> None:
    silence = Silence(id="s1", matchers=(SilenceMatcher(name="host", operator="=",
                                                        value="db1"),),
                      starts_at=MONDAY_NOON, ends_at=MONDAY_NOON + timedelta(hours=2),
                      reason="rebuild", created_by="alice")
    await engine.add_silence(silence)
    assert await engine.silences() == [silence]
    [accepted] = await engine.ingest([alert(host="db1")])
    assert accepted.suppressed_by == "silence:s1"
    assert await engine.expire_silence("s1") is True
    assert await engine.silences() == []
    assert await engine.expire_silence("s1") is False


async def test_acknowledge_and_resolve_cancel_escalation_and_follow_up(engine: Engine) -> None:
    await engine.ingest([alert()])
    acknowledged = await engine.acknowledge("INC1", "person:alice")
    assert acknowledged.state is IncidentState.ACKNOWLEDGED
    assert acknowledged.acknowledged_by == "person:alice"
    assert await engine.store.read(lambda reader: reader.earliest_timer()) is None
    assert ("pager", "channel:pager", "", "acknowledge") in await outbox(engine)
    again = await engine.acknowledge("INC1", "person:bob")
    assert again.acknowledged_by == "person:alice"
    resolved = await engine.resolve("inc1", "person:bob")
    assert resolved.state is IncidentState.RESOLVED
    with pytest.raises(NotFound):
        await engine.resolve("INC99", "me")
    with pytest.raises(BadRequest):
        await engine.resolve("incident-one", "me")


async def test_an_incident_without_a_policy_notifies_its_channels_once(
        tmp_path: Path, store: interface.Store) -> None:
    (tmp_path / "config.yaml").write_text(textwrap.dedent("""
        channels: [{id: log, type: log}]
        services: [{id: batch, channels: [log]}]
        routes: [{service: batch}]
        """))
    engine = Engine(load_config([tmp_path / "config.yaml"]), store, FixedClock(MONDAY_NOON))
    for _ in range(4):  # Prometheus re-sends a firing alert every cycle
        [accepted] = await engine.ingest([alert(host="db1")])
    assert accepted.action == "updated"
    assert [(channel, event) for channel, _, _, event in await outbox(engine)] == [
        ("log", "trigger")]
