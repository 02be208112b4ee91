"""The HTTP API: which path does what (room: server; imports engine, alerts.formats, errors).

`build_routes` is the one table of routes, added in groups by what they are about; the
handlers of most subjects are the api_*.py modules' (incidents, on call, Alertmanager's
API, deliveries, ...), the ingest endpoints' are here. Each ingest endpoint hands the body
to its format's parser and the alerts to `engine.ingest`, answering only after the store
committed them. Bad input is a 4xx with a JSON error naming the field; a sender's token is
checked before anything is parsed.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import re
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import trio

from router.alerts.formats import (
    Format,
    alertmanager_v2,
    generic,
    native,
    pagerduty,
)
from router.engine import Engine
from router.errors import BadRequest, ConfigInvalid, Conflict, NotFound, StoreUnavailable
from router.server.api_access import DETECTED, PAGES, Access, FeedToken, Gate, WebSessions
from router.server.api_alertmanager import AlertmanagerApi
from router.server.api_analysis import AnalysisApi
from router.server.api_checks import Checks
from router.server.api_cluster import ClusterApi
from router.server.api_deliveries import ChannelTester, Deliveries
from router.server.api_formats import JSON_HEADERS, FormatIngest, accepted_json
from router.server.api_heartbeats import HeartbeatApi
from router.server.api_incidents import DETAIL_LIMIT as DETAIL_LIMIT
from router.server.api_incidents import Incidents
from router.server.api_jobs import JobsApi
from router.server.api_notes import Notes
from router.server.api_notify import Notify
from router.server.api_oncall import OnCall
from router.server.api_overrides import Overrides
from router.server.link_pages import LinkPages
from router.server.routes import Handler, Request, Response, Routes
from router.server.slack_actions import SlackActions

logger = logging.getLogger(__name__)


Reload = Callable[[], Awaitable[str]]
"""Reloads the config: returns the new config's summary, or raises ConfigInvalid."""
Exposition = Callable[[], Awaitable[bytes]]
"""Renders the metrics in Prometheus' text format (the daemon's router.daemon.metrics)."""
Received = Callable[[str, str, int], None]
"""Told (format, source, count) once alerts are stored: the inbound format, the name of the
token the sender presented (or "anonymous") and how many (metrics count them)."""
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_TRACEPARENT = re.compile(r"[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}")


def build_routes(engine: Engine, tester: ChannelTester | None = None, *,
                 reload: Reload | None = None, metrics: Exposition | None = None,
                 received: Received | None = None, slack: SlackActions | None = None,
                 link_pages: LinkPages | None = None, admin_token: str | None = None,
                 listen_host: str | None = None, feed_token: FeedToken | None = None,
                 pages: Sequence[tuple[str, str, Handler]] = (),
                 web: WebSessions | None = None) -> Routes:
    """The API's routes, each registered with who may call it (api_access.py).

    `tester` sends channel tests (the daemon's deliverer), `reload` reloads the config (the
    daemon's one reload entry point; no `/-/reload` without it), `metrics` renders
    `GET /metrics` (none without it), `received` counts stored alerts, `admin_token` (the
    state directory's) is accepted with every scope besides the configured tokens, and
    `listen_host` (the address listened on) is a name the Host header may give. Slack's
    buttons and the email acknowledge links prove themselves by signature, not by a bearer
    token (slack_actions.py, link_pages.py); no link routes without `link_pages`.
    `feed_token` gives each calendar feed's own secret token (store/feeds.py). `pages` are
    the web interface's (router/web/), each behind the access PAGES decides for it, which
    `web`'s logged-in users meet as tokens do.

    Raises:
        KeyError: a page that PAGES has no access for."""
    routes = Routes()
    gate = Gate(engine, admin_token, listen_host, feed_token, web)
    add = _Table(routes, gate)
    _ingest_routes(add, engine, gate, received)
    for method, pattern, handler in pages:
        routes.add(method, pattern, gate.protect_page(PAGES[method, pattern], _guard(handler)),
                   access=PAGES[method, pattern])
    _operations_routes(add, engine, metrics, reload)
    _on_call_routes(add, engine)
    _incident_routes(add, engine, slack, link_pages)
    _alertmanager_routes(add, engine, gate)
    _delivery_routes(add, engine, tester)
    _source_routes(add, engine)
    return routes


class _Table:
    """Adds a route to the table behind the gate: who may call it (`access`; an ingest
    route's `source` is what a token's `sources` must name) and its input errors answered
    (`_guard`)."""

    def __init__(self, routes: Routes, gate: Gate) -> None:
        self.routes = routes
        self.gate = gate

    def __call__(self, method: str, pattern: str, access: Access, handler: Handler,
                 source: str | None = None) -> None:
        self.routes.add(method, pattern, self.gate.protect(access, _guard(handler), source),
                        access=f"ingest:{source}" if source else access)


