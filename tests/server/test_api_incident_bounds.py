"""GET /v1/incidents/{id} answers at most `limit` (default 1000) of the incident's newest
alerts and timeline entries and says how many earlier ones it left out: one request's work
stays bounded however long the incident's history (issue 22)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from router.alerts.model import Alert, TimelineEntry
from router.server import api
from router.store import Transaction
from tests.server.support import api_client, engine_on_disk
from tests.server.test_api_notes import CONFIG, NOW

ADDED = api.DETAIL_LIMIT + 200


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with engine_on_disk(tmp_path, CONFIG, NOW) as engine, api_client(
            engine, headers={"authorization": "Bearer ops-token"}) as client:
        await engine.ingest([Alert(summary="Disk full", source="native")])

        def work(transaction: Transaction) -> None:
            transaction.add_timeline(1, [TimelineEntry(
                at=NOW + timedelta(seconds=second), actor="router", action="notified",
                details={"n": str(second)}) for second in range(ADDED)])

        await engine.store.write(work)
        yield client


async def test_the_detail_holds_the_newest_entries_and_counts_the_rest(
        http: httpx.AsyncClient) -> None:
    answer = await http.get("/v1/incidents/INC1")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert len(body["timeline"]) == api.DETAIL_LIMIT
    assert body["timeline"][-1]["details"] == {"n": str(ADDED - 1)}
    opening = body["timeline_omitted"] + api.DETAIL_LIMIT - ADDED
    assert opening >= 1  # the entries of the incident's opening are among the left out
    assert (len(body["alerts"]), body["alerts_omitted"]) == (1, 0)


async def test_a_limit_asks_for_fewer_and_a_bad_one_is_refused(
        http: httpx.AsyncClient) -> None:
    body = (await http.get("/v1/incidents/INC1?limit=10")).json()
    assert [entry["details"]["n"] for entry in body["timeline"]] == [
        str(second) for second in range(ADDED - 10, ADDED)]
    refused = await http.get("/v1/incidents/INC1?limit=0")
    assert refused.status_code == 400
    assert "limit" in refused.text
