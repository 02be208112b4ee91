"""The web's session key on a shared store (issue 18 item 3, daemon/web_logins.py): the key
is the store's on PostgreSQL and every node reads the same one; a reload while the database
is down keeps the key in use (it is the store's already) instead of refusing the reload, but
a reload that needs a key it cannot read is still refused."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest

from router.clock import FixedClock
from router.config import load_config
from router.config.model import Config
from router.daemon.web_logins import SessionKeyUnusable, prepare_key, start_web
from router.engine import Engine
from router.errors import StoreUnavailable
from router.store import interface
from router.store.postgres import Store

T = TypeVar("T")
NOW = datetime(2026, 12, 5, 19, 0, tzinfo=UTC)


class Outage:
    """A store whose writes fail while `down` (a database that went away)."""

    def __init__(self, store: interface.Store) -> None:
        self.store = store
        self.down = False

    async def read(self, query: Callable[[Any], T]) -> T:
        return await self.store.read(query)

    async def write(self, work: Callable[[Any], T]) -> T:
        if self.down:
            raise StoreUnavailable("connection refused")
        return await self.store.write(work)


def config(tmp_path: Path, text: str = "channels: [{id: log, type: log}]\n") -> Config:
    (tmp_path / "router.yaml").write_text(text)
    return load_config([tmp_path / "router.yaml"])


async def test_two_nodes_share_the_key_and_a_reload_survives_an_outage(
        postgres_url: str, tmp_path: Path) -> None:
    stores = [await Store.open(postgres_url), await Store.open(postgres_url)]
    try:
        outage = Outage(stores[0])
        first = Engine(config(tmp_path), cast(interface.Store, outage), FixedClock(NOW))
        second = Engine(config(tmp_path), stores[1], FixedClock(NOW))
        web = await start_web(first, tmp_path / "a", tls=False, shared=True)
        other = await start_web(second, tmp_path / "b", tls=False, shared=True)
        assert web.key is not None and web.key == other.key
        assert not (tmp_path / "a").exists()  # no session.key file: the store's key

        outage.down = True
        swap = await prepare_key(web, first, tmp_path / "a", first.config, shared=True)
        swap()
        assert web.key == other.key
        (tmp_path / "secret").write_text("s" * 40)
        with_secret = config(tmp_path, "settings:\n  web: {session_secret: "
                                       "\"${file:secret}\"}\n")
        changed = await prepare_key(web, first, tmp_path / "a", with_secret, shared=True)
        changed()
        assert web.key != other.key  # the secret's key needs no store
        first.use_config(with_secret)  # now in force
        with pytest.raises(SessionKeyUnusable, match="connection refused"):
            await prepare_key(web, first, tmp_path / "a", config(tmp_path), shared=True)
    finally:
        for store in stores:
            await store.close()