def _ingest_routes(add: _Table, engine: Engine, gate: Gate, received: Received | None) -> None:
    """Alerts in: router's own JSON, Prometheus', PagerDuty's Events API, generic webhooks,
    and the formats detected from the body or named in the path (api_formats.py)."""
    ingest = _Ingest(engine, gate, received)
    for pattern, source, inbound in _FORMATS:
        add("POST", pattern, "ingest", ingest.endpoint(source, inbound), source)
    add("POST", "/api/v2/alerts", "ingest", ingest.endpoint(
        "alertmanager_v2", alertmanager_v2, status=200, empty=True), "alertmanager_v2")
    add("POST", "/v2/enqueue", "routing_key", ingest.pagerduty)
    add("POST", "/v1/ingest/generic/{name}", "ingest", ingest.generic, "generic:{name}")
    formats = FormatIngest(ingest, gate, trace_id)
    add("POST", "/v1/ingest", "ingest", formats.detected, DETECTED)
    add("POST", "/v1/ingest/{format}", "ingest", formats.forced, "{format}")
    for name in _OWN_PATHS:  # the same handler as {format}'s, found by a dict lookup
        add("POST", f"/v1/ingest/{name}", "ingest", formats.named(name), name)


def _operations_routes(add: _Table, engine: Engine, metrics: Exposition | None,
                       reload: Reload | None) -> None:
    """The daemon's own: alive, ready, its metrics, a reload and the routers of its store."""
    add("GET", "/healthz", "open", _health)
    add("GET", "/readyz", "open", _readiness(engine))
    if metrics is not None:
        add("GET", "/metrics", "read", _scrape(metrics))
    if reload is not None:
        add("POST", "/-/reload", "admin", _reloading(reload))
    add("GET", "/v1/cluster", "read", ClusterApi(engine).show)


def _on_call_routes(add: _Table, engine: Engine) -> None:
    """Who is on call, the rotas' shifts and calendar feeds, fatigue, run-time overrides."""
    reads = OnCall(engine)
    add("GET", "/v1/oncall", "read", reads.on_call)
    add("GET", "/v1/rotas/{id}/shifts", "read", reads.shifts)
    add("GET", "/v1/rotas/{id}.ics", "feed", reads.rota_ics)
    add("GET", "/v1/people/{id}.ics", "feed", reads.person_ics)
    add("GET", "/v1/fatigue", "read", reads.fatigue)
    rota_overrides = Overrides(engine)
    add("GET", "/v1/rotas/{id}/overrides", "read", rota_overrides.list)
    add("POST", "/v1/rotas/{id}/overrides", "admin", rota_overrides.add)
    add("DELETE", "/v1/overrides/{id}", "admin", rota_overrides.remove)


def _incident_routes(add: _Table, engine: Engine, slack: SlackActions | None,
                     link_pages: LinkPages | None) -> None:
    """Incidents, moved by a token, Slack's buttons or an emailed acknowledge link, and
    run-time silences."""
    incidents = Incidents(engine)
    add("GET", "/v1/incidents", "read", incidents.list)
    add("GET", "/v1/incidents/{id}", "read", incidents.show)
    for verb in ("acknowledge", "resolve", "escalate"):
        add("POST", f"/v1/incidents/{{id}}/{verb}", "respond", incidents.transition(verb))
    add("POST", "/v1/slack/actions", "signed", (slack or SlackActions(engine)).handle)
    if link_pages is not None:
        add("GET", "/v1/incidents/{id}/acknowledge-link", "signed", link_pages.show)
        add("POST", "/v1/incidents/{id}/acknowledge-link", "signed", link_pages.acknowledge)
    add("GET", "/v1/silences", "read", incidents.silences)
    add("POST", "/v1/silences", "respond", incidents.add_silence)
    add("DELETE", "/v1/silences/{id}", "respond", incidents.expire_silence)


def _alertmanager_routes(add: _Table, engine: Engine, gate: Gate) -> None:
    """Alertmanager's API v2 as amtool and Grafana read and write it (api_alertmanager.py)."""
    compatible = AlertmanagerApi(engine, gate.is_admin)
    add("GET", "/api/v2/status", "read", compatible.status)
    add("GET", "/api/v2/receivers", "read", compatible.receivers)
    add("GET", "/api/v2/alerts", "read", compatible.alerts)
    add("GET", "/api/v2/alerts/groups", "read", compatible.groups)
    add("GET", "/api/v2/silences", "read", compatible.silences)
    add("POST", "/api/v2/silences", "respond", compatible.add_silence)
    add("GET", "/api/v2/silence/{id}", "read", compatible.silence)
    add("DELETE", "/api/v2/silence/{id}", "respond", compatible.expire)


