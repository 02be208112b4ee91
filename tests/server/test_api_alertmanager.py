"""Alertmanager's API v2 reads and silences over real loopback HTTP to an in-process server on
a real SQLite store: each endpoint's shape as Alertmanager's OpenAPI spec gives it, its
errors (400 with a JSON string naming the field, 404 for an unknown silence), and silences
shared with router's own `/v1/silences`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from router.alerts.formats.alertmanager import fingerprint
from tests.server.support import api_client, engine_on_disk

CONFIG = """
settings:
  timezone: UTC
  ingest_tokens: [{name: ops, token: s3cret-ops}, {name: dash, token: s3cret-dash, scopes: [read]}]
people:
  - {id: ann, contact_methods: [{type: email, address: ann@example.com}]}
channels:
  - {id: mail, type: email, host: localhost, from: router@example.com, to: [ops@example.com]}
  - {id: log, type: log}
rotas:
  - id: web
    layers: [{members: [ann], every: 1d, handoff: "09:00", start: 2026-11-01}]
escalation_policies:
  - {id: web, levels: [{targets: [{rota: web}], delay: 5m}]}
services:
  - {id: shop, escalation_policy: web, channels: [mail, log]}
routes:
  - service: shop
"""
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
OPS = {"authorization": "Bearer s3cret-ops"}
DISK = {"labels": {"alertname": "DiskFull", "instance": "db1"},
        "annotations": {"summary": "Disk full on db1"}}
LOAD = {"labels": {"alertname": "HighLoad", "instance": "web1"},
        "annotations": {"summary": "Load is high"}}
SILENCE = {"matchers": [{"name": "alertname", "value": "HighLoad", "isRegex": False}],
           "startsAt": "2026-11-23T12:00:00Z", "endsAt": "2026-11-23T14:00:00Z",
           "createdBy": "ann", "comment": "tuning the web pool"}


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with (engine_on_disk(tmp_path, CONFIG, NOW) as engine,
                api_client(engine, headers=OPS) as http):
        yield http


async def add_silence(client: httpx.AsyncClient, **changes: Any) -> str:
    answer = await client.post("/api/v2/silences", json={**SILENCE, **changes})
    assert answer.status_code == 200, answer.text
    assert list(answer.json()) == ["silenceID"]
    silence_id: str = answer.json()["silenceID"]
    return silence_id


async def test_status_has_the_config_without_inline_secrets(
        client: httpx.AsyncClient, tmp_path: Path) -> None:
    status = (await client.get("/api/v2/status")).json()
    assert status["cluster"] == {"status": "disabled", "peers": []}
    assert status["versionInfo"]["version"] == "0.1.0"
    assert set(status["versionInfo"]) == {"version", "revision", "branch", "buildUser",
                                          "buildDate", "goVersion"}
    started = datetime.fromisoformat(status["uptime"])  # the start instant, by the engine's clock
    assert NOW - timedelta(seconds=30) < started <= NOW
    original = status["config"]["original"]
    assert original.startswith(f"# {tmp_path / 'config.yaml'}\n")
    assert "  - {id: shop, escalation_policy: web, channels: [mail, log]}\n" in original
    assert "s3cret-ops" not in original and "s3cret-dash" not in original
    assert "\n  ingest_tokens: <secret>" in original


async def test_status_shows_the_config_to_admin_tokens_only(client: httpx.AsyncClient) -> None:
    """A dashboard's read token sees no config text: a secret may be written inline."""
    status = await client.get("/api/v2/status", headers={"authorization": "Bearer s3cret-dash"})
    assert status.status_code == 200
    assert status.json()["config"] == {"original": ""}


async def test_receivers_are_the_channels(client: httpx.AsyncClient) -> None:
    answer = await client.get("/api/v2/receivers")
    assert answer.json() == [{"name": "log"}, {"name": "mail"}]


