"""Who may call which route (server/api_access.py), over real loopback HTTP to an
in-process server on a real SQLite store.

The walk test takes every route `build_routes` registers and checks the access it declares
against ACCESS below, then calls each one without a token, with a token that lacks its scope
and with one that has it: a new route without a decision here fails. docs/security.md's table
is checked against ACCESS too. Then the Host, Origin and Content-Type rules, the iCal feeds'
`?token=`, and ingest with no tokens configured.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import trio

from router.clock import FixedClock
from router.config import load_config
from router.engine import Attempt, Engine
from router.server.api import build_routes
from router.server.link_pages import LinkPages
from router.server.routes import Routes
from router.web.access import WebAccess
from router.web.assets import Assets
from router.web.pages import page_routes
from router.web.render import Renderer
from tests.server.support import Servers

TOKENS = """
  ingest_tokens:
    - {name: senders, token: t-ingest, scopes: [ingest]}
    - {name: grafana, token: t-grafana, sources: [grafana]}
    - {name: reader, token: t-read, scopes: [read]}
    - {name: responder, token: t-respond, scopes: [respond]}
    - {name: operator, token: t-admin, scopes: [admin]}
"""
CONFIG = """
settings:
  timezone: UTC
  public_url: https://router.example.com
  allowed_hosts: [proxy.internal:8443]
  generic_webhooks:
    - {name: checks, summary: title}
TOKENS
people:
  - {id: ann, contact_methods: [{type: email, address: ann@example.com}]}
channels:
  - {id: log, type: log}
rotas:
  - id: web
    layers: [{members: [ann], every: 1d, handoff: "09:00", start: 2026-11-01}]
escalation_policies:
  - {id: web, levels: [{targets: [{rota: web}], delay: 5m}]}
services:
  - {id: shop, escalation_policy: web, channels: [log]}
routes:
  - service: shop
