"""The web interface's pages: open incidents, one incident, the daemon's status (room: web).

Server-rendered HTML over the same engine reads as the JSON API (docs/ui.md). The incidents
table keeps itself current by polling its rows as a fragment (`/ui/incidents/rows`, static/
live.js) rather than by server-sent events: a poll is one short request that the server's
limits, drain on shutdown and the read scope already cover, where an event stream would
hold a connection per open tab for hours. With JavaScript off the page is the same table.

`routes` gives (method, pattern, handler) triples; the server registers each with the access
server/api_access.py decides for it. The responders' pages (on call, overrides, dead
letters, jobs, health, fatigue) are their own modules beside this one, over the same
renderer; their forms' handlers are functions there, which the form plumbing calls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from router.alerts.model import Incident, Severity
from router.engine import Engine
from router.errors import BadRequest
from router.server.routes import Handler, Request, Response
from router.web.access import WebAccess
from router.web.actions import IncidentActions
from router.web.assets import Assets
from router.web.deadletters import DeadLetterPages
from router.web.fatigue import FatiguePages
from router.web.forms import Forms
from router.web.health import HealthPages
from router.web.jobs import JobPages
from router.web.login import Login
from router.web.oncall import OnCallPages
from router.web.overrides import OverridePages
from router.web.render import Renderer
from router.web.responder_forms import ResponderForms
from router.web.silences import SilencePages
from router.web.status import StatusSource

PAGE_SIZE = 50
POLL_SECONDS = 5
PAGES_MOST = 1000
"""The last page a link may ask for (50,000 incidents back): a bound on OFFSET's scan."""
STATES = {"open": ("triggered", "acknowledged"), "triggered": ("triggered",),
          "acknowledged": ("acknowledged",), "resolved": ("resolved",), "all": ()}
STATE_CHOICES = (("open", "open"), ("triggered", "triggered"),
                 ("acknowledged", "acknowledged"), ("resolved", "resolved"), ("all", "all"))
HEALTH = "health."
"""The annotation prefix of a check result (engine/health.py)."""
SHOWN = 100
"""The incident page's most alerts and timeline entries, the newest (issue 22: a page's
read stays bounded however long an incident's history)."""
ACTIONS = (("acknowledge", "Acknowledge"), ("resolve", "Resolve"), ("escalate", "Escalate"))


