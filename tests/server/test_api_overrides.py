"""Run-time overrides over real loopback HTTP to an in-process server on a real SQLite store:
add, list and remove, each failed check a 400 naming its field, and every on-call answer of
the API (who is on call, shifts, calendars, fatigue) and the socket's get_on_call applying
them."""

from __future__ import annotations

import json
import textwrap
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import icalendar
import pytest

from router.clock import FixedClock
from router.config import load_config
from router.engine import Engine
from router.server.messages import answer
from router.store import Store
from tests.server.support import api_client

CONFIG = """
settings:
  timezone: Europe/Berlin
  ingest_tokens: [{name: ops, token: s3cret-ops}]
people:
  - {id: ann, contact_methods: [{type: email, address: ann@example.com, urgency: high}]}
  - {id: ben, contact_methods: [{type: email, address: ben@example.com, urgency: high}]}
  - {id: cy, contact_methods: [{type: email, address: cy@example.com, urgency: high}]}
channels:
  - {id: mail, type: email, host: localhost, from: router@example.com}
rotas:
  - id: web
    layers: [{members: [ann, ben], every: 1d, handoff: "09:00", start: 2026-11-01}]
escalation_policies:
  - {id: web, levels: [{targets: [{rota: web}], delay: 5m}]}
services:
  - {id: shop, escalation_policy: web}
routes:
  - service: shop
"""
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # 13:00 Berlin: ann's turn (day 22)
OPS = {"authorization": "Bearer s3cret-ops"}
COVER = {"person": "cy", "replaces": "ann", "from": "2026-11-23T13:00",
         "until": "2026-11-23T17:00", "reason": "ann at the dentist", "created_by": "ben"}


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    (tmp_path / "config.yaml").write_text(textwrap.dedent(CONFIG))
    store = await Store.open(tmp_path / "router.db")
    yield Engine(load_config([tmp_path / "config.yaml"]), store, FixedClock(NOW))
    await store.close()


@pytest.fixture
async def client(engine: Engine) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(engine, headers=OPS) as http:
        yield http


async def test_add_list_and_remove(client: httpx.AsyncClient) -> None:
    added = await client.post("/v1/rotas/web/overrides", json=COVER)
    assert added.status_code == 201
    override = added.json()
    assert override["id"].startswith("OVR-") and len(override["id"]) == 12
    assert {key: value for key, value in override.items() if key != "id"} == {
        "state": "active", "rota": "web", "person": "cy", "replaces": "ann",
        "from": "2026-11-23T12:00:00+00:00", "until": "2026-11-23T16:00:00+00:00",
        "reason": "ann at the dentist", "created_by": "ben",
        "created_at": "2026-11-23T12:00:00+00:00", "removed_at": None, "warnings": []}
    listed = await client.get("/v1/rotas/web/overrides")
    del override["warnings"]  # the answer to the POST only
    assert listed.json() == {"overrides": [override], "overrides_omitted": 0}
    removed = await client.delete(f"/v1/overrides/{override['id']}")
    assert removed.status_code == 200
    assert (removed.json()["state"], removed.json()["removed_at"]) == (
        "removed", "2026-11-23T12:00:00+00:00")
    assert (await client.get("/v1/rotas/web/overrides")).json() == {
        "overrides": [], "overrides_omitted": 0}
    history = await client.get("/v1/rotas/web/overrides", params={"all": "true"})
    assert [item["state"] for item in history.json()["overrides"]] == ["removed"]
    again = await client.delete(f"/v1/overrides/{override['id']}")
    assert (again.status_code, again.json()) == (
        404, {"error": f"no override {override['id']} in force or to come"})
    unknown = await client.get("/v1/rotas/nope/overrides")
    assert (unknown.status_code, unknown.json()) == (404, {"error": "no rota 'nope'"})