"""
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
ADMIN_FILE_TOKEN = "t-state-admin"

ACCESS = {
    ("POST", "/v1/alerts"): "ingest:native",
    ("POST", "/v1/ingest/alertmanager"): "ingest:alertmanager",
    ("POST", "/v1/ingest/grafana"): "ingest:grafana",
    ("POST", "/v1/ingest/datadog"): "ingest:datadog",
    ("POST", "/api/v2/alerts"): "ingest:alertmanager_v2",
    ("POST", "/v2/enqueue"): "routing_key",
    ("POST", "/v1/ingest/generic/{name}"): "ingest:generic:{name}",
    ("POST", "/v1/ingest"): "ingest:*",
    ("POST", "/v1/ingest/{format}"): "ingest:{format}",
    ("GET", "/healthz"): "open",
    ("GET", "/readyz"): "open",
    ("GET", "/metrics"): "read",
    ("POST", "/-/reload"): "admin",
    ("GET", "/v1/cluster"): "read",
    ("GET", "/v1/oncall"): "read",
    ("GET", "/v1/rotas/{id}/shifts"): "read",
    ("GET", "/v1/rotas/{id}.ics"): "feed",
    ("GET", "/v1/people/{id}.ics"): "feed",
    ("GET", "/v1/fatigue"): "read",
    ("GET", "/v1/rotas/{id}/overrides"): "read",
    ("POST", "/v1/rotas/{id}/overrides"): "admin",
    ("DELETE", "/v1/overrides/{id}"): "admin",
    ("GET", "/v1/incidents"): "read",
    ("GET", "/v1/incidents/{id}"): "read",
    ("POST", "/v1/incidents/{id}/acknowledge"): "respond",
    ("POST", "/v1/incidents/{id}/resolve"): "respond",
    ("POST", "/v1/incidents/{id}/escalate"): "respond",
    ("POST", "/v1/slack/actions"): "signed",
    ("GET", "/v1/incidents/{id}/acknowledge-link"): "signed",
    ("POST", "/v1/incidents/{id}/acknowledge-link"): "signed",
    ("GET", "/v1/silences"): "read",
    ("POST", "/v1/silences"): "respond",
    ("DELETE", "/v1/silences/{id}"): "respond",
    ("GET", "/api/v2/status"): "read",
    ("GET", "/api/v2/receivers"): "read",
    ("GET", "/api/v2/alerts"): "read",
    ("GET", "/api/v2/alerts/groups"): "read",
    ("GET", "/api/v2/silences"): "read",
    ("POST", "/api/v2/silences"): "respond",
    ("GET", "/api/v2/silence/{id}"): "read",
    ("DELETE", "/api/v2/silence/{id}"): "respond",
    ("GET", "/v1/deliveries"): "read",
    ("POST", "/v1/channels/{id}/test"): "admin",
    ("GET", "/v1/channels"): "read",
    ("POST", "/v1/notify"): "respond",
    ("POST", "/v1/notify/batch"): "respond",
    ("POST", "/v1/incidents/{id}/notes"): "respond",
    ("GET", "/v1/incidents/{id}/analysis"): "read",
    ("POST", "/v1/incidents/{id}/analysis"): "respond",
    ("GET", "/v1/checks"): "read",
    ("GET", "/v1/checks/{id}/runs"): "read",
    ("GET", "/v1/heartbeats"): "read",
    **{(method, f"/v1/heartbeats/{{id}}{suffix}"): "ping"
       for suffix in ("", "/start", "/fail", "/{exit_code}") for method in ("POST", "GET")},
    ("GET", "/v1/jobs"): "read",
    ("POST", "/v1/jobs"): "admin",
    ("GET", "/v1/jobs/{id}"): "read",
    ("POST", "/v1/jobs/{id}/runs"): "ingest:job",
    ("GET", "/v1/jobs/{id}/runs"): "read",
    ("GET", "/v1/jobs/{id}/alerts"): "read",
    ("POST", "/v1/jobs/{id}/alerts"): "admin",
    ("DELETE", "/v1/job-alerts/{id}"): "admin",
    ("GET", "/"): "open",
    ("GET", "/ui/incidents"): "read",
    ("GET", "/ui/incidents/rows"): "read",
    ("GET", "/ui/incidents/{id}"): "read",
    ("GET", "/ui/status"): "read",
    ("GET", "/ui/static/{name}"): "open",
    ("GET", "/ui/login"): "open",
    ("POST", "/ui/login"): "open",
    ("POST", "/ui/logout"): "read",
    ("POST", "/ui/incidents/{id}/acknowledge"): "respond",
    ("POST", "/ui/incidents/{id}/resolve"): "respond",
    ("POST", "/ui/incidents/{id}/escalate"): "respond",
    ("POST", "/ui/incidents/{id}/notes"): "respond",
    ("GET", "/ui/silences"): "read",
    ("GET", "/ui/silences/new"): "read",
    ("POST", "/ui/silences"): "respond",
    ("POST", "/ui/silences/{id}/expire"): "respond",
    ("GET", "/ui/oncall"): "read",
    ("GET", "/ui/oncall/{id}"): "read",
    ("GET", "/ui/overrides"): "read",
    ("GET", "/ui/dead-letters"): "read",
    ("GET", "/ui/jobs"): "read",
    ("GET", "/ui/jobs/{id}"): "read",
    ("GET", "/ui/health"): "read",
    ("GET", "/ui/fatigue"): "read",
    ("POST", "/ui/overrides"): "admin",
    ("POST", "/ui/overrides/{id}/remove"): "admin",
    ("POST", "/ui/dead-letters/{id}/retry"): "respond",
    ("POST", "/ui/jobs/{id}/alerts"): "admin",
    ("POST", "/ui/job-alerts/{id}/delete"): "admin",
}
"""The decision for every route: a route added without a line here fails the walk."""
PARAMS = {"id": "web", "name": "checks", "format": "zabbix", "exit_code": "0"}
LACKING = {"read": "t-ingest", "respond": "t-read", "admin": "t-respond", "ingest": "t-read",
           "feed": "t-ingest"}
"""For each scope, a token that has every lesser scope but not that one."""
HAVING = {"read": "t-read", "respond": "t-respond", "admin": "t-admin", "ingest": "t-ingest",
          "feed": "t-read"}
FEEDS = {"rota:web": "f-rota-web", "person:ann": "f-person-ann", "rota:db": "f-rota-db"}
"""The calendar feeds' own tokens (store/feeds.py's feeds.json)."""


async def feed_token(feed: str) -> str | None:
    """The gate's question at each fetch (daemon/shared_keys.py answers it in the daemon)."""
    return FEEDS.get(feed)

SECURITY_DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"


class _Tester:
    async def test(self, channel_id: str) -> Attempt:
        raise LookupError(channel_id)


async def _reload() -> str:
    return "reloaded"


async def _metrics() -> bytes:
    return b"router_up 1\n"


