"""`Store.peek` and `Transaction.unchanged` (store/memory.py): the trio thread sees an open
incident and the silences in force from the store's memory, never loading anything, and a
unit finds out whether what was seen is still so after each thing that may change it: a
unit that saved the incident, a silence added or ended, another connection's commit, a
statement by hand. Real SQLite files.

SQLite only: the store's memory is SQLite's (on PostgreSQL `peek` answers None).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from router.alerts.model import Incident, IncidentState, Severity, Silence, SilenceMatcher
from router.config.model import Job
from router.store import Store, Transaction
from router.store.values import JobAlert, Peek

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def an_incident(number: int) -> Incident:
    return Incident(number=number, dedup_key="key", service="api", summary="disk full",
                    severity=Severity.CRITICAL, state=IncidentState.TRIGGERED,
                    opened_at=NOW, updated_at=NOW, labels={"host": "db1"}, level=1)


def a_silence(identifier: str) -> Silence:
    return Silence(id=identifier,
                   matchers=(SilenceMatcher(name="host", operator="=", value="db1"),),
                   starts_at=NOW, ends_at=NOW + timedelta(hours=1), reason="work")


async def opened(tmp_path: Path) -> Store:
    """A store holding one open incident and its silences in memory."""
    store = await Store.open(tmp_path / "router.db")

    def work(transaction: Transaction) -> None:
        transaction.save_incident(an_incident(transaction.next_incident_number()), {"a"})
        transaction.add_silence(a_silence("s1"))
    await store.write(work)
    await store.write(lambda transaction: (transaction.open_incident("key"),
                                           transaction.active_silences(NOW)))
    return store


async def unchanged(store: Store, peek: Peek) -> bool:
    return await store.write(lambda transaction: transaction.unchanged(peek.seen))


async def test_a_peek_sees_memory_only_and_stays_true_while_nothing_changes(
        tmp_path: Path) -> None:
    fresh = await Store.open(tmp_path / "fresh.db")
    assert fresh.peek("key", NOW) is None  # nothing loaded yet: the trio thread loads nothing
    await fresh.close()
    store = await opened(tmp_path)
    peek = store.peek("key", NOW)
    assert peek is not None
    assert (peek.incident.number, peek.firing, [item.id for item in peek.silences]) == (
        1, frozenset({"a"}), ["s1"])
    assert store.peek("other", NOW) is None
    assert [item.id for item in store.peek("key", NOW + timedelta(hours=2)).silences] == []  # type: ignore[union-attr]
    assert await unchanged(store, peek)
    await store.close()


async def test_each_change_makes_what_was_seen_stale(tmp_path: Path) -> None:
    store = await opened(tmp_path)

    def save(transaction: Transaction) -> None:
        found = transaction.open_incident("key")
        assert found is not None
        transaction.save_incident(replace(found[0], alert_count=2), found[1])
    changes = {
        "the incident saved": save,
        "a silence added": lambda transaction: transaction.add_silence(a_silence("s2")),
        "a silence ended": lambda transaction: transaction.expire_silence("s1", NOW),
        "a statement by hand": lambda transaction: transaction.connection.execute(
            "UPDATE incidents SET summary = 'x'"),
    }
    for why, change in changes.items():
        await store.write(lambda transaction: (transaction.open_incident("key"),
                                               transaction.active_silences(NOW)))
        peek = store.peek("key", NOW)
        assert peek is not None, why
        await store.write(change)
        assert not await unchanged(store, peek), why
    await store.close()


async def test_another_connections_commit_makes_what_was_seen_stale(tmp_path: Path) -> None:
    store = await opened(tmp_path)
    peek = store.peek("key", NOW)
    assert peek is not None
    other = await Store.open(tmp_path / "router.db")
    await other.write(lambda transaction: transaction.add_silence(a_silence("s3")))
    await other.close()
    assert not await unchanged(store, peek)
    await store.close()


async def test_a_job_alert_target_written_keeps_the_open_incidents_in_memory(
        tmp_path: Path) -> None:
    """`job_alerts` holds the word "alerts" but not the alerts table: adding or removing a
    job's alert target must not drop the store's memory of open incidents."""
    store = await opened(tmp_path)

    def work(transaction: Transaction) -> None:
        transaction.jobs.add_job(Job(id="backup"), NOW)
        transaction.jobs.add_alert(JobAlert(id="t1", job="backup", alert_type="webhook",
                                            target="http://127.0.0.1:9/hook", created_at=NOW))
        transaction.jobs.remove_alert("t1")
    await store.write(work)
    assert store.peek("key", NOW) is not None
    await store.close()
