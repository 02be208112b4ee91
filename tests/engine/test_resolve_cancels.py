"""A resolve cancels the pages not yet sent (issue 13 item 6: retries of a trigger went on
to Slack and SMS after the incident was resolved) and tells only the channels its trigger
reached. The engine on a real SQLite store; attempts are recorded as the deliverer records
them (store.outbox.record), so no receiver is needed.
"""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from router.alerts.model import Alert, Notification, Severity
from router.clock import FixedClock
from router.config import load_config
from router.engine import Engine
from router.store import Store, Transaction, outbox
from router.store.outbox import Attempt

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
REASON = "INC1 was resolved before this was sent"
CONFIG = """
settings: {timezone: UTC}
people:
  - id: ann
    contact_methods: [{type: email, address: ann@example.com, urgency: high}]
  - id: ben
    contact_methods: [{type: email, address: ben@example.com, urgency: high}]
channels:
  - {id: pd, type: pagerduty, routing_key: RRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRR}
  - {id: slack, type: slack, webhook_url: "http://127.0.0.1:1/slack"}
  - {id: mail, type: email, host: localhost, from: router@example.com}
escalation_policies:
  - id: two
    levels:
      - {targets: [{person: ann}], delay: 5m}
      - {targets: [{person: ben}], delay: 5m}
services:
  - {id: api, escalation_policy: two, channels: [pd, slack]}
routes:
  - service: api
"""


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    (tmp_path / "router.yaml").write_text(textwrap.dedent(CONFIG))
    store = await Store.open(tmp_path / "router.db", synchronous="NORMAL")
    yield Engine(load_config([tmp_path / "router.yaml"]), store, FixedClock(NOW))
    await store.close()


async def pending(engine: Engine) -> list[Notification]:
    return await engine.store.read(lambda reader: reader.pending_notifications())


async def record(engine: Engine, channel: str, outcome: outbox.Outcome,
                 status: int | None) -> None:
    """Record an attempt of the incident's trigger to `channel`, as the deliverer would."""
    [trigger] = [item for item in await pending(engine) if item.channel == channel]
    attempt = Attempt(notification_id=trigger.id, incident_number=1, channel=channel,
                      target=trigger.target, event="trigger", attempt=1, attempted_at=NOW,
                      outcome=outcome, status_code=status)

    def work(transaction: Transaction) -> None:
        transaction.outbox.record(attempt, NOW + timedelta(seconds=5))
    await engine.store.write(work)


async def open_incident(engine: Engine) -> str:
    [accepted] = await engine.ingest([Alert(summary="disk full", source="test",
                                            severity=Severity.CRITICAL,
                                            labels={"alertname": "DiskFull"})])
    assert accepted.incident_id == "INC1"
    return accepted.incident_id


async def test_a_resolve_cancels_pending_triggers_and_escalations_with_the_reason(
        engine: Engine) -> None:
    incident_id = await open_incident(engine)
    await engine.escalate(incident_id, "api:ann")  # ben's page waits too
    assert sorted((item.event, item.target) for item in await pending(engine)) == [
        ("escalate", "person:ben"), ("trigger", "channel:pd"), ("trigger", "channel:slack"),
        ("trigger", "person:ann")]
    await engine.resolve(incident_id, "api:ann")
    assert await pending(engine) == []  # and no resolve: nobody was told
    log = await engine.deliveries(incident_id=incident_id)
    assert sorted((item.event, item.target, item.outcome, item.error) for item in log) == [
        ("escalate", "person:ben", "skipped", REASON),
        ("trigger", "channel:pd", "skipped", REASON),
        ("trigger", "channel:slack", "skipped", REASON),
        ("trigger", "person:ann", "skipped", REASON)]
    detail = await engine.incident(incident_id)
    assert detail is not None
    [cancelled] = [entry for entry in detail.timeline if entry.action == "pages cancelled"]
    assert cancelled.details == {"count": "4",
                                 "why": "the incident was resolved before they were sent"}


async def test_a_resolve_goes_where_the_trigger_arrived_and_to_pagerduty_if_it_may_have(
        engine: Engine) -> None:
    incident_id = await open_incident(engine)
    await record(engine, "slack", "delivered", 200)
    await record(engine, "pd", "retry", None)  # no answer: it may have arrived
    await engine.resolve(incident_id, "api:ann")
    assert sorted((item.channel, item.event) for item in await pending(engine)) == [
        ("pd", "resolve"), ("slack", "resolve")]


async def test_no_resolve_goes_to_a_channel_whose_trigger_never_arrived(
        engine: Engine) -> None:
    incident_id = await open_incident(engine)
    await record(engine, "slack", "retry", 500)  # Slack refused it: not told
    await engine.resolve(incident_id, "api:ann")
    assert await pending(engine) == []


async def test_a_trigger_delivered_after_the_resolve_cancelled_it_gets_its_resolve(
        engine: Engine) -> None:
    """The trigger was in flight when the resolve came: it arrived, so the channel must hear
    of the resolve (and only once)."""
    incident_id = await open_incident(engine)
    [trigger] = [item for item in await pending(engine) if item.channel == "slack"]
    await engine.resolve(incident_id, "api:ann")
    attempt = Attempt(notification_id=trigger.id, incident_number=1, channel="slack",
                      target="channel:slack", event="trigger", attempt=1, attempted_at=NOW,
                      outcome="delivered", status_code=200)
    for _ in range(2):
        await engine.store.write(lambda transaction: transaction.outbox.record(attempt))
    assert [(item.id, item.channel, item.event) for item in await pending(engine)] == [
        (f"{trigger.id}-resolve", "slack", "resolve")]