@dataclass
class Api:
    routes: Routes
    http: httpx.AsyncClient

    async def call(self, method: str, pattern: str, token: str | None = None,
                   **options: object) -> httpx.Response:
        path = re.sub(r"\{(\w+)\}", lambda found: PARAMS[found.group(1)], pattern)
        headers = dict(options.pop("headers", {}) or {})  # type: ignore[call-overload]
        if token:
            headers["authorization"] = f"Bearer {token}"
        if method in ("POST", "DELETE") and "content" not in options:
            options.setdefault("json", {})
        return await self.http.request(method, path, headers=headers,
                                       **options)  # type: ignore[arg-type]


Serve = Callable[..., Awaitable[Api]]


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Serve]:
    """`await api(tokens=True)`: a server with every optional route, the admin file token
    and (unless tokens=False) the five tokens above."""
    async with trio.open_nursery() as nursery:
        servers = Servers(nursery)

        async def serve(*, tokens: bool = True, listen_host: str | None = None) -> Api:
            directory = tmp_path / f"server-{len(servers.stores)}"
            directory.mkdir()
            config = CONFIG.replace("TOKENS\n", TOKENS[1:] if tokens else "")
            (directory / "config.yaml").write_text(config)
            store = await servers.open_store(directory / "router.db")
            engine = Engine(load_config([directory / "config.yaml"]), store, FixedClock(NOW))
            web = WebAccess(engine, Renderer(Assets()), key=b"k" * 32)
            routes = build_routes(engine, _Tester(), reload=_reload, metrics=_metrics,
                                  link_pages=LinkPages(engine, b"k" * 32),
                                  admin_token=ADMIN_FILE_TOKEN, listen_host=listen_host,
                                  feed_token=feed_token, pages=page_routes(engine, web=web),
                                  web=web)
            return Api(routes, await servers.serve(routes))

        yield serve
        await servers.close()
        nursery.cancel_scope.cancel()


def _scope(access: str) -> str:
    return access.partition(":")[0]


async def test_every_route_declares_the_access_decided_here(api: Serve) -> None:
    server = await api()
    declared = {(method, pattern): access for method, pattern, access in server.routes.table}
    assert declared == ACCESS


@pytest.mark.parametrize(("method", "pattern"), sorted(ACCESS))
async def test_each_route_needs_its_scope(api: Serve, method: str, pattern: str) -> None:
    server = await api()
    access = ACCESS[(method, pattern)]
    scope = _scope(access)
    anonymous = await server.call(method, pattern)
    admin = await server.call(method, pattern, ADMIN_FILE_TOKEN)
    if scope in HAVING:
        assert anonymous.status_code == 401, anonymous.text
        assert anonymous.headers["www-authenticate"] == 'Bearer realm="router"'
        lacking = await server.call(method, pattern, LACKING[scope])
        assert lacking.status_code == 403, lacking.text
        having = await server.call(method, pattern, HAVING[scope])
        assert having.status_code not in (401, 403), having.text
        assert admin.status_code not in (401, 403), admin.text
    elif access == "signed":  # its own proof; a bearer token admits nothing
        assert anonymous.status_code in (401, 403), anonymous.text
        assert admin.status_code == anonymous.status_code, admin.text
    elif access == "ping":  # the heartbeat's own URL token; a bearer token admits nothing
        assert (anonymous.status_code, admin.status_code) == (404, 404), anonymous.text
    elif access == "routing_key":  # tokens configured: an unknown key is refused
        assert anonymous.status_code == 400, anonymous.text
        assert admin.status_code == 400, admin.text
    elif (method, pattern) == ("POST", "/ui/login"):  # a token is no login; {} no form
        assert (anonymous.status_code, admin.status_code) == (400, 400), anonymous.text
    else:  # open: a 303 for `/`, a 404 for a static file that is not there
        assert anonymous.status_code == admin.status_code, admin.text
        assert anonymous.status_code in (200, 303, 404), anonymous.text


@pytest.mark.parametrize("pattern", [pattern for (method, pattern), access in ACCESS.items()
                                     if access.startswith("ingest:")])
async def test_a_sender_token_posts_only_to_its_sources(api: Serve, pattern: str) -> None:
    server = await api()
    answer = await server.call("POST", pattern, "t-grafana")
    if pattern in ("/v1/ingest/grafana", "/v1/ingest"):
        # admitted: the empty body is wrong (/v1/ingest checks the source it detects:
        # tests/server/test_ingest_formats.py)
        assert answer.status_code == 400, answer.text
    else:
        assert answer.status_code == 403, answer.text
        assert answer.json()["error"].startswith("token 'grafana' may not post ")