async def test_a_silence_added_here_is_one_of_routers(client: httpx.AsyncClient) -> None:
    silence_id = await add_silence(client, matchers=[
        {"name": "alertname", "value": "HighLoad", "isRegex": False},
        {"name": "instance", "value": "db1", "isRegex": False, "isEqual": False},
        {"name": "job", "value": "node.*", "isRegex": True},
        {"name": "env", "value": "stag.*", "isRegex": True, "isEqual": False}])
    own = (await client.get("/v1/silences")).json()["silences"]
    assert [(item["id"], item["matchers"], item["reason"], item["created_by"])
            for item in own] == [(silence_id, [
                {"name": "alertname", "operator": "=", "value": "HighLoad"},
                {"name": "instance", "operator": "!=", "value": "db1"},
                {"name": "job", "operator": "=~", "value": "node.*"},
                {"name": "env", "operator": "!~", "value": "stag.*"}],
                "tuning the web pool", "ann")]
    shown = (await client.get(f"/api/v2/silence/{silence_id}")).json()
    assert shown == {
        "id": silence_id, "status": {"state": "active"},
        "updatedAt": "2026-11-23T12:00:00+00:00",
        "matchers": [
            {"name": "alertname", "value": "HighLoad", "isRegex": False, "isEqual": True},
            {"name": "instance", "value": "db1", "isRegex": False, "isEqual": False},
            {"name": "job", "value": "node.*", "isRegex": True, "isEqual": True},
            {"name": "env", "value": "stag.*", "isRegex": True, "isEqual": False}],
        "startsAt": "2026-11-23T12:00:00+00:00", "endsAt": "2026-11-23T14:00:00+00:00",
        "createdBy": "ann", "comment": "tuning the web pool"}
    assert (await client.get("/api/v2/silences")).json() == [shown]


async def test_silences_filter(client: httpx.AsyncClient) -> None:
    load = await add_silence(client)
    disk = await add_silence(client, matchers=[
        {"name": "alertname", "value": "DiskFull", "isRegex": False}])
    found = await client.get("/api/v2/silences", params={"filter": 'alertname="DiskFull"'})
    assert [item["id"] for item in found.json()] == [disk]
    found = await client.get("/api/v2/silences", params={"filter": "alertname=~High.*"})
    assert [item["id"] for item in found.json()] == [load]


async def test_expire_and_unknown_silences(client: httpx.AsyncClient) -> None:
    silence_id = await add_silence(client)
    expired = await client.delete(f"/api/v2/silence/{silence_id}")
    assert (expired.status_code, expired.content) == (200, b"")
    shown = (await client.get(f"/api/v2/silence/{silence_id}")).json()
    assert shown["status"] == {"state": "expired"}
    again = await client.delete(f"/api/v2/silence/{silence_id}")
    assert again.status_code == 404
    assert again.json() == f"silence {silence_id} not found"
    assert (await client.get("/api/v2/silence/SIL-00000000")).status_code == 404
    assert (await client.get("/v1/silences")).json()["silences"] == []


async def test_posting_a_silence_with_an_id_replaces_it(client: httpx.AsyncClient) -> None:
    first = await add_silence(client)
    second = await add_silence(client, id=first, comment="longer")
    assert second != first
    states = {item["id"]: (item["status"]["state"], item["comment"])
              for item in (await client.get("/api/v2/silences")).json()}
    assert states == {first: ("expired", "tuning the web pool"), second: ("active", "longer")}
    unknown = await client.post("/api/v2/silences", json={**SILENCE, "id": "SIL-00000000"})
    assert unknown.status_code == 404


@pytest.mark.parametrize(("changes", "error"), [
    ({"comment": ""}, "reason: say why: a silence needs a reason"),
    ({"createdBy": ""}, "createdBy: creator information missing"),
    ({"matchers": []}, "matchers: expected a non-empty list of matchers"),
    ({"matchers": [{"name": "job", "value": "(", "isRegex": True}]},
     "matchers[0].value: bad regex '(': missing ), unterminated subpattern at position 0"),
    ({"matchers": [{"name": "job", "value": "x"}]},
     "matchers[0].isRegex: expected isRegex (and isEqual) true or false"),
    ({"endsAt": "tomorrow"}, "endsAt: expected an RFC 3339 date-time, got 'tomorrow'"),
    ({"endsAt": "2026-11-23T11:00:00Z"},
     "ends_at: must be after the start (2026-11-23T12:00:00+00:00)"),
])
async def test_bad_silences_are_a_400_naming_the_field(
        client: httpx.AsyncClient, changes: dict[str, Any], error: str) -> None:
    answer = await client.post("/api/v2/silences", json={**SILENCE, **changes})
    assert (answer.status_code, answer.json()) == (400, error)
    assert (await client.get("/v1/silences")).json()["silences"] == []