class Pages:
    """The page handlers, over one engine and the daemon's status."""

    def __init__(self, engine: Engine, status: StatusSource | None = None,
                 renderer: Renderer | None = None) -> None:
        self.engine = engine
        self.status_source = status
        self.renderer = renderer or Renderer(Assets())
        self.assets = self.renderer.assets

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [("GET", "/", self.home),
                ("GET", "/ui/incidents", self.incidents),
                ("GET", "/ui/incidents/rows", self.rows),
                ("GET", "/ui/incidents/{id}", self.incident),
                ("GET", "/ui/status", self.status),
                ("GET", "/ui/static/{name}", self.assets.serve),
                *self.responder_routes()]

    def responder_routes(self) -> list[tuple[str, str, Handler]]:
        """The responders' pages, each module's own (oncall.py and its kin)."""
        return [*OnCallPages(self.engine, self.renderer).routes(),
                *OverridePages(self.engine, self.renderer).routes(),
                *DeadLetterPages(self.engine, self.renderer).routes(),
                *JobPages(self.engine, self.renderer).routes(),
                *HealthPages(self.engine, self.renderer).routes(),
                *FatiguePages(self.engine, self.renderer).routes()]

    async def home(self, request: Request) -> Response:
        return Response(303, b"", (("location", "/ui/incidents"),))

    async def incidents(self, request: Request) -> Response:
        try:
            listing = await self._listing(request)
        except BadRequest as error:
            return self.renderer.message(400, "Bad filter", str(error))
        return self.renderer.page("incidents.html", **listing)

    async def rows(self, request: Request) -> Response:
        """The incidents table's rows alone, for the page's poll."""
        try:
            listing = await self._listing(request)
        except BadRequest as error:
            return self.renderer.message(400, "Bad filter", str(error))
        return self.renderer.page("incident_rows.html", **listing)  # every page's headers

    async def _listing(self, request: Request) -> dict[str, object]:
        filters = {name: (request.query.get(name) or [""])[-1].strip()
                   for name in ("state", "service", "severity", "since")}
        filters["state"] = filters["state"] or "open"
        if filters["state"] not in STATES:
            raise BadRequest("state", f"expected one of {', '.join(STATES)}")
        if filters["severity"] and filters["severity"] not in set(Severity):
            raise BadRequest("severity", f"expected one of {', '.join(Severity)}")
        page = _page(request)
        found = await self._matching(filters, page)
        kept = {name: value for name, value in filters.items()  # the default state unsaid
                if value and (name, value) != ("state", "open")}

        def page_url(number: int) -> str:
            return "/ui/incidents?" + urlencode({**kept, "page": number})

        return {"incidents": found[:PAGE_SIZE],
                "more": len(found) > PAGE_SIZE, "page": page, "page_url": page_url,
                "filters": filters, "state_choices": STATE_CHOICES,
                "severities": list(Severity), "poll_seconds": POLL_SECONDS,
                "rows_url": "/ui/incidents/rows?" + urlencode({**kept, "page": page})}

    async def _matching(self, filters: dict[str, str], page: int) -> list[Incident]:
        """The page's incidents and, past them, the first of the next page if there is one."""
        return await self.engine.incidents(
            states=STATES[filters["state"]], service=filters["service"] or None,
            since=_since(filters["since"]),
            severities=(filters["severity"],) if filters["severity"] else (),
            offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE + 1)

    async def incident(self, request: Request) -> Response:
        incident_id = request.params["id"]
        try:
            detail = await self.engine.incident(incident_id, limit=SHOWN)
        except BadRequest:
            detail = None
        if detail is None:
            return self.renderer.message(404, "Unknown incident",
                                         f"router has no incident {incident_id}.")
        deliveries = await self.engine.deliveries(incident_id=detail.incident.id, limit=200)
        runs = await self.engine.analysis.runs(detail.incident.id)  # newest first
        return self.renderer.page(
            "incident.html", incident=detail.incident, alerts=detail.alerts,
            analysis=runs[0] if runs else None, alerts_omitted=detail.alerts_omitted,
            timeline_omitted=detail.timeline_omitted,
            timeline=detail.timeline, deliveries=deliveries, actions=ACTIONS,
            notes=[entry for entry in detail.timeline if entry.action == "note"],
            checks=_check_results(detail.alerts),
            annotations=_other_annotations(detail.alerts))

    async def status(self, request: Request) -> Response:
        if self.status_source is None:
            return self.renderer.message(404, "No status", "This server has no daemon status.")
        return self.renderer.page("status.html", status=await self.status_source(),
                                  summary=self.engine.config.summary())


def _check_results(alerts: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """The attached checks' results (engine/health.py's `health.<check>` annotations), by
    check; where alerts disagree, the latest alert's."""
    found: dict[str, str] = {}
    for alert in alerts:  # oldest first: a later alert's result wins
        for name, value in alert["annotations"].items():
            if name.startswith(HEALTH):
                found[name.removeprefix(HEALTH)] = value
    return dict(sorted(found.items()))


def _other_annotations(alerts: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Each alert's annotations but the check results (shown in a section of their own)."""
    return [{name: value for name, value in sorted(alert["annotations"].items())
             if not name.startswith(HEALTH)} for alert in alerts]


def _page(request: Request) -> int:
    text = (request.query.get("page") or ["1"])[-1]
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= PAGES_MOST:
        raise BadRequest("page", f"expected a whole number from 1 to {PAGES_MOST}")
    return int(text)


def _since(text: str) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest("since", f"expected a date or an instant such as 2026-12-05T08:00, "
                                  f"got {text[:40]!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def page_routes(engine: Engine, status: StatusSource | None = None, *,
                web: WebAccess | None = None) -> Sequence[tuple[str, str, Handler]]:
    """Every route of the web interface, for the server's route table; with `web` (the
    daemon's logins) also the login, the forms (router/web/forms.py) and the silences, and
    every handler sees its viewer (access.around). Give the server the same `web`."""
    if web is None:
        return Pages(engine, status).routes()
    forms = Forms(web)
    login = Login(web)
    routes = [*Pages(engine, status, web.renderer).routes(),
              ("GET", "/ui/login", login.page), ("POST", "/ui/login", login.submit),
              ("POST", "/ui/logout", forms.post("read", login.logout)),
              *IncidentActions(engine, forms).routes(),
              *SilencePages(engine, web.renderer, forms).routes(),
              *ResponderForms(engine, web.renderer, forms).routes()]
    return [(method, pattern, web.around(handler)) for method, pattern, handler in routes]