async def test_the_security_page_lists_every_route_with_its_access() -> None:
    rows = re.findall(r"^\| `(GET|POST|DELETE) ([^`]+)` \| ([\w:{}*]+) \|",
                      SECURITY_DOC.read_text(), re.MULTILINE)
    assert {(method, pattern): access for method, pattern, access in rows} == ACCESS


@pytest.mark.parametrize(("method", "pattern"), sorted(ACCESS))
async def test_a_foreign_host_is_refused_on_every_route(api: Serve, method: str,
                                                        pattern: str) -> None:
    server = await api()
    answer = await server.call(method, pattern, ADMIN_FILE_TOKEN,
                               headers={"host": "rebound.example:9080"})
    assert (answer.status_code, answer.json()) == (421, {
        "error": "Host 'rebound.example:9080' is not one of this router's names "
                 "(settings.allowed_hosts)"})


@pytest.mark.parametrize(("host", "status"), [
    ("localhost:9080", 200), ("127.0.0.1", 200), ("[::1]:1234", 200),
    ("router.example.com", 200), ("ROUTER.example.com:443", 200),  # public_url's host
    ("proxy.internal:8443", 200), ("proxy.internal:8444", 421),  # allowed_hosts
    ("localhost.rebound.example", 421), ("", 421),
])
async def test_host_names_the_router_answers(api: Serve, host: str, status: int) -> None:
    server = await api()
    answer = await server.call("GET", "/v1/incidents", "t-read", headers={"host": host})
    assert answer.status_code == status, answer.text


async def test_the_address_router_run_listens_on_is_one_of_its_names(api: Serve) -> None:
    server = await api(listen_host="10.0.0.5")  # router run --listen 10.0.0.5:9080
    for host, status in (("10.0.0.5:9080", 200), ("10.0.0.6:9080", 421)):
        answer = await server.call("GET", "/v1/incidents", "t-read", headers={"host": host})
        assert answer.status_code == status, answer.text


@pytest.mark.parametrize(("headers", "refused"), [
    ({"origin": "http://evil.example"}, "Origin 'http://evil.example' is not this router's"),
    ({"origin": "null"}, "Origin 'null' is not this router's"),
    ({"origin": "http://127.0.0.1:1"}, "Origin 'http://127.0.0.1:1' is not this router's"),
    ({"sec-fetch-site": "cross-site"}, "Sec-Fetch-Site is cross-site"),
    ({"origin": "https://router.example.com"}, None),  # public_url's origin
    ({"origin": "HOST"}, None),  # the origin the request was sent to
    ({"sec-fetch-site": "same-origin"}, None),
    ({}, None),  # curl, the CLI, senders: no Origin
])
async def test_a_cross_site_origin_is_refused_on_every_change(
        api: Serve, headers: dict[str, str], refused: str | None) -> None:
    server = await api()
    if headers.get("origin") == "HOST":
        headers = {"origin": str(server.http.base_url).rstrip("/")}
    for method, pattern in (("POST", "/v1/silences"), ("POST", "/v1/alerts"),
                            ("POST", "/v1/incidents/{id}/acknowledge"),
                            ("POST", "/-/reload"), ("DELETE", "/v1/overrides/{id}")):
        answer = await server.call(method, pattern, ADMIN_FILE_TOKEN, headers=headers)
        if refused is None:
            assert answer.status_code not in (401, 403), answer.text
        else:
            assert (answer.status_code, answer.json()) == (
                403, {"error": f"cross-site request refused: {refused}"})
    read = await server.call("GET", "/v1/incidents", "t-read", headers=headers)
    assert read.status_code == 200  # reads carry no Origin rule: the token is the guard


SILENCE = (b'{"matchers": [{"name": "alertname", "operator": "=~", "value": ".*"}], '
           b'"ends_at": "2099-01-01T00:00Z", "reason": "x"}')


@pytest.mark.parametrize(("content_type", "status"), [
    ("text/plain", 415), ("text/plain;charset=UTF-8", 415),
    ("application/x-www-form-urlencoded", 415), ("multipart/form-data; boundary=x", 415),
    (None, 415), ("application/json", 201), ("Application/JSON; charset=utf-8", 201),
])
async def test_json_routes_refuse_other_content_types(
        api: Serve, content_type: str | None, status: int) -> None:
    server = await api()
    headers = {"content-type": content_type} if content_type else {}
    answer = await server.call("POST", "/v1/silences", ADMIN_FILE_TOKEN, content=SILENCE,
                               headers=headers)
    assert answer.status_code == status, answer.text
    if status == 415:
        shown = (content_type or "none").partition(";")[0].lower()
        assert answer.json() == {
            "error": f"expected Content-Type: application/json, got {shown!r}"}
        alert = await server.call("POST", "/v1/alerts", "t-ingest", headers=headers,
                                  content=b'{"summary": "x"}')
        assert alert.status_code == 415
        event = await server.call("POST", "/v2/enqueue", headers=headers, content=b"{}")
        assert event.status_code == 415
    silences = await server.call("GET", "/v1/silences", "t-read")
    assert len(silences.json()["silences"]) == (status == 201)


