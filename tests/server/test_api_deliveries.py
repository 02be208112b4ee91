"""`GET /v1/deliveries` and `POST /v1/channels/{id}/test` over real loopback HTTP to an
in-process server on a real SQLite store, with the daemon's deliverer sending channel tests to
a stand-in PagerDuty (the daemon-as-subprocess tests are in tests/e2e/test_delivery.py)."""

from __future__ import annotations

import dataclasses
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from router.clock import FixedClock
from router.config import load_config
from router.engine import Engine
from router.notify.deliver import Deliverer
from router.notify.transport import Transport
from router.server.api import build_routes
from router.server.http import serve_http
from router.store import Store
from router.store.outbox import Attempt
from tests.fakes import Answer
from tests.fakes.pagerduty import FakePagerDuty, serve_fake_pagerduty

ROUTING_KEY = "R0000000000000000000000000000001"
CONFIG = """
settings:
  timezone: UTC
  ingest_tokens:
    - {{name: prometheus, token: s3cret-prom, sources: [alertmanager_v2]}}
    - {{name: ops, token: s3cret-ops}}
channels:
  - {{id: log, type: log}}
  - {{id: pd, type: pagerduty, routing_key: {routing_key}, url: "{url}", timeout: 5s}}
services:
  - {{id: api, channels: [log]}}
routes:
  - service: api
"""
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
OPS = {"authorization": "Bearer s3cret-ops"}


def attempt(number: int | None, channel: str, try_number: int, outcome: str, minutes: int,
            status: int | None = None, error: str | None = None) -> Attempt:
    return Attempt(notification_id=f"n-{channel}-{number}", incident_number=number,
                   channel=channel, target=f"{channel} target", event="trigger",
                   attempt=try_number, attempted_at=NOW + timedelta(minutes=minutes),
                   outcome=outcome,  # type: ignore[arg-type]
                   status_code=status, latency_ms=3.5, error=error)


RECORDED = (  # oldest first
    attempt(1, "pd", 1, "retry", 0, 500, "PagerDuty answered 500"),
    attempt(1, "pd", 2, "delivered", 1, 202),
    attempt(1, "log", 1, "delivered", 2),
    attempt(2, "pd", 1, "failed", 3, 400, "PagerDuty refused the event (400)"),
    attempt(3, "log", 1, "delivered", 4),
)


@dataclass
class Api:
    http: httpx.AsyncClient
    pagerduty: FakePagerDuty
    store: Store

    async def logged(self) -> list[Attempt]:
        return await self.store.read(lambda reader: reader.outbox.attempts())


@asynccontextmanager
async def serve(tmp_path: Path, *, tester: bool = True) -> AsyncIterator[Api]:
    """A stand-in PagerDuty, a store holding RECORDED and the API on a free port; `tester`:
    whether channel tests are sent (the daemon's deliverer), as the daemon's API does."""
    async with trio.open_nursery() as nursery:
        pagerduty = await nursery.start(serve_fake_pagerduty)
        (tmp_path / "config.yaml").write_text(textwrap.dedent(CONFIG.format(
            routing_key=ROUTING_KEY, url=pagerduty.url)))
        store = await Store.open(tmp_path / "router.db")
        for item in RECORDED:
            retry_at = item.attempted_at + timedelta(seconds=5)
            await store.write(
                lambda transaction, item=item, retry_at=retry_at: transaction.outbox.record(
                    item, retry_at if item.outcome == "retry" else None))
        engine = Engine(load_config([tmp_path / "config.yaml"]), store, FixedClock(NOW))
        transport = Transport()
        deliverer = Deliverer(store, engine.clock, lambda: engine.snapshot.config, transport)
        shutdown = trio.Event()
        port = await nursery.start(partial(
            serve_http, build_routes(engine, deliverer if tester else None), port=0,
            shutdown=shutdown))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            yield Api(http, pagerduty, store)
        shutdown.set()
        await transport.aclose()
        await store.close()
        nursery.cancel_scope.cancel()


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with serve(tmp_path) as served:
        yield served


async def listed(api: Api, **query: str) -> list[tuple[str | None, str, int]]:
    answer = await api.http.get("/v1/deliveries", params=query, headers=OPS)
    assert answer.status_code == 200, answer.text
    return [(item["incident_id"], item["channel"], item["attempt"])
            for item in answer.json()["deliveries"]]


