"""The responder pages' test site: the API and the pages served on a free loopback port over
a real SQLite store, at a fixed instant the Wednesday before Europe's spring DST change
(2026-03-29), with a Berlin rota, a job, a heartbeat and channels for job targets."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import trio

from router.clock import FixedClock
from router.config import load_config
from router.engine import Engine
from router.server.api import build_routes
from router.web.pages import page_routes
from tests.server.support import Servers

NOW = datetime(2026, 3, 25, 12, 0, tzinfo=UTC)  # 13:00 in Berlin, a Wednesday
TOKEN = "t-admin"
PING = "0123456789abcdef0123"
CONFIG = f"""
settings:
  timezone: Europe/Berlin
people:
  - {{id: ann, contact_methods: [{{type: email, address: ann@example.com}}]}}
  - {{id: ben, contact_methods: [{{type: email, address: ben@example.com}}]}}
  - {{id: cy, contact_methods: [{{type: email, address: cy@example.com}}]}}
channels:
  - {{id: log, type: log}}
  - {{id: mail, type: email, host: localhost, from: router@example.com}}
  - {{id: hooks, type: webhook, url: "http://127.0.0.1:9/unused"}}
rotas:
  - id: web
    name: "Web <b>team</b>"
    layers: [{{members: [ann, ben], every: 1d, handoff: "09:00", start: 2026-03-01}}]
escalation_policies:
  - {{id: web, levels: [{{targets: [{{rota: web}}], delay: 5m}}]}}
services:
  - {{id: shop, escalation_policy: web, channels: [log]}}
routes:
  - service: shop
jobs:
  - {{id: backup, service: shop, timeout: 2h, description: "nightly <dump>"}}
heartbeats:
  - {{id: nightly, service: shop, period: 1h, grace: 10m, token: {PING}}}
checks:
  - {{id: disk, type: disk, service: shop, paths: [/], warning: 0, critical: 0}}
  - {{id: memory, type: memory, interval: 30s}}
"""


@dataclass
class Site:
    http: httpx.AsyncClient
    engine: Engine

    async def get(self, path: str, **options: object) -> httpx.Response:
        return await self.http.get(path, headers={"authorization": f"Bearer {TOKEN}"},
                                   **options)  # type: ignore[arg-type]


@pytest.fixture
async def site(tmp_path: Path, nursery: trio.Nursery) -> AsyncIterator[Site]:
    servers = Servers(nursery)
    (tmp_path / "config.yaml").write_text(CONFIG)
    store = await servers.open_store(tmp_path / "router.db")
    engine = Engine(load_config([tmp_path / "config.yaml"]), store, FixedClock(NOW))
    routes = build_routes(engine, admin_token=TOKEN, pages=page_routes(engine))
    yield Site(await servers.serve(routes), engine)
    await servers.close()


def text_of(page: httpx.Response) -> str:
    """The page's text as a browser shows it: no tags, entities read, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page.text)).split())


def row_text(page: httpx.Response, row_id: str) -> str:
    """The text of the table row with id `row_id`."""
    found = re.search(rf'<tr id="{re.escape(row_id)}">(.*?)</tr>', page.text, re.S)
    assert found is not None, f"no row {row_id} in the page"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", found.group(1))).split())
