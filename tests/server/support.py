"""Helpers shared by the server tests: routers served over real loopback HTTP, each on its
own SQLite store, for fixtures that start several in one test (one per config); and client
TLS contexts that trust only a throwaway trustme CA (used by tests/e2e/test_tls.py too)."""

from __future__ import annotations

import ssl
from functools import partial
from pathlib import Path

import httpx
import trio
import trustme

from router.server.http import Routes, serve_http
from router.store import Store


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
