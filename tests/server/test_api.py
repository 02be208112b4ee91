"""The HTTP API's on-call, auth and error answers, over real loopback HTTP to an in-process
server on a real SQLite store (the daemon-as-subprocess tests are in tests/e2e/)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import icalendar
import pytest

from tests.server.support import api_client, engine_on_disk

CONFIG = """
settings:
  timezone: Europe/Berlin
  generic_webhooks:
    - {name: checks, summary: title, severity: level, labels: {host: target}}
  ingest_tokens:
    - {name: prometheus, token: s3cret-prom, sources: [alertmanager_v2]}
    - {name: ops, token: s3cret-ops}
people:
  - id: ann
    timezone: Europe/Berlin
    contact_methods: [{type: email, address: ann@example.com}]
  - {id: ben, timezone: Europe/Berlin}
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


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with engine_on_disk(tmp_path, CONFIG, NOW) as engine, api_client(engine) as http:
        yield http


async def test_oncall_answers_who_until_when_and_who_is_next(
        client: httpx.AsyncClient) -> None:
    answer = await client.get("/v1/oncall", params={"team": "shop"}, headers=OPS)
    assert answer.status_code == 200
    [rota] = answer.json()["rotas"]
    assert rota["on_call"] == {"person": "ann", "start": "2026-11-23T08:00:00+00:00",
                               "end": "2026-11-24T08:00:00+00:00", "layer": "layer 1"}
    assert rota["next"]["person"] == "ben"


async def test_shifts_ics_and_fatigue(client: httpx.AsyncClient) -> None:
    shifts = await client.get("/v1/rotas/web/shifts", headers=OPS, params={
        "from": "2026-11-23T08:00:00Z", "until": "2026-11-25T08:00:00Z"})
    assert [shift["person"] for shift in shifts.json()["shifts"]] == ["ann", "ben"]
    calendar = await client.get("/v1/rotas/web.ics", headers=OPS)
    assert calendar.headers["content-type"] == "text/calendar; charset=utf-8"
    events = icalendar.Calendar.from_ical(calendar.content).walk("VEVENT")
    assert len(events) > 50
    person = await client.get("/v1/people/ben.ics", headers=OPS)
    own = icalendar.Calendar.from_ical(person.content).walk("VEVENT")
    assert {str(event["SUMMARY"]) for event in own} == {"On call: web"}
    assert len(own) in (len(events) // 2, (len(events) + 1) // 2)  # every other day
    fatigue = await client.get("/v1/fatigue", headers=OPS, params={
        "from": "2026-11-23T08:00:00Z", "until": "2026-11-30T08:00:00Z"})
    hours = {item["person"]: item["hours"] for item in fatigue.json()["people"]}
    assert hours == {"ann": 96.0, "ben": 72.0}


@pytest.mark.parametrize(("start", "end", "hours", "offsets"), [
    ("2027-03-28", "2027-03-29", 23.0, ("+01:00", "+02:00")),  # clocks go forward
    ("2027-10-31", "2027-11-01", 25.0, ("+02:00", "+01:00")),  # and back
    ("2027-10-31T01:00", "2027-10-31T04:00", 4.0, ("+02:00", "+01:00")),
])
async def test_fatigue_reads_bare_dates_and_times_in_the_settings_timezone(
        client: httpx.AsyncClient, start: str, end: str, hours: float,
        offsets: tuple[str, str]) -> None:
    """As `router fatigue --from` does (tests/cli/test_oncall.py): a day is the local day
    of settings.timezone (Europe/Berlin here), not UTC's."""
    answer = await client.get("/v1/fatigue", headers=OPS, params={"from": start, "until": end})
    assert answer.status_code == 200, answer.text
    window = answer.json()
    assert (datetime.fromisoformat(window["from"]).utcoffset(),
            datetime.fromisoformat(window["until"]).utcoffset()) == (
        datetime.fromisoformat(f"2000-01-01T00:00{offsets[0]}").utcoffset(),
        datetime.fromisoformat(f"2000-01-01T00:00{offsets[1]}").utcoffset())
    assert datetime.fromisoformat(window["from"]).replace(tzinfo=None) == \
        datetime.fromisoformat(start)
    assert sum(person["hours"] for person in window["people"]) == hours


@pytest.mark.parametrize(("path", "status", "body"), [
    ("/v1/oncall?team=nope", 404, {"error": "no rota or service with id 'nope'"}),
    ("/v1/rotas/nope/shifts", 404, {"error": "no rota with id 'nope'"}),
    ("/v1/people/nope.ics", 404, {"error": "no person with id 'nope'"}),
    ("/v1/oncall?at=yesterday", 400,
     {"error": "expected a date and time such as 2026-12-24T09:00 or "
               "2026-12-24T09:00:00+01:00, got 'yesterday'", "field": "at"}),
    ("/v1/fatigue?from=2026-11-02T00:00Z&until=2026-11-01T00:00Z", 400,
     {"error": "must be after from", "field": "until"}),
    ("/v1/incidents?state=open", 400, {"error": "unknown state 'open'; expected triggered, "
                                                "acknowledged or resolved", "field": "state"}),
])
async def test_bad_queries_get_a_clear_error(client: httpx.AsyncClient, path: str,
                                             status: int, body: dict[str, str]) -> None:
    answer = await client.get(path, headers=OPS)
    assert (answer.status_code, answer.json()) == (status, body)


async def test_tokens_guard_every_endpoint_but_health(client: httpx.AsyncClient) -> None:
    alert = {"summary": "Disk full", "labels": {"host": "db1"}}
    assert (await client.post("/v1/alerts", json=alert)).status_code == 401
    wrong = {"authorization": "Bearer nope"}
    assert (await client.post("/v1/alerts", json=alert, headers=wrong)).status_code == 401
    prometheus = {"authorization": "Bearer s3cret-prom"}
    assert (await client.post("/v1/alerts", json=alert, headers=prometheus)).status_code == 403
    assert (await client.get("/v1/incidents", headers=OPS)).json() == {"incidents": []}
    accepted = await client.post("/v1/alerts", json=alert, headers=OPS)
    assert accepted.status_code == 202
    assert accepted.json()["incidents"][0]["incident_id"] == "INC1"
    v2 = [{"labels": {"alertname": "Up"}, "startsAt": "2026-11-23T11:00:00Z"}]
    assert (await client.post("/api/v2/alerts", json=v2, headers=prometheus)).status_code == 200
    assert (await client.get("/v1/oncall")).status_code == 401
    # a sender's token may post its alerts and nothing else
    assert (await client.get("/v1/incidents", headers=prometheus)).status_code == 403
    assert (await client.post("/v1/incidents/INC1/acknowledge",
                              headers=prometheus)).status_code == 403
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).status_code == 200


