"""`POST /v1/ingest` (the format detected from the payload) and `POST /v1/ingest/{format}`,
over real loopback HTTP to an in-process server on a real SQLite store."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from router.engine import Engine
from tests.alerts.formats import example
from tests.server.support import api_client, engine_on_disk

CONFIG = """
settings:
  TOKENS
people:
  - {id: ann}
escalation_policies:
  - {id: web, levels: [{targets: [{person: ann}], delay: 5m}]}
services:
  - {id: shop, escalation_policy: web}
routes:
  - service: shop
"""
TOKENS = """ingest_tokens:
    - {name: zabbix, token: t-zabbix, sources: [zabbix]}
    - {name: senders, token: t-ingest, scopes: [ingest]}
"""
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
JSON = {"content-type": "application/json"}

Client = Callable[..., AbstractAsyncContextManager[tuple[Engine, httpx.AsyncClient]]]


@pytest.fixture
def serve(tmp_path: Path) -> Client:
    @asynccontextmanager
    async def open_client(*, tokens: bool = False) -> AsyncIterator[
            tuple[Engine, httpx.AsyncClient]]:
        config = CONFIG.replace("TOKENS\n", TOKENS if tokens else "timezone: UTC\n")
        async with engine_on_disk(tmp_path, config, NOW) as engine, api_client(
                engine, headers=JSON) as http:
            yield engine, http
    return open_client


def body(name: str) -> bytes:
    return json.dumps(example(name)).encode()


@pytest.mark.parametrize(("file", "chosen"), [
    ("zabbix_problem.json", "zabbix"), ("new_relic_classic.json", "new_relic"),
    ("new_relic_workflow.json", "new_relic"), ("opsgenie_create.json", "opsgenie"),
    ("pagerduty_webhook_v3.json", "pagerduty_webhook"),
    ("pagerduty_webhook_v2.json", "pagerduty_webhook"), ("grafana.json", "grafana"),
    ("alertmanager_firing.json", "alertmanager"), ("datadog_triggered.json", "datadog"),
    ("native_single.json", "native"), ("alertmanager_v2_firing.json", "alertmanager_v2")])
async def test_the_answer_names_the_format_detected(serve: Client, file: str,
                                                    chosen: str) -> None:
    async with serve() as (engine, http):
        answer = await http.post("/v1/ingest", content=body(file))
        assert answer.status_code == 202, answer.text
        assert answer.json()["format"] == chosen
        assert answer.json()["incidents"]
        opened = await engine.incidents(states=["triggered"], service=None,
                                        since=datetime.min.replace(tzinfo=UTC), limit=10)
        assert {incident.source for incident in opened} == {chosen}


async def test_a_zabbix_recovery_resolves_what_its_problem_opened(serve: Client) -> None:
    async with serve() as (_, http):
        opened = (await http.post("/v1/ingest", content=body("zabbix_problem.json"))).json()
        resolved = (await http.post("/v1/ingest", content=body("zabbix_recovery.json"))).json()
        assert opened["incidents"][0]["incident_id"] == resolved["incidents"][0]["incident_id"]
        assert resolved["incidents"][0]["action"] == "resolved"


async def test_a_payload_no_format_accepts_is_a_400_listing_what_each_looked_for(
        serve: Client) -> None:
    async with serve() as (_, http):
        answer = await http.post("/v1/ingest", json={"hello": "world"})
    assert answer.status_code == 400
    found = answer.json()
    assert (found["error"], found["field"]) == ("no format accepts this payload", "")
    looked_for = {item["format"]: item["looks_for"] for item in found["formats"]}
    assert looked_for["pagerduty_webhook"] == "event.event_type (V3), or a messages list (V2)"
    assert found["formats"][-1]["format"] == "generic"


async def test_the_chosen_formats_refusal_names_the_format_and_field(serve: Client) -> None:
    async with serve() as (_, http):
        document: dict[str, Any] = example("zabbix_problem.json") | {"event_value": "9"}
        answer = await http.post("/v1/ingest", json=document)
    assert answer.status_code == 400
    assert answer.json()["format"] == "zabbix"
    assert answer.json()["field"] == "event_value"


async def test_a_named_format_is_used_whatever_the_payload_looks_like(serve: Client) -> None:
    async with serve() as (_, http):
        forced = await http.post("/v1/ingest/zabbix", content=body("opsgenie_create.json"))
        assert (forced.status_code, forced.json()["field"]) == (400, "trigger_name")
        accepted = await http.post("/v1/ingest/generic", json={"title": "Backup failed"})
        assert (accepted.status_code, accepted.json()["format"]) == (202, "generic")
        unknown = await http.post("/v1/ingest/nagios", json={})
    assert unknown.status_code == 404
    assert "expected one of:" in unknown.json()["error"]


async def test_a_token_limited_to_sources_posts_only_those_when_detected(
        serve: Client) -> None:
    async with serve(tokens=True) as (engine, http):
        zabbix = {"authorization": "Bearer t-zabbix"}
        allowed = await http.post("/v1/ingest", content=body("zabbix_problem.json"),
                                  headers=zabbix)
        refused = await http.post("/v1/ingest", content=body("opsgenie_create.json"),
                                  headers=zabbix)
        anyone = await http.post("/v1/ingest", content=body("opsgenie_create.json"),
                                 headers={"authorization": "Bearer t-ingest"})
        opened = await engine.incidents(states=["triggered"], service=None,
                                        since=datetime.min.replace(tzinfo=UTC), limit=10)
    assert allowed.status_code == 202, allowed.text
    assert (refused.status_code, refused.json()) == (
        403, {"error": "token 'zabbix' may not post opsgenie alerts"})
    assert anyone.status_code == 202, anyone.text
    assert sorted(incident.source for incident in opened) == ["opsgenie", "zabbix"]


STATIC = [("alertmanager", "alertmanager_firing.json"), ("grafana", "grafana.json"),
          ("datadog", "datadog_triggered.json")]
"""The formats with a path of their own, which `/v1/ingest/{format}` would name too."""


@pytest.mark.parametrize(("name", "file"), STATIC)
async def test_a_format_s_own_path_answers_as_detection_does(serve: Client, name: str,
                                                             file: str) -> None:
    """`/v1/ingest/alertmanager` is `/v1/ingest/{format}` with the format named: the answer
    names the format, as detection's does for the same body."""
    async with serve() as (_, http):
        detected = await http.post("/v1/ingest", content=body(file))
        named = await http.post(f"/v1/ingest/{name}", content=body(file))
    assert (detected.status_code, named.status_code) == (202, 202), named.text
    assert detected.json()["format"] == name
    assert named.json() == {**detected.json(), "incidents": [
        {**item, "action": "updated"} for item in detected.json()["incidents"]]}


@pytest.mark.parametrize(("name", "file"), STATIC)
async def test_a_format_s_own_path_refuses_as_every_named_format(serve: Client, name: str,
                                                                 file: str) -> None:
    """A body the format refuses is a 400 naming the field, as `/v1/ingest/zabbix` answers;
    a token limited to other sources is refused as detection refuses it."""
    async with serve() as (_, http):
        zabbix = await http.post("/v1/ingest/zabbix", content=body("opsgenie_create.json"))
        refused = await http.post(f"/v1/ingest/{name}", content=b"[1]")
    assert zabbix.json().keys() == refused.json().keys() == {"error", "field"}
    assert refused.status_code == 400
    async with serve(tokens=True) as (_, http):
        headers = {"authorization": "Bearer t-zabbix"}
        named = await http.post(f"/v1/ingest/{name}", content=body(file), headers=headers)
        detected = await http.post("/v1/ingest", content=body(file), headers=headers)
    assert (named.status_code, named.json()) == (detected.status_code, detected.json()) == (
        403, {"error": f"token 'zabbix' may not post {name} alerts"})
