"""The nodes of a cluster in the store (issue 18 D5): a beat inserts or rewrites a node's
row, the list is by id, a node that leaves is forgotten, a unit that fails takes its beat
back, and the views are the interface's Protocols."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from router.alerts.model import Incident, IncidentState, Notification, Severity
from router.store import DATABASE_NAME, Reader, Store, Transaction, interface
from router.store.values import Attempt, NodeRecord

NOW = datetime(2026, 12, 5, 18, 0, 0, 250000, tzinfo=UTC)
NODE = NodeRecord(id="router-b", host="host-b.example.net", pid=4242, started_at=NOW,
                  config_revision="0123456789ab", last_beat=NOW, claimed_notifications=0)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / DATABASE_NAME)
    yield opened
    await opened.close()


def listed(reader: Reader) -> list[NodeRecord]:
    return reader.nodes.listed()


async def test_a_beat_inserts_the_node_and_the_next_rewrites_it(store: Store) -> None:
    assert await store.read(listed) == []
    other = dataclasses.replace(NODE, id="router-a", host="host-a", pid=7)
    await store.write(lambda transaction: transaction.nodes.beat(NODE))
    await store.write(lambda transaction: transaction.nodes.beat(other))
    assert await store.read(listed) == [other, NODE]  # by id, times exact to the microsecond

    later = dataclasses.replace(NODE, config_revision="ba9876543210",
                                last_beat=NOW + timedelta(seconds=5))
    await store.write(lambda transaction: transaction.nodes.beat(later))
    restarted = dataclasses.replace(later, pid=4300, started_at=NOW + timedelta(minutes=1),
                                    last_beat=NOW + timedelta(minutes=1))
    await store.write(lambda transaction: transaction.nodes.beat(restarted))
    assert await store.read(listed) == [other, restarted]
    assert [node.claimed_notifications for node in await store.read(listed)] == [0, 0]


async def test_a_node_that_leaves_is_forgotten(store: Store) -> None:
    await store.write(lambda transaction: transaction.nodes.beat(NODE))

    def leave(transaction: Transaction) -> tuple[bool, bool]:
        return transaction.nodes.remove(NODE.id), transaction.nodes.remove("router-z")

    assert await store.write(leave) == (True, False)
    assert await store.read(listed) == []


async def test_a_unit_that_fails_takes_its_beat_back(store: Store) -> None:
    def beat_then_fail(transaction: Transaction) -> None:
        transaction.nodes.beat(NODE)
        raise LookupError("the unit's own failure")

    with pytest.raises(LookupError):
        await store.write(beat_then_fail)
    assert await store.read(listed) == []


async def test_the_views_are_the_interface_s_protocols(store: Store) -> None:
    def views(reader: Reader) -> object:
        return reader.nodes

    read = await store.read(views)
    written = await store.write(views)
    assert isinstance(read, interface.NodesReader)
    assert not isinstance(read, interface.NodesWriter)
    assert isinstance(written, interface.NodesWriter)



async def test_a_node_is_listed_with_the_notifications_it_claimed_and_has_not_recorded(
        store: Store) -> None:
    """What a node holds (issue 18 D5, D6): its claims on pending outbox rows; recording the
    attempt ends the claim."""
    def work(transaction: Transaction) -> None:
        transaction.nodes.beat(NODE)
        transaction.save_incident(Incident(
            number=1, dedup_key="key", service="api", summary="disk full",
            severity=Severity.CRITICAL, state=IncidentState.TRIGGERED, opened_at=NOW,
            updated_at=NOW), set())
        transaction.add_notifications(
            Notification(id=f"n{index}", incident_number=1, channel="pd",
                         target=f"person:p{index}", address="", event="trigger",
                         created_at=NOW) for index in range(3))

    await store.write(work)
    claimed = await store.write(lambda transaction: transaction.outbox.claim(
        "pd", NOW, 2, NODE.id, timedelta(seconds=60)))
    assert [node.claimed_notifications for node in await store.read(listed)] == [2]
    first = claimed[0].notification
    await store.write(lambda transaction: transaction.outbox.record(Attempt(
        notification_id=first.id, incident_number=1, channel="pd", target=first.target,
        event="trigger", attempt=1, attempted_at=NOW, outcome="delivered")))
    assert [node.claimed_notifications for node in await store.read(listed)] == [1]
