"""GET /v1/silences, /v1/rotas/{id}/overrides and /v1/jobs answer at most `?limit=` items
(default 100, at most 10,000) and say how many they left out, as GET /v1/incidents/{id} does:
one request's work stays bounded however long the history (issue 22). Below the limit the
answer is as before, with 0 left out; Alertmanager's GET /api/v2/silences keeps its shape
(amtool has no paging) and lists every one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from router.alerts.model import Silence, SilenceMatcher
from router.config.model import Job
from router.server.routes import LISTING_LIMIT, LISTING_MOST
from router.store import Transaction
from router.store.values import RotaOverride
from tests.server.support import api_client, engine_on_disk

CONFIG = """
settings:
  timezone: UTC
  ingest_tokens: [{name: ops, token: s3cret-ops, scopes: [admin]}]
people:
  - {id: ann}
  - {id: ben}
channels:
  - {id: log, type: log}
rotas:
  - id: web
    layers: [{members: [ann, ben], every: 1d, handoff: "09:00", start: 2026-11-01}]
services:
  - {id: db, channels: [log]}
routes:
  - service: db
jobs:
  - {id: backup, service: db}
"""
NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
ENDED = LISTING_LIMIT + 20
"""Silences that ended and removed overrides in the store, and jobs made over the API."""


MATCHER = SilenceMatcher(name="alertname", operator="=", value="x")


def _silence(number: int, ends_at: datetime) -> Silence:
    return Silence(id=f"SIL-{number:08}", matchers=(MATCHER,), reason="test",
                   starts_at=ends_at - timedelta(days=1), ends_at=ends_at)


def _history(transaction: Transaction) -> None:
    """ENDED silences that ended day by day (the highest number last), two in force (ids
    sorting first and last); ENDED overrides removed, one in force; ENDED jobs."""
    for number in range(ENDED):
        transaction.add_silence(_silence(number, NOW - timedelta(days=ENDED - number)))
        transaction.overrides.insert(RotaOverride(
            id=f"OVR-{number:08}", rota="web", person="ben", replaces="ann",
            start=NOW - timedelta(days=ENDED - number), reason="covering",
            end=NOW - timedelta(days=ENDED - number, hours=-1), created_at=NOW,
            removed_at=NOW))
        transaction.jobs.add_job(Job(id=f"nightly-{number:04}"), NOW)
    transaction.add_silence(_silence(-1, NOW + timedelta(hours=1)))
    transaction.add_silence(_silence(99_999_999, NOW + timedelta(hours=2)))
    transaction.overrides.insert(RotaOverride(
        id="OVR-current", rota="web", person="ben", replaces="ann", start=NOW,
        end=NOW + timedelta(hours=1), reason="covering", created_at=NOW))


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with engine_on_disk(tmp_path, CONFIG, NOW) as engine, api_client(
            engine, headers={"authorization": "Bearer s3cret-ops"}) as client:
        await engine.store.write(_history)
        yield client


async def test_silences_in_force_come_first_then_those_that_ended_last(
        http: httpx.AsyncClient) -> None:
    body = (await http.get("/v1/silences?all=true")).json()
    ids = [silence["id"] for silence in body["silences"]]
    kept = [f"SIL-{number:08}" for number in range(ENDED - LISTING_LIMIT + 2, ENDED)]
    assert ids == ["SIL--0000001", *kept, "SIL-99999999"]  # by id, as before
    assert body["silences_omitted"] == ENDED + 2 - LISTING_LIMIT
    current = (await http.get("/v1/silences")).json()
    assert ([silence["id"] for silence in current["silences"]],
            current["silences_omitted"]) == (["SIL--0000001", "SIL-99999999"], 0)


async def test_a_limit_asks_for_fewer_or_more_and_a_bad_one_is_refused(
        http: httpx.AsyncClient) -> None:
    body = (await http.get("/v1/silences", params={"all": "true", "limit": "3"})).json()
    assert [silence["id"] for silence in body["silences"]] == [
        "SIL--0000001", f"SIL-{ENDED - 1:08}", "SIL-99999999"]
    assert body["silences_omitted"] == ENDED - 1
    every = (await http.get("/v1/silences", params={"all": "true", "limit": "500"})).json()
    assert (len(every["silences"]), every["silences_omitted"]) == (ENDED + 2, 0)
    for path in ("/v1/silences", "/v1/rotas/web/overrides", "/v1/jobs"):
        for bad in ("0", str(LISTING_MOST + 1), "ten"):
            refused = await http.get(path, params={"limit": bad})
            assert refused.status_code == 400, (path, bad)
            assert refused.json() == {
                "error": f"expected a whole number from 1 to {LISTING_MOST}", "field": "limit"}


async def test_overrides_keep_the_last_by_start_and_count_the_earlier(
        http: httpx.AsyncClient) -> None:
    body = (await http.get("/v1/rotas/web/overrides?all=true")).json()
    kept = [f"OVR-{number:08}" for number in range(ENDED - LISTING_LIMIT + 1, ENDED)]
    assert [override["id"] for override in body["overrides"]] == [*kept, "OVR-current"]
    assert body["overrides_omitted"] == ENDED + 1 - LISTING_LIMIT
    current = (await http.get("/v1/rotas/web/overrides")).json()
    assert ([override["id"] for override in current["overrides"]],
            current["overrides_omitted"]) == (["OVR-current"], 0)
    few = (await http.get("/v1/rotas/web/overrides?all=true&limit=2")).json()
    assert [override["id"] for override in few["overrides"]] == [
        f"OVR-{ENDED - 1:08}", "OVR-current"]
    assert (await http.get("/v1/rotas/nope/overrides")).status_code == 404


async def test_jobs_keep_the_config_s_then_the_first_by_id_and_count_the_rest(
        http: httpx.AsyncClient) -> None:
    body = (await http.get("/v1/jobs")).json()
    kept = [f"nightly-{number:04}" for number in range(LISTING_LIMIT - 1)]
    assert [job["id"] for job in body["jobs"]] == ["backup", *kept]
    assert body["jobs_omitted"] == ENDED + 1 - LISTING_LIMIT
    few = (await http.get("/v1/jobs?limit=2")).json()
    assert ([job["id"] for job in few["jobs"]], few["jobs_omitted"]) == (
        ["backup", "nightly-0000"], ENDED - 1)


async def test_alertmanager_s_listing_keeps_its_shape_and_every_silence(
        http: httpx.AsyncClient) -> None:
    answer = (await http.get("/api/v2/silences")).json()
    assert isinstance(answer, list)
    assert len(answer) == ENDED + 2
