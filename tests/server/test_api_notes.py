"""POST /v1/incidents/{id}/notes (issue 16 item 7): a note on the timeline with its author,
over real loopback HTTP to the API on a real SQLite store; GET /v1/incidents/{id} shows it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from router.alerts.model import Alert
from router.engine import Engine
from tests.server.support import api_client, engine_on_disk

NOW = datetime(2026, 12, 5, 9, 30, tzinfo=UTC)
CONFIG = """
settings: {ingest_tokens: [{name: ops, token: ops-token}]}
channels: [{id: log, type: log}]
services: [{id: api, channels: [log]}]
routes: [{service: api}]
"""


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with engine_on_disk(tmp_path, CONFIG, NOW) as engine, api_client(
            engine, headers={"authorization": "Bearer ops-token"}) as client:
        await open_incident(engine)
        yield client


async def open_incident(engine: Engine) -> None:
    await engine.ingest([Alert(summary="Disk full", source="native")])


async def timeline(http: httpx.AsyncClient) -> list[dict[str, Any]]:
    answer = await http.get("/v1/incidents/INC1")
    assert answer.status_code == 200, answer.text
    entries: list[dict[str, Any]] = answer.json()["timeline"]
    return entries


async def test_a_note_is_added_with_its_author_and_shown_with_the_incident(
        http: httpx.AsyncClient) -> None:
    answer = await http.post("/v1/incidents/INC1/notes",
                             json={"text": "restarted the pool", "author": "ann"})
    note = {"at": "2026-12-05T09:30:00+00:00", "actor": "api:ann", "action": "note",
            "details": {"text": "restarted the pool"}}
    assert (answer.status_code, answer.json()) == (201, note)
    answer = await http.post("/v1/incidents/1/notes", json={"text": "it held"})
    assert answer.status_code == 201
    assert (await timeline(http))[-2:] == [note, {**note, "actor": "api:anonymous",
                                                  "details": {"text": "it held"}}]


@pytest.mark.parametrize(("path", "body", "status", "error"), [
    ("/v1/incidents/INC9/notes", {"text": "x"}, 404, {"error": "no incident INC9"}),
    ("/v1/incidents/INC1/notes", {"text": " "}, 400,
     {"error": "is empty: write what was done or found", "field": "text"}),
    ("/v1/incidents/INC1/notes", {"text": "x" * 4001}, 400,
     {"error": "is 4001 characters long; a note may have at most 4000", "field": "text"}),
    ("/v1/incidents/INC1/notes", {"author": "ann"}, 400,
     {"error": "is required", "field": "text"}),
    ("/v1/incidents/INC1/notes", {"text": ["x"]}, 400,
     {"error": "expected text", "field": "text"}),
    ("/v1/incidents/INC1/notes", {"text": "x", "author": 3}, 400,
     {"error": "expected text", "field": "author"}),
    ("/v1/incidents/pool/notes", {"text": "x"}, 400,
     {"error": "expected an incident id like INC12, got 'pool'", "field": "incident_id"}),
])
async def test_a_note_that_cannot_be_added_is_answered_with_why(
        http: httpx.AsyncClient, path: str, body: dict[str, Any], status: int,
        error: dict[str, str]) -> None:
    answer = await http.post(path, json=body)
    document = answer.json()
    document.pop("trace_id", None)
    assert (answer.status_code, document) == (status, error)
    assert "note" not in [entry["action"] for entry in await timeline(http)]
