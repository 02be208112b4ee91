"""Run-time overrides in the store: the round trip, removal kept as history, what a listing
shows, which overrides still apply and in what rank, and the signal of another process's
commit."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from router.config.model import Override
from router.errors import StoreError
from router.store import DATABASE_NAME, Reader, Transaction, sqlite
from router.store import overrides as stored
from router.store.interface import Store
from router.store.overrides import RUN_TIME_ORDER, RotaOverride
from tests.store.conftest import Backend

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def an_override(override_id: str, start: datetime, end: datetime, *, rota: str = "primary",
                person: str = "dave", replaces: str | None = None,
                created_at: datetime = NOW) -> RotaOverride:
    return RotaOverride(id=override_id, rota=rota, person=person, replaces=replaces,
                        start=start, end=end, reason="covering", created_by="alice",
                        created_at=created_at)


async def insert(store: Store, *overrides: RotaOverride) -> None:
    def work(transaction: Transaction) -> None:
        for override in overrides:
            transaction.overrides.insert(override)
    await store.write(work)


async def listed(store: Store, *, rota: str | None = None,
                 now: datetime | None = None) -> list[str]:
    found = await store.read(lambda reader: reader.overrides.listed(rota=rota, now=now))
    return [override.id for override in found]


async def test_an_override_survives_reopening_the_store_as_it_was_written(
        store: Store, backend: Backend) -> None:
    written = an_override("OVR-00000001", NOW + HOUR, NOW + 9 * HOUR, replaces="ann")
    await insert(store, written)
    await store.close()
    reopened = await backend.open()
    try:
        found = await reopened.read(lambda reader: reader.overrides.get("OVR-00000001"))
    finally:
        await reopened.close()
    assert found == written
    assert found.start.tzinfo is not None


async def test_a_duplicate_id_is_a_store_error_and_the_first_override_stays(
        store: Store) -> None:
    first = an_override("OVR-00000001", NOW + HOUR, NOW + 2 * HOUR)
    await insert(store, first)
    with pytest.raises(StoreError, match=r"UNIQUE constraint failed: overrides\.id|"
                       r"duplicate key value violates unique constraint \"overrides_pkey\""):
        await insert(store, an_override("OVR-00000001", NOW, NOW + HOUR, person="erin"))
    assert await store.read(lambda reader: reader.overrides.get("OVR-00000001")) == first


async def test_removing_keeps_the_row_and_only_overrides_in_force_or_to_come_go(
        store: Store) -> None:
    await insert(store,
                 an_override("OVR-active", NOW - HOUR, NOW + HOUR),
                 an_override("OVR-future", NOW + HOUR, NOW + 2 * HOUR),
                 an_override("OVR-over", NOW - 2 * HOUR, NOW - HOUR))

    async def remove(override_id: str) -> RotaOverride | None:
        return await store.write(
            lambda transaction: transaction.overrides.remove(override_id, NOW))

    removed = await remove("OVR-active")
    assert removed is not None
    assert removed.removed_at == NOW
    assert removed.until == NOW
    assert await remove("OVR-active") is None  # already removed
    assert await remove("OVR-over") is None  # over before now
    assert await remove("OVR-unknown") is None
    assert await listed(store, now=NOW) == ["OVR-future"]
    assert await listed(store) == ["OVR-over", "OVR-active", "OVR-future"]


async def test_a_listing_shows_overrides_in_force_or_to_come_by_start_and_filters_a_rota(
        store: Store) -> None:
    await insert(store,
                 an_override("OVR-late", NOW + 5 * HOUR, NOW + 6 * HOUR),
                 an_override("OVR-early", NOW + HOUR, NOW + 2 * HOUR),
                 an_override("OVR-other", NOW + 3 * HOUR, NOW + 4 * HOUR, rota="secondary"),
                 an_override("OVR-ending", NOW - HOUR, NOW))  # ends exactly now: over
    assert await listed(store, now=NOW) == ["OVR-early", "OVR-other", "OVR-late"]
    assert await listed(store, rota="primary", now=NOW) == ["OVR-early", "OVR-late"]
    assert await listed(store, rota="primary") == ["OVR-ending", "OVR-early", "OVR-late"]


async def test_overrides_that_still_apply_come_oldest_created_first_cut_at_their_removal(
        store: Store) -> None:
    await insert(store,
                 an_override("OVR-newer", NOW, NOW + 4 * HOUR, person="erin",
                             created_at=NOW - HOUR),
                 an_override("OVR-older", NOW, NOW + 4 * HOUR, person="dave",
                             created_at=NOW - 2 * HOUR),
                 an_override("OVR-over", NOW - 3 * HOUR, NOW - HOUR),
                 an_override("OVR-never", NOW + 2 * HOUR, NOW + 3 * HOUR),
                 an_override("OVR-cut", NOW - HOUR, NOW + 3 * HOUR, rota="secondary"))
    await store.write(lambda transaction: [
        transaction.overrides.remove("OVR-never", NOW + HOUR),  # before it began
        transaction.overrides.remove("OVR-cut", NOW + HOUR)])

    def query(reader: Reader) -> list[RotaOverride]:
        return reader.overrides.applying_since(NOW)

    applying = await store.read(query)
    assert [override.id for override in applying] == ["OVR-older", "OVR-newer", "OVR-cut"]
    ranked = stored.by_rota(applying)
    assert ranked == {
        "secondary": (Override(person="dave", start=NOW - HOUR, end=NOW + HOUR,
                               reason="covering", order=RUN_TIME_ORDER),),
        "primary": (Override(person="dave", start=NOW, end=NOW + 4 * HOUR, reason="covering",
                             order=RUN_TIME_ORDER),
                    Override(person="erin", start=NOW, end=NOW + 4 * HOUR, reason="covering",
                             order=RUN_TIME_ORDER)),
    }
    since_later = await store.read(
        lambda reader: reader.overrides.applying_since(NOW + HOUR))
    assert [override.id for override in since_later] == ["OVR-older", "OVR-newer"]


def test_an_override_removed_before_it_began_never_applies() -> None:
    override = an_override("OVR-1", NOW + HOUR, NOW + 2 * HOUR)
    removed = dataclasses.replace(override, removed_at=NOW)
    assert removed.until == NOW
    applied = removed.as_override()
    assert applied.start == applied.end == NOW + HOUR  # empty: core.oncall skips it


async def test_data_version_moves_for_another_connections_commit_only(tmp_path: Path) -> None:
    """SQLite's PRAGMA data_version; PostgreSQL's counter moves for every commit that wrote
    overrides (tests/store/test_postgres.py)."""
    store = await sqlite.Store.open(tmp_path / DATABASE_NAME)
    def version(transaction: Transaction) -> int:
        return transaction.overrides.data_version()

    first = await store.write(version)
    await insert(store, an_override("OVR-own", NOW, NOW + HOUR))
    assert await store.write(version) == first  # our own commit: unchanged
    other = sqlite3.connect(tmp_path / DATABASE_NAME)
    with other:
        other.execute("UPDATE overrides SET removed_at = ? WHERE id = 'OVR-own'",
                      (NOW.timestamp(),))
    other.close()
    assert await store.write(version) != first
    await store.close()


async def test_a_listing_with_last_reads_only_the_last_to_start_and_counts_all(
        store: Store) -> None:
    await insert(store, *(an_override(f"OVR-{number:04}", NOW + number * HOUR,
                                      NOW + number * HOUR + HOUR) for number in range(5_000)))
    await insert(store, an_override("OVR-other", NOW, NOW + HOUR, rota="secondary"))
    found, total = await store.read(
        lambda reader: reader.overrides.latest(rota="primary", now=None, last=100))
    assert [override.id for override in found] == [f"OVR-{number:04}"
                                                   for number in range(4_900, 5_000)]
    assert total == 5_000
    found, total = await store.read(
        lambda reader: reader.overrides.latest(now=NOW + 4_998 * HOUR, last=100))
    assert ([override.id for override in found], total) == (["OVR-4998", "OVR-4999"], 2)