async def test_the_delivery_log_newest_first(api: Api) -> None:
    answer = await api.http.get("/v1/deliveries", headers=OPS)
    assert answer.status_code == 200
    found = answer.json()["deliveries"]
    assert [(item["incident_id"], item["channel"], item["attempt"]) for item in found] == [
        ("INC3", "log", 1), ("INC2", "pd", 1), ("INC1", "log", 1), ("INC1", "pd", 2),
        ("INC1", "pd", 1)]
    assert found[1] == {
        "notification_id": "n-pd-2", "incident_id": "INC2", "channel": "pd",
        "target": "pd target", "event": "trigger", "attempt": 1,
        "attempted_at": "2026-11-23T12:03:00+00:00", "outcome": "failed", "status_code": 400,
        "latency_ms": 3.5, "error": "PagerDuty refused the event (400)"}


@pytest.mark.parametrize(("query", "expected"), [
    ({"incident": "INC1"}, [("INC1", "log", 1), ("INC1", "pd", 2), ("INC1", "pd", 1)]),
    ({"incident": "1"}, [("INC1", "log", 1), ("INC1", "pd", 2), ("INC1", "pd", 1)]),
    ({"incident": "INC9"}, []),
    ({"failed": "true"}, [("INC2", "pd", 1)]),
    ({"failed": "1"}, [("INC2", "pd", 1)]),
    ({"failed": "TRUE"}, [("INC2", "pd", 1)]),
    ({"failed": "false"}, [("INC3", "log", 1), ("INC2", "pd", 1), ("INC1", "log", 1),
                           ("INC1", "pd", 2), ("INC1", "pd", 1)]),
    ({"channel": "log"}, [("INC3", "log", 1), ("INC1", "log", 1)]),
    ({"channel": "pd", "incident": "INC1"}, [("INC1", "pd", 2), ("INC1", "pd", 1)]),
    ({"channel": "pd", "failed": "true", "incident": "INC1"}, []),
    ({"limit": "2"}, [("INC3", "log", 1), ("INC2", "pd", 1)]),
    ({"limit": "1000"}, [("INC3", "log", 1), ("INC2", "pd", 1), ("INC1", "log", 1),
                         ("INC1", "pd", 2), ("INC1", "pd", 1)]),
])
async def test_filters(api: Api, query: dict[str, str],
                       expected: list[tuple[str, str, int]]) -> None:
    assert await listed(api, **query) == expected


@pytest.mark.parametrize(("query", "body"), [
    ("limit=0", {"error": "expected a whole number from 1 to 1000", "field": "limit"}),
    ("limit=1001", {"error": "expected a whole number from 1 to 1000", "field": "limit"}),
    ("limit=ten", {"error": "expected a whole number from 1 to 1000", "field": "limit"}),
    ("limit=-1", {"error": "expected a whole number from 1 to 1000", "field": "limit"}),
    ("failed=yes", {"error": "expected true or false", "field": "failed"}),
    ("failed=", {"error": "expected true or false", "field": "failed"}),
    ("incident=bogus", {"error": "expected an incident id like INC12, got 'bogus'",
                        "field": "incident"}),
    ("incident=INC1x", {"error": "expected an incident id like INC12, got 'INC1x'",
                        "field": "incident"}),
    ("incident=" + "9" * 19, {"error": f"expected an incident id like INC12, got "
                                       f"'{'9' * 19}'", "field": "incident"}),
])
async def test_bad_queries_are_400_naming_the_field(api: Api, query: str,
                                                    body: dict[str, str]) -> None:
    answer = await api.http.get(f"/v1/deliveries?{query}", headers=OPS)
    assert (answer.status_code, answer.json()) == (400, body)


async def test_a_channel_test_delivered_is_200_and_logged(api: Api) -> None:
    answer = await api.http.post("/v1/channels/pd/test", headers=OPS)
    assert answer.status_code == 200, answer.text
    document: dict[str, Any] = answer.json()
    assert (document["channel"], document["event"], document["incident_id"],
            document["attempt"], document["outcome"], document["status_code"],
            document["error"]) == ("pd", "test", None, 1, "delivered", 202, None)
    assert document["target"] == f"pagerduty 127.0.0.1:{api.pagerduty.port}"
    [event] = api.pagerduty.events
    assert event["dedup_key"] == f"router-test-{document['notification_id']}"
    assert ROUTING_KEY not in answer.text
    newest = (await api.logged())[0]
    assert (newest.notification_id, newest.channel, newest.outcome, newest.status_code) == (
        document["notification_id"], "pd", "delivered", 202)