def _delivery_routes(add: _Table, engine: Engine, tester: ChannelTester | None) -> None:
    """What router sends and adds to incidents: the delivery log, channel tests, direct
    notifications, notes and analysis runs."""
    deliveries = Deliveries(engine, tester)
    add("GET", "/v1/deliveries", "read", deliveries.list)
    add("POST", "/v1/channels/{id}/test", "admin", deliveries.test)
    notify = Notify(engine, trace_id)
    add("GET", "/v1/channels", "read", notify.channels)
    add("POST", "/v1/notify", "respond", notify.send)
    add("POST", "/v1/notify/batch", "respond", notify.batch)
    add("POST", "/v1/incidents/{id}/notes", "respond", Notes(engine).add)
    analysis = AnalysisApi(engine, trace_id)
    add("GET", "/v1/incidents/{id}/analysis", "read", analysis.list)
    add("POST", "/v1/incidents/{id}/analysis", "respond", analysis.run_again)


def _source_routes(add: _Table, engine: Engine) -> None:
    """Router's own sources of alerts: local health checks, heartbeats and jobs."""
    checks = Checks(engine)
    add("GET", "/v1/checks", "read", checks.list)
    add("GET", "/v1/checks/{id}/runs", "read", checks.runs)
    heartbeats = HeartbeatApi(engine)
    add("GET", "/v1/heartbeats", "read", heartbeats.list)
    for suffix, action in (("", ""), ("/start", "start"), ("/fail", "fail"),
                           ("/{exit_code}", None)):
        for method in ("POST", "GET"):
            add(method, f"/v1/heartbeats/{{id}}{suffix}", "ping", heartbeats.ping(action))
    jobs = JobsApi(engine)
    add("GET", "/v1/jobs", "read", jobs.list)
    add("POST", "/v1/jobs", "admin", jobs.create)
    add("GET", "/v1/jobs/{id}", "read", jobs.show)
    add("POST", "/v1/jobs/{id}/runs", "ingest", jobs.report, "job")
    add("GET", "/v1/jobs/{id}/runs", "read", jobs.runs)
    add("GET", "/v1/jobs/{id}/alerts", "read", jobs.alerts)
    add("POST", "/v1/jobs/{id}/alerts", "admin", jobs.add_alert)
    add("DELETE", "/v1/job-alerts/{id}", "admin", jobs.remove_alert)


_FORMATS: tuple[tuple[str, str, Format], ...] = (
    ("/v1/alerts", "native", native),
)
"""Ingest routes that answer 202 with the incidents: path, source, format."""
_OWN_PATHS = ("alertmanager", "grafana", "datadog")
"""Formats with a path of their own, `/v1/ingest/NAME`: the senders' documented URLs."""


async def _health(request: Request) -> Response:
    return Response.json(200, {"status": "ok"})


def _readiness(engine: Engine) -> Handler:
    """GET /readyz: 503 with the cause while the store cannot write (a full disk), 200 again
    once a write succeeds; /healthz only says the daemon answers."""
    async def handle(request: Request) -> Response:
        failure = await engine.check_writable()
        if failure is None:
            return Response.json(200, {"status": "ok"})
        return Response.json(503, {"status": "not ready", "error": str(failure)},
                             headers=[("retry-after", str(failure.retry_after))])
    return handle


def _scrape(metrics: Exposition) -> Handler:
    async def handle(request: Request) -> Response:
        return Response(200, await metrics(), (("content-type", METRICS_TYPE),))
    return handle


def _reloading(reload: Reload) -> Handler:
    """POST /-/reload: 200 with the new config's summary once it is in force, or 400 with
    every problem (file, line, column, path, message) while the running config stays."""
    async def handle(request: Request) -> Response:
        try:
            summary = await reload()
        except ConfigInvalid as invalid:
            return Response.json(400, {"status": "invalid", "problems": [
                problem.to_json() for problem in invalid.problems]})
        return Response.json(200, {"status": "reloaded", "summary": summary})
    return handle


def _guard(handler: Handler) -> Handler:
    """Input errors as answers: 400 naming the field, 404 for NotFound, 409 for Conflict.

    Only those: a stray `KeyError` or `ValueError` is a bug, answered 500 and logged once
    with the request's trace id (also in the answer), so an operator can find the trace.
    StoreUnavailable passes on to the server, which answers 503 with Retry-After.
    """
    async def guarded(request: Request) -> Response:
        try:
            return await handler(request)
        except BadRequest as bad:
            return Response.json(400, {"error": bad.message, "field": bad.field})
        except NotFound as missing:
            return Response.error(404, missing.message)
        except Conflict as conflict:  # e.g. escalating a resolved incident
            return Response.error(409, conflict.message)
        except StoreUnavailable:
            raise
        except Exception:
            trace = trace_id(request)
            logger.exception("handler failed: %s %s", request.method, request.path,
                             extra={"trace_id": trace})
            return Response.json(500, {"error": "internal error", "trace_id": trace})
    return guarded


