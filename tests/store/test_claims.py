"""Claims on the outbox (router/store/claims.py, issue 18 item 4): a node sends only what it
claimed; another node's live claim keeps a notification from it until the lease runs out;
recording ends a claim; a node releases its own; a rate-limited channel's send instants are
shared by every node. Two Store objects on one SQLite file stand for two routers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from router.alerts.model import Incident, IncidentState, Notification, Severity
from router.store import Reader, Store, Transaction, claims, outbox
from router.store.migrations import MIGRATIONS
from router.store.outbox import Attempt, Due

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[tuple[Store, Store]]:
    """Two routers' stores on one database file, with incident 1 and three notifications
    of it to three people over `pd`, due at NOW."""
    first = await Store.open(tmp_path / "router.db", synchronous="NORMAL")
    second = await Store.open(tmp_path / "router.db", synchronous="NORMAL")

    def work(transaction: Transaction) -> None:
        transaction.save_incident(Incident(
            number=1, dedup_key="key", service="api", summary="disk full",
            severity=Severity.CRITICAL, state=IncidentState.TRIGGERED, opened_at=NOW,
            updated_at=NOW), set())
        transaction.add_notifications(
            Notification(id=f"n{index}", incident_number=1, channel="pd",
                         target=f"person:p{index}", address="", event="trigger",
                         created_at=NOW)
            for index in range(3))

    await first.write(work)
    yield first, second
    await first.close()
    await second.close()


async def claim(store: Store, node: str, now: datetime = NOW, limit: int = 10,
                rate: float | None = None) -> list[Due]:
    return await store.write(lambda transaction: transaction.outbox.claim(
        "pd", now, limit, node, LEASE, rate=rate))


def ids(items: list[Due]) -> list[str]:
    return [item.notification.id for item in items]


async def test_a_claimed_notification_is_not_claimed_by_another_node(
        stores: tuple[Store, Store]) -> None:
    first, second = stores
    assert ids(await claim(first, "a", limit=2)) == ["n0", "n1"]
    assert ids(await claim(second, "b")) == ["n2"]
    assert await claim(second, "c", NOW + LEASE - timedelta(seconds=1)) == []
    # the node that holds them may take them again (a queue it dropped, a restart)
    assert ids(await claim(first, "a")) == ["n0", "n1"]
    # a node's read leaves out what another holds; a read for no node sees everything
    seen = await second.read(lambda reader: (reader.outbox.due("pd", NOW, 10, node="c"),
                                             reader.outbox.due("pd", NOW, 10)))
    assert (ids(seen[0]), ids(seen[1])) == ([], ["n0", "n1", "n2"])


async def test_the_claim_s_update_checks_again_that_no_other_node_holds_the_row(
        stores: tuple[Store, Store]) -> None:
    """Two nodes that chose the same rows at once (PostgreSQL without SKIP LOCKED: both
    read before either committed) do not both claim one: the UPDATE checks the lease too."""
    first, second = stores
    await claim(first, "a", limit=1)
    held = await second.write(lambda transaction: claims.mark(
        transaction.connection, ["n0", "n1"], "b", NOW.timestamp(),
        (NOW + LEASE).timestamp()))
    assert held == {"n1"}


async def test_a_lease_that_ran_out_lets_another_node_claim(
        stores: tuple[Store, Store]) -> None:
    first, second = stores
    await claim(first, "a", limit=1)
    expiry = await second.read(lambda reader: reader.outbox.next_due_after(NOW, "b"))
    assert expiry == NOW + LEASE  # when the other node should look again
    assert await second.read(lambda reader: reader.outbox.next_due_after(NOW)) is None
    assert ids(await claim(second, "b", NOW + LEASE, limit=1)) == ["n0"]
    assert await first.read(
        lambda reader: reader.outbox.next_due_after(NOW + LEASE, "b")) is None


async def test_recording_an_attempt_ends_the_claim(stores: tuple[Store, Store]) -> None:
    first, second = stores
    await claim(first, "a", limit=1)
    attempt = Attempt(notification_id="n0", incident_number=1, channel="pd",
                      target="person:p0", event="trigger", attempt=1, attempted_at=NOW,
                      outcome="retry", error="500")
    later = NOW + timedelta(seconds=5)
    await first.write(lambda transaction: transaction.outbox.record(attempt, later))
    row = await first.read(lambda reader: tuple(reader.connection.execute(
        "SELECT claimed_by, lease_until FROM outbox WHERE id = 'n0'").fetchone()))
    assert row == (None, None)
    assert ids(await claim(second, "b", later)) == ["n1", "n2", "n0"]  # the retry: anyone's


async def test_a_node_releases_its_claims_but_those_it_keeps(
        stores: tuple[Store, Store]) -> None:
    first, second = stores
    await claim(first, "a")
    released = await first.write(
        lambda transaction: transaction.outbox.release("a", keep={"n1"}))
    assert released == 2
    assert ids(await claim(second, "b")) == ["n0", "n2"]
    assert await second.write(lambda transaction: transaction.outbox.release("b")) == 2
    assert await second.write(lambda transaction: transaction.outbox.release("nobody")) == 0


async def test_a_rate_limited_channel_s_instants_are_shared_by_every_node(
        stores: tuple[Store, Store]) -> None:
    first, second = stores
    one = await claim(first, "a", limit=2, rate=2.0)
    other = await claim(second, "b", limit=2, rate=2.0)
    instants = [item.send_at for item in one + other]
    assert instants == [NOW, NOW + timedelta(seconds=0.5), NOW + timedelta(seconds=1.0)]
    assert ids(other) == ["n2"]


async def test_no_instant_beyond_half_the_lease_is_taken(stores: tuple[Store, Store]) -> None:
    """A send instant far ahead would outlive the claim: fewer (or none) are claimed."""
    first, second = stores
    slow = 1 / 20  # one a twenty seconds: half the lease holds two instants
    assert len(await claim(first, "a", limit=1, rate=slow)) == 1
    assert len(await claim(second, "b", limit=5, rate=slow)) == 1  # at +20 s; +40 s is beyond
    assert await claim(second, "b", limit=5, rate=slow) == []
    assert (await claim(second, "b", NOW + timedelta(seconds=40), limit=5,
                        rate=slow))[0].send_at == NOW + timedelta(seconds=40)


async def test_the_claim_for_a_node_still_reads_only_its_own_channel(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "router.db")

    def plan(reader: Reader) -> str:
        return "\n".join(row[3] for row in reader.connection.execute(
            f"EXPLAIN QUERY PLAN {outbox._DUE_FOR_NODE}",
            ("pd", NOW.timestamp(), "a", NOW.timestamp(), 10)))

    found = await store.read(plan)
    await store.close()
    assert "SEARCH outbox USING INDEX outbox_due_by_channel (channel=? AND due_at<?)" in found
    assert "TEMP B-TREE" not in found, found


async def test_the_claims_migration_is_the_last_one_and_adds_the_columns(
        tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "router.db")

    def schema(reader: Reader) -> tuple[int, set[str], set[str]]:
        connection = reader.connection
        return (connection.execute("PRAGMA user_version").fetchone()[0],
                {row[1] for row in connection.execute("PRAGMA table_info(outbox)")},
                {row[1] for row in connection.execute("PRAGMA table_info(channel_pace)")})

    version, columns, pace = await store.read(schema)
    await store.close()
    assert version == len(MIGRATIONS)
    assert {"claimed_by", "lease_until"} <= columns
    assert pace == {"channel", "next_free"}
