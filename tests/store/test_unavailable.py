"""A store that cannot write (a full disk): writes raise StoreUnavailable with SQLite's words,
`unavailable` and `check_writable` say so until a write succeeds again, and the log gets one
line per cause every ten seconds, with the count of what it left out. Real SQLite files; the
commits fail through tests.fakes.full_disk; trio's MockClock for the ten seconds.

SQLite only (full disk, SQLite's words); PostgreSQL's unavailable
server: tests/store/test_postgres.py.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
import trio
import trio.testing

from router.errors import StoreError, StoreUnavailable
from router.store import Store, Transaction
from router.store.health import unavailable
from tests.fakes.full_disk import full_disk


@pytest.fixture
def clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0.05)


def add_silence_row(transaction: Transaction) -> None:
    transaction.connection.execute(
        "INSERT INTO silences (id, matchers, starts_at, ends_at, reason, created_by, "
        "created_at) VALUES ('s1', '[]', 0, 1, 'test', 'test', 0)")


async def silence_rows(store: Store) -> int:
    return int(await store.read(lambda reader: reader.connection.execute(
        "SELECT count(*) FROM silences").fetchone()[0]))


async def test_a_write_on_a_full_disk_raises_store_unavailable_and_writes_nothing(
        tmp_path: Path) -> None:
    disk = full_disk()
    store = await Store.open(tmp_path / "router.db", writer_factory=disk)
    disk.full = True
    with pytest.raises(StoreUnavailable) as raised:
        await store.write(add_silence_row)
    assert raised.value.cause == "database or disk is full"
    assert str(raised.value) == "the store cannot write: database or disk is full"
    assert isinstance(raised.value.__cause__, sqlite3.OperationalError)
    assert store.unavailable is not None and store.unavailable.cause == raised.value.cause
    assert await silence_rows(store) == 0
    disk.full = False
    await store.write(add_silence_row)
    assert store.unavailable is None
    assert await silence_rows(store) == 1
    await store.close()


async def test_check_writable_finds_the_store_writable_again_with_no_other_write(
        clock: trio.testing.MockClock, tmp_path: Path) -> None:
    disk = full_disk()
    store = await Store.open(tmp_path / "router.db", writer_factory=disk)
    assert await store.check_writable() is None
    assert disk.refused == 0  # a store that writes is not probed
    disk.full = True
    with pytest.raises(StoreUnavailable):
        await store.write(add_silence_row)
    failure = await store.check_writable()
    assert failure is not None and failure.cause == "database or disk is full"
    refused = disk.refused
    for _ in range(5):  # asked often, it tries at most once a second
        assert await store.check_writable() is not None
    assert disk.refused <= refused + 1
    disk.full = False
    await trio.sleep(1)
    assert await store.check_writable() is None
    assert store.unavailable is None
    await store.close()


@pytest.mark.parametrize("words", ["disk I/O error", "attempt to write a readonly database"])
async def test_other_conditions_of_the_host_are_unavailable_too(
        tmp_path: Path, words: str) -> None:
    disk = full_disk(words)
    store = await Store.open(tmp_path / "router.db", writer_factory=disk)
    disk.full = True
    with pytest.raises(StoreUnavailable) as raised:
        await store.write(add_silence_row)
    assert raised.value.cause == words
    await store.close()


def test_only_conditions_of_the_host_are_unavailable() -> None:
    assert unavailable(sqlite3.OperationalError("database or disk is full")) is not None
    assert unavailable(sqlite3.OperationalError("database is locked")) is not None
    assert unavailable(sqlite3.OperationalError("no such table: outbox")) is None
    assert unavailable(sqlite3.IntegrityError("UNIQUE constraint failed: silences.id")) is None
    assert unavailable(ValueError("database or disk is full")) is None


async def test_a_unit_s_own_exception_is_raised_as_it_is(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "router.db")

    def broken(transaction: Transaction) -> None:
        raise KeyError("a bug")

    with pytest.raises(KeyError, match="a bug"):
        await store.write(broken)
    await store.close()


async def test_a_constraint_a_unit_breaks_is_a_store_error_not_unavailability(
        tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "router.db")
    await store.write(add_silence_row)
    with pytest.raises(StoreError, match="UNIQUE constraint failed") as raised:
        await store.write(add_silence_row)
    assert not isinstance(raised.value, StoreUnavailable)
    assert store.unavailable is None
    await store.close()


async def test_failures_are_logged_once_per_cause_every_ten_seconds_without_tracebacks(
        clock: trio.testing.MockClock, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    disk = full_disk()
    store = await Store.open(tmp_path / "router.db", writer_factory=disk)
    disk.full = True
    caplog.set_level(logging.INFO, logger="router")
    for _ in range(250):  # 25 s of writes, ten a second
        with pytest.raises(StoreUnavailable):
            await store.write(add_silence_row)
        await trio.sleep(0.1)
    disk.full = False
    await store.write(add_silence_row)
    lines = [(record.levelname, record.getMessage()) for record in caplog.records
             if record.name.startswith("router.store")]
    # at 0 s, 10 s and 20 s (the clock may jump a little while a commit runs in its thread)
    assert [level for level, _ in lines] == ["ERROR", "ERROR", "ERROR", "WARNING"]
    assert lines[0][1] == ("store cannot write: database or disk is full "
                           "(0 more failures since the last line)")
    left_out = [int(record.args[-1]) for record in caplog.records  # type: ignore[index]
                if record.name.startswith("router.store")]
    assert all(90 <= count <= 100 for count in left_out[1:3])
    assert lines[3][1] == (f"store writes again after: database or disk is full "
                           f"({left_out[3]} failures not logged)")
    assert 3 + sum(left_out) == 250  # every failure logged or counted
    assert all(record.exc_info is None for record in caplog.records)
    await store.close()


def test_unavailability_is_a_store_error() -> None:
    """Who handles every store failure alike catches StoreError; 503 and back-off catch
    StoreUnavailable first."""
    assert issubclass(StoreUnavailable, StoreError)
