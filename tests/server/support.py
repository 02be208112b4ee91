"""Helpers shared by the server tests: routers served over real loopback HTTP, each on its
own SQLite store, for fixtures that start several in one test (one per config); and client
TLS contexts that trust only a throwaway trustme CA (used by tests/e2e/test_tls.py too)."""

from __future__ import annotations

import ssl
import textwrap
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from functools import partial
from pathlib import Path

import httpx
import trio
import trustme

from router.clock import FixedClock
from router.config import load_config
from router.engine import Engine
from router.server.api import build_routes
from router.server.http import Limits, Routes, serve_http
from router.store import Store


@asynccontextmanager
async def engine_on_disk(directory: Path, config: str, now: datetime) -> AsyncIterator[Engine]:
    """An engine on `config` (dedented) and a real SQLite store in `directory`, at `now`."""
    (directory / "config.yaml").write_text(textwrap.dedent(config))
    store = await Store.open(directory / "router.db")
    try:
        yield Engine(load_config([directory / "config.yaml"]), store, FixedClock(now))
    finally:
        await store.close()


@asynccontextmanager
async def api_client(engine: Engine, *, headers: Mapping[str, str] | None = None,
                     limits: Limits | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """The API's routes for `engine` served on a free loopback port, and a client for it."""
    shutdown = trio.Event()
    async with trio.open_nursery() as nursery:
        port = await nursery.start(partial(serve_http, build_routes(engine), port=0,
                                           limits=limits or Limits(), shutdown=shutdown))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}",
                                     headers=dict(headers or {})) as http:
            yield http
        shutdown.set()


class Servers:
    """The stores a fixture opens and the routes it serves in `nursery`, with a client each.

    `close` closes every client, then every store; the servers themselves end with the
    nursery, which the fixture owns (and cancels after `close`)."""

    def __init__(self, nursery: trio.Nursery) -> None:
        self.nursery = nursery
        self.stores: list[Store] = []
        self.clients: list[httpx.AsyncClient] = []

    async def open_store(self, path: Path) -> Store:
        store = await Store.open(path)
        self.stores.append(store)
        return store

    async def serve(self, routes: Routes) -> httpx.AsyncClient:
        """Serve `routes` on a free loopback port; a client for it."""
        port = await self.nursery.start(partial(serve_http, routes, port=0))
        client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}")
        self.clients.append(client)
        return client

    async def close(self) -> None:
        for client in self.clients:
            await client.aclose()
        for store in self.stores:
            await store.close()


def trusting(ca: trustme.CA, client_certificate: trustme.LeafCert | None = None
             ) -> ssl.SSLContext:
    """A client context that trusts only `ca` (and presents `client_certificate`)."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    if client_certificate is not None:
        client_certificate.configure_cert(context)
    return context