async def post_alerts(client: httpx.AsyncClient) -> None:
    await add_silence(client)  # HighLoad arrives silenced
    answer = await client.post("/api/v2/alerts", json=[DISK, LOAD])
    assert answer.status_code == 200, answer.text


async def test_alerts_as_alertmanager_shows_them(client: httpx.AsyncClient) -> None:
    await post_alerts(client)
    silence_id = (await client.get("/api/v2/silences")).json()[0]["id"]
    alerts = (await client.get("/api/v2/alerts")).json()
    assert alerts == [
        {"labels": DISK["labels"], "annotations": DISK["annotations"],
         "startsAt": "2026-11-23T12:00:00+00:00", "endsAt": "2026-11-23T12:05:00+00:00",
         "updatedAt": "2026-11-23T12:00:00+00:00", "fingerprint": fingerprint(DISK["labels"]),
         "receivers": [{"name": "mail"}, {"name": "log"}],
         "status": {"state": "active", "silencedBy": [], "inhibitedBy": []}},
        {"labels": LOAD["labels"], "annotations": LOAD["annotations"],
         "startsAt": "2026-11-23T12:00:00+00:00", "endsAt": "2026-11-23T12:05:00+00:00",
         "updatedAt": "2026-11-23T12:00:00+00:00", "fingerprint": fingerprint(LOAD["labels"]),
         "receivers": [{"name": "mail"}, {"name": "log"}],
         "status": {"state": "suppressed", "silencedBy": [silence_id], "inhibitedBy": []}}]
    assert alerts[0]["fingerprint"] == "353eae6a3b60c986"  # what Alertmanager 0.25 answered


@pytest.mark.parametrize(("params", "names"), [
    ({"silenced": "false"}, ["DiskFull"]),
    ({"active": "false"}, ["HighLoad"]),
    ({"filter": 'alertname="HighLoad"'}, ["HighLoad"]),
    ({"filter": ["instance=~.*1", 'alertname!="HighLoad"']}, ["DiskFull"]),
    ({"filter": "{alertname=~\"Disk.*\"}"}, ["DiskFull"]),
    ({"receiver": "mail"}, ["DiskFull", "HighLoad"]),
    ({"receiver": "pager"}, []),
])
async def test_alert_query_parameters(client: httpx.AsyncClient, params: dict[str, Any],
                                      names: list[str]) -> None:
    await post_alerts(client)
    alerts = (await client.get("/api/v2/alerts", params=params)).json()
    assert [alert["labels"]["alertname"] for alert in alerts] == names


@pytest.mark.parametrize(("path", "params", "error"), [
    ("/api/v2/alerts", {"filter": "alertname"},
     "filter: bad matcher format: 'alertname'; expected name=\"value\" with one of "
     "= != =~ !~"),
    ("/api/v2/alerts/groups", {"filter": "job=~("},
     "filter: bad regex '(': missing ), unterminated subpattern at position 0"),
    ("/api/v2/silences", {"filter": 'job="x'},
     "filter: bad matcher value in 'job=\"x': an unterminated or badly escaped quoted value"),
    ("/api/v2/alerts", {"silenced": "maybe"}, "silenced: expected true or false, got 'maybe'"),
    ("/api/v2/alerts", {"receiver": "("},
     "receiver: bad regex '(': missing ), unterminated subpattern at position 0"),
])
async def test_bad_queries_are_a_400_naming_the_parameter(
        client: httpx.AsyncClient, path: str, params: dict[str, str], error: str) -> None:
    answer = await client.get(path, params=params)
    assert (answer.status_code, answer.json()) == (400, error)


