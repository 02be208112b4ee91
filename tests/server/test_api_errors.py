"""The HTTP API maps exactly the engine's NotFound to 404 and Conflict to 409; anything else
a handler raises (a stray KeyError or ValueError: a bug) is a 500 whose trace id is in the
answer and in the one log line about it. Over real loopback HTTP on a real SQLite store."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from router.engine import Engine
from tests.server.support import api_client, engine_on_disk

CONFIG = """
settings:
  ingest_tokens:
    - {name: ops, token: s3cret-ops}
people:
  - {id: ann, contact_methods: [{type: email, address: ann@example.com}]}
channels:
  - {id: mail, type: email, host: localhost, from: router@example.com}
rotas:
  - id: web
    layers: [{members: [ann], every: 1d, handoff: "09:00", start: 2026-11-01}]
escalation_policies:
  - {id: web, levels: [{targets: [{rota: web}], delay: 5m}]}
services:
  - {id: shop, escalation_policy: web}
routes:
  - service: shop
"""
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
OPS = {"authorization": "Bearer s3cret-ops"}
TRACEPARENT = {"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01", **OPS}


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Engine, httpx.AsyncClient]]:
    async with engine_on_disk(tmp_path, CONFIG, NOW) as engine, api_client(engine) as http:
        yield engine, http


@pytest.mark.parametrize("stray", [KeyError("severity"), ValueError("not a number"),
                                   LookupError("somewhere")])
async def test_a_stray_error_is_a_500_logged_once_with_the_trace_id(
        served: tuple[Engine, httpx.AsyncClient], stray: Exception,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    engine, client = served

    async def broken(**_: object) -> list[object]:
        raise stray

    monkeypatch.setattr(engine, "incidents", broken)
    caplog.set_level(logging.INFO, "router")
    answer = await client.get("/v1/incidents", headers=TRACEPARENT)
    assert answer.status_code == 500
    assert answer.json() == {"error": "internal error", "trace_id": TRACE}
    failures = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(failures) == 1
    assert getattr(failures[0], "trace_id", None) == TRACE
    assert failures[0].exc_info is not None and failures[0].exc_info[1] is stray


async def test_not_found_is_404_and_conflict_is_409(
        served: tuple[Engine, httpx.AsyncClient]) -> None:
    _, client = served
    missing = await client.post("/v1/incidents/INC9/escalate", headers=OPS)
    assert (missing.status_code, missing.json()) == (404, {"error": "no incident INC9"})
    opened = await client.post("/v1/alerts", headers=OPS, json={
        "summary": "disk full", "severity": "critical", "dedup_key": "disk"})
    assert opened.status_code in (200, 201, 202), opened.text
    assert (await client.post("/v1/incidents/INC1/resolve", headers=OPS)).status_code == 200
    refused = await client.post("/v1/incidents/INC1/escalate", headers=OPS)
    assert (refused.status_code, refused.json()) == (409, {"error": "INC1 is resolved"})
    gone = await client.delete("/v1/silences/nope", headers=OPS)
    assert (gone.status_code, gone.json()) == (404, {"error": "no silence nope in force"})
