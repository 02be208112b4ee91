"""What the outbox hands the deliverer: due notifications, in the order they were decided."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

from router.alerts.model import Incident, IncidentState, Notification, Severity
from router.store import Store, Transaction, outbox

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


async def test_an_acknowledge_decided_at_the_same_instant_waits_for_its_trigger(
        tmp_path: Path) -> None:
    """A trigger and its acknowledge can carry the same time (one commit, or a clock that did
    not move between them); the one written first goes first, whatever the ids sort as."""
    store = await Store.open(tmp_path / "state.db")
    trigger = Notification(id="ffff", incident_number=1, channel="pd", target="channel:pd",
                           address="", event="trigger", created_at=NOW)
    acknowledge = dataclasses.replace(trigger, id="0000", event="acknowledge")
    other = dataclasses.replace(trigger, id="8888", incident_number=2)

    def work(transaction: Transaction) -> None:
        for number in (1, 2):
            transaction.save_incident(Incident(
                number=number, dedup_key=f"key{number}", service="api", summary="disk full",
                severity=Severity.CRITICAL, state=IncidentState.TRIGGERED, opened_at=NOW,
                updated_at=NOW), set())
        transaction.add_notifications([trigger, acknowledge, other])

    await store.write(work)
    later = NOW + timedelta(seconds=1)
    found = await store.read(lambda reader: outbox.due(reader.connection, "pd", later, 10))
    assert [item.notification.id for item in found] == ["8888", "ffff"]
    # while the trigger is being sent it is left out, and its acknowledge still waits
    sending = await store.read(lambda reader: outbox.due(
        reader.connection, "pd", later, 10, busy={"ffff"}))
    assert [item.notification.id for item in sending] == ["8888"]
    await store.close()