@pytest.mark.parametrize(("path", "body", "field", "message"), [
    ("/v1/rotas/nope/overrides", COVER, "rota", "no rota 'nope' (known: web)"),
    ("/v1/rotas/web/overrides", {**COVER, "person": "zed"}, "person",
     "no person 'zed' (known: ann, ben, cy)"),
    ("/v1/rotas/web/overrides", {key: value for key, value in COVER.items()
                                 if key != "person"}, "person", "is required"),
    ("/v1/rotas/web/overrides", {**COVER, "replaces": 7}, "replaces", "expected text"),
    ("/v1/rotas/web/overrides", {**COVER, "from": "2026-11-23T15:00",
                                 "until": "2026-11-23T14:00"}, "until",
     "must be after from (2026-11-23T14:00:00+00:00), got 2026-11-23T13:00:00+00:00"),
    ("/v1/rotas/web/overrides", {**COVER, "until": "2026-11-23T12:00"}, "until",
     "2026-11-23T11:00:00+00:00 is already past: an override must end in the future"),
    ("/v1/rotas/web/overrides", {**COVER, "from": "soon"}, "from",
     "expected a date and time such as 2026-12-24T09:00 or 2026-12-24T09:00:00+01:00, "
     "got 'soon'"),
    ("/v1/rotas/web/overrides", {**COVER, "reason": ""}, "reason",
     "say why: an override needs a reason"),
    ("/v1/rotas/web/overrides", {**COVER, "replaces": "cy"}, "replaces",
     "'cy' cannot stand in for themselves"),
    ("/v1/rotas/web/overrides", [COVER], "", "expected a JSON object"),
])
async def test_a_failed_check_is_a_400_naming_the_field(
        client: httpx.AsyncClient, path: str, body: Any, field: str, message: str) -> None:
    refused = await client.post(path, json=body)
    assert (refused.status_code, refused.json()) == (400, {"error": message, "field": field})
    listed = await client.get("/v1/rotas/web/overrides", params={"all": "true"})
    assert listed.json() == {"overrides": [], "overrides_omitted": 0}


async def test_overrides_need_the_token(client: httpx.AsyncClient) -> None:
    refused = await client.post("/v1/rotas/web/overrides", json=COVER,
                                headers={"authorization": "Bearer wrong"})
    assert refused.status_code == 401


async def test_replacing_someone_not_on_call_then_is_added_with_a_warning(
        client: httpx.AsyncClient) -> None:
    added = await client.post("/v1/rotas/web/overrides", json=COVER | {"replaces": "ben"})
    assert added.status_code == 201
    assert added.json()["warnings"] == [
        "'ben' is not on call in rota 'web' from 2026-11-23T12:00:00+00:00 to "
        "2026-11-23T16:00:00+00:00 (ann is): this override changes nothing unless the rota "
        "or its overrides change"]
    listed = await client.get("/v1/rotas/web/overrides")
    assert [item["replaces"] for item in listed.json()["overrides"]] == ["ben"]


async def test_every_on_call_answer_applies_them(client: httpx.AsyncClient,
                                                 engine: Engine) -> None:
    assert (await client.post("/v1/rotas/web/overrides", json=COVER)).status_code == 201
    [rota] = (await client.get("/v1/oncall", params={"team": "shop"})).json()["rotas"]
    assert rota["on_call"] == {"person": "cy", "start": "2026-11-23T12:00:00+00:00",
                               "end": "2026-11-23T16:00:00+00:00", "layer": "override"}
    assert rota["next"]["person"] == "ann"
    shifts = await client.get("/v1/rotas/web/shifts", params={
        "from": "2026-11-23T08:00:00Z", "until": "2026-11-24T08:00:00Z"})
    assert [(shift["person"], shift["start"]) for shift in shifts.json()["shifts"]] == [
        ("ann", "2026-11-23T08:00:00+00:00"), ("cy", "2026-11-23T12:00:00+00:00"),
        ("ann", "2026-11-23T16:00:00+00:00")]
    calendar = await client.get("/v1/people/cy.ics")
    [event] = icalendar.Calendar.from_ical(calendar.content).walk("VEVENT")
    assert (event.decoded("dtstart"), event.decoded("dtend")) == (
        datetime(2026, 11, 23, 12, tzinfo=UTC), datetime(2026, 11, 23, 16, tzinfo=UTC))
    rota_calendar = await client.get("/v1/rotas/web.ics")
    summaries = [str(item["summary"]) for item
                 in icalendar.Calendar.from_ical(rota_calendar.content).walk("VEVENT")]
    assert "On call: cy" in summaries
    fatigue = await client.get("/v1/fatigue", params={
        "from": "2026-11-23T08:00:00Z", "until": "2026-11-24T08:00:00Z"})
    hours = {item["person"]: item["hours"] for item in fatigue.json()["people"]}
    assert hours == {"ann": 20.0, "ben": 0.0, "cy": 4.0}
    reply = await answer(engine, json.dumps({"src": "c", "dest": "router", "body": {
        "type": "get_on_call", "msg_id": 1, "team": "shop"}}).encode())
    assert reply["body"] == {"type": "on_call", "in_reply_to": 1, "team": "shop",
                             "on_call": "cy", "until": "2026-11-23T16:00:00Z"}