async def test_a_log_channel_test_is_200(api: Api) -> None:
    answer = await api.http.post("/v1/channels/log/test", headers=OPS)
    assert (answer.status_code, answer.json()["outcome"], answer.json()["target"]) == (
        200, "delivered", "log")


async def test_a_channel_test_the_receiver_refuses_is_502_with_its_reason(api: Api) -> None:
    api.pagerduty.answer_next(Answer(
        status=400, headers={"Content-Type": "application/json"},
        body=b'{"status": "invalid event", "message": "Event object is invalid", '
             b'"errors": ["\'payload.source\' is missing or blank"]}'))
    answer = await api.http.post("/v1/channels/pd/test", headers=OPS)
    assert answer.status_code == 502
    document = answer.json()
    assert (document["outcome"], document["status_code"], document["error"]) == (
        "failed", 400, "PagerDuty refused the event (400): invalid event: Event object is "
                       "invalid: 'payload.source' is missing or blank")
    assert (await api.logged())[0].outcome == "failed"


async def test_a_channel_test_is_not_retried(api: Api) -> None:
    api.pagerduty.answer_next(Answer(status=503, headers={"Retry-After": "1"}))
    answer = await api.http.post("/v1/channels/pd/test", headers=OPS)
    assert (answer.status_code, answer.json()["outcome"], answer.json()["status_code"]) == (
        502, "failed", 503)
    assert len(api.pagerduty.requests) == 1


async def test_an_unknown_channel_is_404(api: Api) -> None:
    answer = await api.http.post("/v1/channels/nope/test", headers=OPS)
    assert (answer.status_code, answer.json()) == (404, {"error": "no channel nope"})
    assert len(await api.logged()) == len(RECORDED)


async def test_a_server_that_sends_nothing_has_no_channel_tests(tmp_path: Path) -> None:
    async with serve(tmp_path, tester=False) as api:
        answer = await api.http.post("/v1/channels/pd/test", headers=OPS)
        assert (answer.status_code, answer.json()) == (
            404, {"error": "this server sends no notifications"})
        assert api.pagerduty.requests == []


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/v1/deliveries"), ("POST", "/v1/channels/pd/test")])
@pytest.mark.parametrize(("headers", "status"), [
    ({}, 401), ({"authorization": "Bearer nope"}, 401),
    ({"authorization": "Basic s3cret-ops"}, 401),
    ({"authorization": "Bearer s3cret-prom"}, 403),  # a sender's token: ingest only
])
async def test_tokens_guard_both_endpoints(api: Api, method: str, path: str,
                                           headers: dict[str, str], status: int) -> None:
    answer = await api.http.request(method, path, headers=headers)
    assert answer.status_code == status, answer.text
    assert api.pagerduty.requests == []


LEAKY = "htp//ops:hunter2@example.com/hook?key=hunter2"
"""A webhook URL that does not parse, as an older router recorded it whole (issue 13, 4)."""


async def test_the_delivery_log_shows_no_url_secret_even_from_older_rows(api: Api) -> None:
    leaky = dataclasses.replace(
        RECORDED[0], notification_id="n-hook-9", channel="hook", target=LEAKY,
        error=f"{LEAKY}: UnsupportedProtocol: Request URL is missing an 'http://' or "
              "'https://' protocol.")
    await api.store.write(lambda transaction: transaction.outbox.record(
        leaky, leaky.attempted_at + timedelta(seconds=5)))
    answer = await api.http.get("/v1/deliveries", params={"channel": "hook"}, headers=OPS)
    assert "hunter2" not in answer.text
    [shown] = answer.json()["deliveries"]
    assert (shown["target"], shown["error"]) == (
        "htp//example.com/hook", "htp//example.com/hook: UnsupportedProtocol: Request URL is "
        "missing an 'http://' or 'https://' protocol.")
