"""Secrets the nodes of a shared store hold in common (issue 18 item 3, store/secrets.py): on
PostgreSQL a key is made once and every store on the database reads that one, even when
several make it at the same instant; feed tokens made or rotated by one store are what
another reads next. On SQLite the store says it is not shared (the keys stay in the state
directory's files, tests/test_links.py and tests/web/auth/test_sessions.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from router.errors import StoreError
from router.links import read_or_create_key
from router.store import DATABASE_NAME, interface
from router.store.feeds import ensure_feed_tokens
from router.store.postgres import Store as PostgresStore
from router.store.sqlite import Store as SqliteStore
from router.store.transfer import copy_store
from router.store.writes import Transaction
from tests.store.conftest import Backend


async def test_only_postgresql_is_shared(store: interface.Store, backend: Backend) -> None:
    shared = await store.read(lambda reader: reader.secrets.shared)
    written = await store.write(lambda transaction: transaction.secrets.shared)
    assert (shared, written) == ((backend.name == "postgresql"),) * 2


async def test_a_key_is_made_once_and_kept(store: interface.Store) -> None:
    first = await store.write(lambda transaction: transaction.secrets.key("link"))
    again = await store.write(lambda transaction: transaction.secrets.key("link"))
    other = await store.write(lambda transaction: transaction.secrets.key("session"))
    assert len(first) == 32 and first == again and other != first


async def test_nodes_starting_at_once_end_with_one_key(postgres_url: str) -> None:
    """Eight stores (two connections each) ask for the same new key in the same instant:
    every one answers the same key, and the table holds one row for it."""
    stores = [await PostgresStore.open(postgres_url) for _ in range(8)]
    keys: list[bytes] = []
    try:
        start = trio.Event()

        async def ask(store: interface.Store) -> None:
            await start.wait()
            keys.append(await store.write(
                lambda transaction: transaction.secrets.key("session")))

        async with trio.open_nursery() as nursery:
            for store in stores:
                nursery.start_soon(ask, store)
            await trio.sleep(0.05)
            start.set()
        rows = await stores[0].read(lambda reader: reader.secrets.feed_tokens())
    finally:
        for store in stores:
            await store.close()
    assert len(keys) == 8 and len(set(keys)) == 1, keys
    assert rows == {}  # a key is not a feed token


async def test_a_feed_token_made_or_rotated_on_one_node_is_read_on_another(
        postgres_url: str) -> None:
    one, other = await PostgresStore.open(postgres_url), await PostgresStore.open(postgres_url)
    try:
        made = await one.write(lambda transaction: transaction.secrets.ensure_feed_tokens(
            ["rota:web", "person:ann"]))
        assert sorted(made) == ["person:ann", "rota:web"]
        assert await other.read(lambda reader: reader.secrets.feed_token("rota:web")) \
            == made["rota:web"]
        kept = await other.write(lambda transaction: transaction.secrets.ensure_feed_tokens(
            ["rota:web", "rota:db"]))
        assert kept["rota:web"] == made["rota:web"] and len(kept) == 3
        rotated = await other.write(
            lambda transaction: transaction.secrets.rotate_feed_tokens(["rota:web"]))
        assert rotated["rota:web"] != made["rota:web"]
        assert rotated["person:ann"] == made["person:ann"]
        assert await one.read(lambda reader: reader.secrets.feed_token("rota:web")) \
            == rotated["rota:web"]
        assert await one.read(lambda reader: reader.secrets.feed_token("rota:nope")) is None
    finally:
        await one.close()
        await other.close()


async def test_a_key_row_that_is_not_a_key_is_a_clear_error(postgres_url: str) -> None:
    store = await PostgresStore.open(postgres_url)
    try:
        await store.write(lambda transaction: transaction.secrets.key("link"))
        await store.write(_spoil)  # written by hand: what an operator's mistake would leave
        with pytest.raises(ValueError, match="delete its row"):
            await store.write(lambda transaction: transaction.secrets.key("link"))
    finally:
        await store.close()


def _spoil(transaction: interface.Transaction) -> None:
    assert isinstance(transaction, Transaction)
    transaction.connection.execute(
        "UPDATE shared_secrets SET value = 'not hex' WHERE name = 'link'")


async def test_migrate_to_keeps_the_state_directory_s_keys_and_feed_tokens(
        tmp_path: Path, postgres_url: str) -> None:
    """`router store migrate-to` (store/transfer.py) copies link.key, session.key and
    feeds.json into the table: links mailed before the move, logins and feed URLs hold."""
    state = tmp_path / "state"
    state.mkdir()
    await (await SqliteStore.open(state / DATABASE_NAME)).close()
    link = read_or_create_key(state)
    session = read_or_create_key(state, "session.key")
    tokens = ensure_feed_tokens(state, ["rota:web", "person:ann"])
    copied = await trio.to_thread.run_sync(copy_store, state / DATABASE_NAME, postgres_url)
    assert copied.adopted == ["link.key", "session.key", "feeds.json"]
    store = await PostgresStore.open(postgres_url)
    try:
        assert await store.write(lambda transaction: transaction.secrets.key("link")) == link
        assert await store.write(
            lambda transaction: transaction.secrets.key("session")) == session
        assert await store.read(lambda reader: reader.secrets.feed_tokens()) == tokens
    finally:
        await store.close()


async def test_migrate_to_refuses_a_key_file_that_holds_no_key(
        tmp_path: Path, postgres_url: str) -> None:
    state = tmp_path / "state"
    state.mkdir()
    await (await SqliteStore.open(state / DATABASE_NAME)).close()
    (state / "link.key").write_text("not a key\n")
    with pytest.raises(StoreError, match=r"link.key does not hold a key \(64 hex digits\)"):
        await trio.to_thread.run_sync(copy_store, state / DATABASE_NAME, postgres_url)
    store = await PostgresStore.open(postgres_url)
    try:  # nothing was written: a new key is made, not the file's
        assert await store.read(lambda reader: reader.secrets.feed_tokens()) == {}
    finally:
        await store.close()
