"""Every HTTP ingest endpoint refuses a label over `settings.alert_limits` with 400 naming the
field, over real loopback HTTP to an in-process server on a real SQLite store."""

from __future__ import annotations

import json
import textwrap
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import httpx
import pytest
import trio

from router.clock import FixedClock, TrioClock
from router.config import load_config
from router.engine import Engine
from router.server.api import build_routes
from router.server.http import Limits, serve_http
from router.store import Store
from tests.server.support import api_client, engine_on_disk

CONFIG = """
settings:
  max_body_bytes: 4194304
  generic_webhooks:
    - {name: checks, summary: title, labels: {host: target}}
people:
  - {id: ann}
escalation_policies:
  - {id: web, levels: [{targets: [{person: ann}], delay: 5m}]}
services:
  - {id: shop, escalation_policy: web}
routes:
  - service: shop
"""
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
BIG = "x" * 102_400
TOO_BIG = "label value is 102400 bytes, over the limit of 16384"

# endpoint -> (body with the label `instance` (or its equivalent) at BIG, the field named)
REFUSED: dict[str, tuple[object, str]] = {
    "/v1/alerts": ({"summary": "s", "labels": {"instance": BIG}}, "labels.instance"),
    "/v1/ingest/alertmanager": (
        {"alerts": [{"status": "firing", "labels": {"instance": BIG}}]},
        "alerts[0].labels.instance"),
    "/api/v2/alerts": ([{"labels": {"alertname": "A", "instance": BIG}}], "[0].labels.instance"),
    "/v1/ingest/grafana": (
        {"alerts": [{"status": "firing", "labels": {"instance": BIG}}]},
        "alerts[0].labels.instance"),
    "/v1/ingest/datadog": ({"title": "t", "tags": f"instance:{BIG}"}, "tags.instance"),
    "/v1/ingest/generic/checks": ({"title": "t", "target": BIG}, "target"),
}


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with engine_on_disk(tmp_path, CONFIG, NOW) as engine:
        limits = Limits(max_body_bytes=engine.config.settings.max_body_bytes)
        async with api_client(engine, headers={"content-type": "application/json"},
                              limits=limits) as http:
            yield http


@pytest.mark.parametrize("endpoint", sorted(REFUSED))
async def test_a_label_over_the_limit_is_refused_naming_the_field(
        client: httpx.AsyncClient, endpoint: str) -> None:
    body, field = REFUSED[endpoint]
    answer = await client.post(endpoint, content=json.dumps(body))
    assert (answer.status_code, answer.json()) == (400, {"error": TOO_BIG, "field": field})


async def test_pagerduty_refuses_it_in_its_own_words(client: httpx.AsyncClient) -> None:
    event = {"routing_key": "R" * 32, "event_action": "trigger",
             "payload": {"summary": "s", "source": BIG, "severity": "info"}}
    answer = await client.post("/v2/enqueue", content=json.dumps(event))
    assert (answer.status_code, answer.json()["errors"]) == (
        400, [f"payload.source: {TOO_BIG}"])


async def test_the_configured_limits_apply(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(textwrap.dedent(CONFIG).replace(
        "  max_body_bytes: 4194304\n", "  alert_limits: {label_value_bytes: 8}\n"))
    store = await Store.open(tmp_path / "router.db")
    engine = Engine(load_config([tmp_path / "config.yaml"]), store, FixedClock(NOW))
    shutdown = trio.Event()
    async with trio.open_nursery() as nursery:
        port = await nursery.start(partial(serve_http, build_routes(engine), port=0,
                                           shutdown=shutdown))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            short = await http.post("/v1/alerts", json={"summary": "s", "labels": {"a": "8" * 8}})
            long = await http.post("/v1/alerts", json={"summary": "s", "labels": {"a": "9" * 9}})
        shutdown.set()
    await store.close()
    assert short.status_code == 202
    assert (long.status_code, long.json()) == (
        400, {"error": "label value is 9 bytes, over the limit of 8", "field": "labels.a"})


async def test_a_large_body_is_parsed_off_the_event_loop_at_its_arrival_time(
        tmp_path: Path) -> None:
    """A body over 64 KiB is parsed in a worker thread; /api/v2/alerts still decides firing
    or resolved by the instant it arrived, read on the event loop (a TrioClock cannot be
    read from a thread)."""
    (tmp_path / "config.yaml").write_text(textwrap.dedent(CONFIG))
    store = await Store.open(tmp_path / "router.db")
    engine = Engine(load_config([tmp_path / "config.yaml"]), store, TrioClock(NOW))
    labels = {f"label{number}": "v" * 8000 for number in range(20)}
    body = json.dumps([{"labels": {"alertname": "Wide", **labels},
                        "endsAt": "2026-11-23T12:00:30Z"}])
    assert len(body) > 64 * 1024
    shutdown = trio.Event()
    async with trio.open_nursery() as nursery:
        limits = Limits(max_body_bytes=4 * 1024 * 1024)
        port = await nursery.start(partial(serve_http, build_routes(engine, admin_token="t"),
                                           port=0, limits=limits, shutdown=shutdown))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers={
                "content-type": "application/json", "authorization": "Bearer t"}) as http:
            answer = await http.post("/api/v2/alerts", content=body)
            found = await http.get("/v1/incidents")
        shutdown.set()
    await store.close()
    assert answer.status_code == 200
    [incident] = found.json()["incidents"]
    assert incident["state"] == "triggered"  # endsAt is after its arrival: still firing