async def test_a_change_with_no_body_needs_no_content_type(api: Serve) -> None:
    server = await api()
    answer = await server.call("POST", "/-/reload", "t-admin", content=b"")
    assert (answer.status_code, answer.json()) == (200, {"status": "reloaded",
                                                         "summary": "reloaded"})


@pytest.mark.parametrize(("path", "status"), [
    ("/v1/rotas/web.ics?token=t-read", 200), ("/v1/people/ann.ics?token=t-read", 200),
    ("/v1/rotas/web.ics?token=t-ingest", 403), ("/v1/rotas/web.ics?token=nope", 401),
    ("/v1/incidents?token=t-read", 401),  # only calendar feeds read a token from the URL
])
async def test_calendar_feeds_take_a_read_token_in_the_query(api: Serve, path: str,
                                                             status: int) -> None:
    server = await api()
    assert (await server.http.get(path)).status_code == status


@pytest.mark.parametrize("tokens", [True, False])
async def test_a_feed_token_opens_its_own_feed_and_nothing_else(api: Serve,
                                                                tokens: bool) -> None:
    """With or without API tokens configured: a calendar app subscribes with the feed's
    URL alone (issue 16 item 6)."""
    server = await api(tokens=tokens)
    own = [("/v1/rotas/web.ics", "f-rota-web"), ("/v1/people/ann.ics", "f-person-ann")]
    for path, token in own:
        answer = await server.http.get(path, params={"token": token})
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "text/calendar; charset=utf-8"
    # another feed's token, the same id as another kind, or as a bearer token: refused
    for path, token in [("/v1/rotas/web.ics", "f-person-ann"),
                        ("/v1/rotas/web.ics", "f-rota-db"),
                        ("/v1/people/ann.ics", "f-rota-web"),
                        ("/v1/people/web.ics", "f-rota-web"),
                        ("/v1/rotas/web.ics", "f-rota-web-"), ("/v1/rotas/web.ics", "")]:
        answer = await server.http.get(path, params={"token": token})
        assert answer.status_code == 401, (path, token, answer.text)
    assert (await server.call("GET", "/v1/rotas/{id}.ics", "f-rota-web")).status_code == 401
    # every other route, with the token in the query or as a bearer token
    for (method, pattern), access in ACCESS.items():
        if access in ("open", "signed", "routing_key", "feed", "ping") or (
                access.startswith("ingest:") and not tokens):  # local ingest is open then
            continue
        for token in ("f-rota-web", "f-person-ann"):
            path = re.sub(r"\{(\w+)\}", lambda found: PARAMS[found.group(1)], pattern)
            query = await server.http.request(method, path, params={"token": token},
                                              json={} if method != "GET" else None)
            bearer = await server.call(method, pattern, token)
            assert (query.status_code, bearer.status_code) == (401, 401), (method, pattern)


async def test_without_tokens_only_local_ingest_is_open(api: Serve) -> None:
    server = await api(tokens=False)
    alert = {"summary": "Disk full", "labels": {"alertname": "DiskFull"}}
    assert (await server.call("POST", "/v1/alerts", json=alert)).status_code == 202
    for (method, pattern), access in ACCESS.items():
        if _scope(access) in ("read", "respond", "admin", "feed"):
            answer = await server.call(method, pattern)
            assert answer.status_code == 401, (method, pattern, answer.text)
    # Through a proxy that passes its own Host, a request is not local: a token is needed.
    proxied = {"host": "router.example.com"}
    answer = await server.call("POST", "/v1/alerts", json=alert, headers=proxied)
    assert answer.status_code == 401
    event = {"routing_key": "R" * 32, "event_action": "trigger",
             "payload": {"summary": "x", "source": "db1", "severity": "error"}}
    assert (await server.call("POST", "/v2/enqueue", json=event)).status_code == 202
    unknown = await server.call("POST", "/v2/enqueue", json=event, headers=proxied)
    assert (unknown.status_code, unknown.json()["errors"]) == (400, ["Invalid routing key"])