async def test_groups_per_receiver(client: httpx.AsyncClient) -> None:
    await post_alerts(client)
    groups = (await client.get("/api/v2/alerts/groups", params={"silenced": "false"})).json()
    assert [(group["labels"], group["receiver"],
             [alert["labels"]["alertname"] for alert in group["alerts"]])
            for group in groups] == [({"service": "shop"}, {"name": "log"}, ["DiskFull"]),
                                     ({"service": "shop"}, {"name": "mail"}, ["DiskFull"])]


async def test_an_until_resolved_silence_over_both_apis(client: httpx.AsyncClient) -> None:
    """Issue 16 item 1: `untilResolved` (router's extension; Alertmanager's shape stays valid,
    `endsAt` the latest end) and `until_resolved` on POST /v1/silences (no end needed)."""
    assert (await client.post("/api/v2/alerts", json=[DISK, LOAD])).status_code == 200
    load = await add_silence(client, untilResolved=True)
    disk = (await client.post("/v1/silences", json={
        "matchers": [{"name": "alertname", "operator": "=", "value": "DiskFull"}],
        "reason": "swapping the disk", "until_resolved": True}))
    assert disk.status_code == 201, disk.text
    assert (disk.json()["until_resolved"], disk.json()["ends_at"]) == (
        ["INC1"], "9999-12-31T00:00:00+00:00")
    own = {item["id"]: item for item in (await client.get("/v1/silences")).json()["silences"]}
    assert own[load]["until_resolved"] == ["INC2"]
    assert own[load]["ends_at"] == "2026-11-23T14:00:00+00:00"
    shown = (await client.get(f"/api/v2/silence/{load}")).json()
    assert set(shown) == {"id", "status", "updatedAt", "matchers", "startsAt", "endsAt",
                          "createdBy", "comment"}
    resolved = await client.post("/v1/incidents/INC2/resolve")
    assert resolved.status_code == 200, resolved.text
    assert (await client.get(f"/api/v2/silence/{load}")).json()["status"] == {
        "state": "expired"}
    assert [item["id"] for item in (await client.get("/v1/silences")).json()["silences"]] \
        == [disk.json()["id"]]


@pytest.mark.parametrize(("path", "body", "message"), [
    ("/api/v2/silences", {**SILENCE, "untilResolved": "yes"},
     '"untilResolved: expected true or false"'),
    ("/api/v2/silences", {**SILENCE, "untilResolved": True},
     '"until_resolved: the silence covers no open incident: give it an end instead"'),
])
async def test_until_resolved_refuses_bad_values(client: httpx.AsyncClient, path: str,
                                                 body: dict[str, Any], message: str) -> None:
    answer = await client.post(path, json=body)
    assert (answer.status_code, answer.text) == (400, message)


async def test_an_inhibited_alert_shows_its_rule_and_the_inhibited_flag_hides_it(
        tmp_path: Path) -> None:
    rules = ("inhibit_rules:\n  - name: load-first\n"
             "    source_matchers: ['alertname=\"HighLoad\"']\n"
             "    target_matchers: ['alertname=\"DiskFull\"']\n")
    async with (engine_on_disk(tmp_path, CONFIG + rules, NOW) as engine,
                api_client(engine, headers=OPS) as client):
        assert (await client.post("/api/v2/alerts", json=[LOAD])).status_code == 200
        assert (await client.post("/api/v2/alerts", json=[DISK])).status_code == 200
        alerts = (await client.get("/api/v2/alerts")).json()
        assert [(alert["labels"]["alertname"], alert["status"]) for alert in alerts] == [
            ("HighLoad", {"state": "active", "silencedBy": [], "inhibitedBy": []}),
            ("DiskFull", {"state": "suppressed", "silencedBy": [],
                          "inhibitedBy": ["load-first"]})]
        shown = (await client.get("/api/v2/alerts", params={"inhibited": "false"})).json()
        assert [alert["labels"]["alertname"] for alert in shown] == ["HighLoad"]
        shown = (await client.get("/api/v2/alerts", params={"silenced": "false"})).json()
        assert [alert["labels"]["alertname"] for alert in shown] == ["HighLoad", "DiskFull"]