async def test_pagerduty_needs_a_known_routing_key_when_tokens_are_set(
        client: httpx.AsyncClient) -> None:
    event = {"routing_key": "R" * 32, "event_action": "trigger",
             "payload": {"summary": "x", "source": "db1", "severity": "error"}}
    answer = await client.post("/v2/enqueue", json=event)
    assert answer.status_code == 400
    assert answer.json()["errors"] == ["Invalid routing key"]


async def test_fatigue_counts_the_pages_each_person_received(
        client: httpx.AsyncClient) -> None:
    for host in ("db1", "db2"):
        alert = {"summary": "Disk full", "severity": "critical", "labels": {"host": host}}
        assert (await client.post("/v1/alerts", json=alert, headers=OPS)).status_code == 202
    fatigue = await client.get("/v1/fatigue", headers=OPS, params={
        "from": "2026-11-23T00:00:00Z", "until": "2026-11-24T00:00:00Z"})
    pages = {item["person"]: (item["pages"], item["night_pages"])
             for item in fatigue.json()["people"]}
    assert pages == {"ann": (2, 0), "ben": (0, 0)}  # 13:00 in Berlin is not night


async def test_a_generic_webhook_is_read_by_its_declared_mapping(
        client: httpx.AsyncClient) -> None:
    check = {"title": "Ping failed", "level": "critical", "target": "db1"}
    answer = await client.post("/v1/ingest/generic/checks", json=check, headers=OPS)
    assert answer.status_code == 202
    detail = await client.get(f"/v1/incidents/{answer.json()['incidents'][0]['incident_id']}",
                              headers=OPS)
    incident = detail.json()["incident"]
    assert (incident["summary"], incident["severity"], incident["source"]) == (
        "Ping failed", "critical", "generic:checks")
    assert incident["labels"] == {"host": "db1"}
    missing = await client.post("/v1/ingest/generic/checks", json={"level": "error"},
                                headers=OPS)
    assert (missing.status_code, missing.json()) == (400, {"error": "is required",
                                                           "field": "title"})
    unknown = await client.post("/v1/ingest/generic/nope", json=check, headers=OPS)
    assert unknown.json() == {"error": "no generic webhook 'nope' in settings"}
