"""GET and POST /v1/incidents/{id}/analysis, and the `analysis` of GET /v1/incidents/{id}
(issue 21 items 1 and 5), over real loopback HTTP to the API on a real SQLite store: the
runs with their audit fields, a new run on demand (pending until the pool takes it), and
404 for an unknown incident or one with no `analysis`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from router.alerts.model import Alert
from tests.server.support import api_client, engine_on_disk

NOW = datetime(2026, 12, 5, 9, 30, tzinfo=UTC)
CONFIG = """
settings: {ingest_tokens: [{name: ops, token: ops-token}]}
channels: [{id: log, type: log}]
services:
  - {id: db, channels: [log], analysis: {provider: local, timeout: 20s}}
  - {id: api, channels: [log]}
routes:
  - {match: [team=api], service: api}
  - {service: db}
"""


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with engine_on_disk(tmp_path, CONFIG, NOW) as engine, api_client(
            engine, headers={"authorization": "Bearer ops-token"}) as client:
        await engine.ingest([Alert(summary="Disk full", source="native")])
        await engine.ingest([Alert(summary="API down", source="native",
                                   labels={"team": "api"})])
        yield client


async def test_the_runs_are_listed_and_one_more_is_asked_for(http: httpx.AsyncClient) -> None:
    answer = await http.get("/v1/incidents/INC1/analysis")
    assert answer.status_code == 200, answer.text
    runs = answer.json()["runs"]
    assert [(run["status"], run["provider"], run["incident"]) for run in runs] == [
        ("pending", "local", "INC1")]
    assert runs[0]["settings"]["timeout"] == 20.0
    assert runs[0]["settings"]["api_key"] == "<redacted>"
    shown = (await http.get("/v1/incidents/INC1")).json()
    assert shown["analysis"]["id"] == runs[0]["id"]
    assert (await http.get("/v1/incidents/INC2")).json()["analysis"] is None
    again = await http.post("/v1/incidents/INC1/analysis")
    assert again.status_code == 202, again.text
    assert (again.json()["status"], again.json()["incident"]) == ("pending", "INC1")
    runs = (await http.get("/v1/incidents/1/analysis")).json()["runs"]
    assert [run["id"] for run in runs] == [again.json()["id"], shown["analysis"]["id"]]


@pytest.mark.parametrize(("method", "path", "status", "error"), [
    ("GET", "/v1/incidents/INC9/analysis", 404, "no incident INC9"),
    ("POST", "/v1/incidents/INC9/analysis", 404, "no incident INC9"),
    ("POST", "/v1/incidents/INC2/analysis", 404,
     "INC2: neither its route nor its service has analysis"),
])
async def test_unknown_incidents_and_ones_without_analysis_are_404(
        http: httpx.AsyncClient, method: str, path: str, status: int, error: str) -> None:
    answer = await http.request(method, path)
    assert (answer.status_code, answer.json()) == (status, {"error": error})