def trace_id(request: Request) -> str:
    """The trace id of the W3C `traceparent` header a sender passed, else a fresh one; the
    log lines about the request's alerts carry it."""
    found = _TRACEPARENT.fullmatch(request.headers.get("traceparent", "").strip())
    if found and found.group(1) != "0" * 32:
        return found.group(1)
    return os.urandom(16).hex()  # 32 hex digits as uuid4().hex, in a quarter of its time


_THREAD_BODY = 64 * 1024
"""A body larger than this is parsed in a worker thread. Parsing is linear in the body, but
a 1 MiB body of labels still costs a few hundred ms of Python (the Alertmanager fingerprint
is a loop over every byte): on the event loop that would hold up every other request and
/healthz; in a thread the loop gets the interpreter back every few ms (issue 13)."""


class _Ingest:
    def __init__(self, engine: Engine, gate: Gate, received: Received | None = None) -> None:
        self.engine = engine
        self.gate = gate
        self.received = received
        self.parsers = trio.CapacityLimiter(1)  # parsing holds the GIL: more threads gain nothing

    async def parse(self, inbound: Format, request: Request) -> Sequence[Any]:
        """The alerts of a request's body in its format, within the config's alert limits;
        the arrival instant is read here, on the event loop (a test clock can be read only
        there), before a large body goes to a thread."""
        limits = self.engine.config.settings.alert_limits
        call = functools.partial(inbound.parse, request.body, dict(request.headers),
                                 limits=limits, now=self.engine.now())
        if len(request.body) <= _THREAD_BODY:
            return call()
        return await trio.to_thread.run_sync(call, limiter=self.parsers)

    def count(self, inbound_format: str, request: Request, alerts: int) -> None:
        if self.received is not None:
            self.received(inbound_format, self.gate.sender(request), alerts)

    def endpoint(self, source: str, inbound: Format, *, status: int = 202,
                 empty: bool = False) -> Handler:
        """An ingest endpoint for alerts in the format `inbound`."""
        async def handle(request: Request) -> Response:
            alerts = await self.parse(inbound, request)
            accepted = await self.engine.ingest(alerts, trace_id=trace_id(request))
            self.count(source.partition(":")[0], request, len(alerts))
            if empty:
                return Response(status)
            return Response(status, accepted_json(accepted), JSON_HEADERS)
        return handle

    async def generic(self, request: Request) -> Response:
        """A generic JSON webhook, read by the field mapping `settings.generic_webhooks`
        declares under that name; a token's `sources` names it `generic:NAME`."""
        name = request.params["name"]
        webhooks = self.engine.config.settings.generic_webhooks
        mapping = next((webhook for webhook in webhooks if webhook.name == name), None)
        if mapping is None:
            return Response.error(404, f"no generic webhook {name!r} in settings")
        handle = self.endpoint(f"generic:{name}", generic.GenericFormat(mapping))
        return await handle(request)

    async def pagerduty(self, request: Request) -> Response:
        """PagerDuty Events API v2, answered as PagerDuty answers.

        PagerDuty clients send no Authorization header: the routing key is the credential.
        So the key must be one a service declares, unless no tokens are configured and the
        request is local (as every ingest endpoint then is open to local senders).
        """
        def refuse(message: str) -> Response:
            return Response(pagerduty.ERROR_STATUS, pagerduty.error_body([message]),
                            (("content-type", "application/json"),))
        try:
            alerts = pagerduty.parse(request.body, dict(request.headers),
                                     limits=self.engine.config.settings.alert_limits,
                                     now=self.engine.now())
        except BadRequest as bad:
            return refuse(str(bad))
        keys = self.engine.routing_keys
        if alerts[0].routing_key not in keys and not self.gate.open_ingest(request):
            return refuse("Invalid routing key")
        # PagerDuty gives a key-less trigger a fresh key, so each one opens its own alert.
        alerts = [alert if alert.dedup_key else dataclasses.replace(
            alert, dedup_key=uuid.uuid4().hex) for alert in alerts]
        accepted = await self.engine.ingest(alerts, trace_id=trace_id(request))
        self.count("pagerduty", request, len(alerts))
        return Response(pagerduty.SUCCESS_STATUS, pagerduty.success_body(accepted[0].dedup_key),
                        (("content-type", "application/json"),))
