"""Incidents and silences over HTTP (room: server; imports engine, views, errors).

`GET /v1/incidents[?state=][&service=][&since=][&limit=]` lists incidents;
`GET /v1/incidents/{id}[?limit=]` answers one with its newest alerts and timeline entries
and its latest analysis; `POST /v1/incidents/{id}/acknowledge|resolve|escalate` moves it
(`{"by": NAME}`, the actor `api:NAME`). `GET /v1/silences[?all=true][&limit=]` lists the
run-time silences, `POST /v1/silences` adds one (201) and `DELETE /v1/silences/{id}`
expires it. An unknown incident or silence is 404, a transition its state forbids 409.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from router.engine import Engine, views
from router.engine.analysis import run_json as analysis_json
from router.errors import BadRequest, NotFound
from router.server.api_oncall import query_instant
from router.server.routes import LISTING_LIMIT, LISTING_MOST, Handler, Request, Response

DETAIL_LIMIT, DETAIL_MOST = 1000, 10_000
"""GET /v1/incidents/{id}: the newest alerts and timeline entries it answers by default and
at most (`?limit=`); `router incident show` reads every one."""


def _text(document: dict[str, Any], name: str, default: str | None = None) -> str:
    value = document.get(name, default)
    if not isinstance(value, str):
        raise BadRequest(name, "expected text" if name in document else "is required")
    return value


class Incidents:
    """Incidents and silences: reads, lifecycle transitions, run-time silences."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def list(self, request: Request) -> Response:
        states = [state for value in request.query.get("state", ())
                  for state in value.split(",") if state]
        unknown = set(states) - {"triggered", "acknowledged", "resolved"}
        if unknown:
            raise BadRequest("state", f"unknown state {sorted(unknown)[0]!r}; expected "
                                      "triggered, acknowledged or resolved")
        service = (request.query.get("service") or [None])[-1]
        since = query_instant(request, "since", datetime.min.replace(tzinfo=UTC))
        found = await self.engine.incidents(states=states, service=service, since=since,
                                            limit=request.limit(100, 1000))
        return Response.json(200, {"incidents": [views.incident_json(item) for item in found]})

    async def show(self, request: Request) -> Response:
        """The incident with its newest `limit` alerts and timeline entries and how many
        earlier ones were left out (issue 22: one request's work stays bounded)."""
        limit = request.limit(DETAIL_LIMIT, DETAIL_MOST)
        detail = await self.engine.incident(request.params["id"], limit)
        if detail is None:
            raise NotFound(f"no incident {request.params['id']}")
        runs = await self.engine.analysis.runs(request.params["id"])  # newest first
        return Response.json(200, {**views.detail_json(detail),
                                   "alerts_omitted": detail.alerts_omitted,
                                   "timeline_omitted": detail.timeline_omitted,
                                   "analysis": analysis_json(runs[0]) if runs else None})

    def transition(self, verb: str) -> Handler:
        async def handle(request: Request) -> Response:
            incident_id = request.params["id"]
            body = request.json_object() if request.body.strip() else {}
            actor = f"api:{_text(body, 'by', 'anonymous')}"
            if verb == "acknowledge":  # NotFound: 404, Conflict (escalate): 409
                incident = await self.engine.acknowledge(incident_id, actor)
            elif verb == "resolve":
                incident = await self.engine.resolve(incident_id, actor)
            else:
                incident, _ = await self.engine.escalate(incident_id, actor)
            return Response.json(200, views.incident_json(incident))
        return handle

    async def silences(self, request: Request) -> Response:
        """At most `limit` silences, those that end last, by id, and how many were left
        out (issue 22: ended ones pile up for ever)."""
        every = (request.query.get("all") or ["false"])[-1] in ("1", "true", "yes")
        found, total = await self.engine.bounded_silences(
            include_expired=every, limit=request.limit(LISTING_LIMIT, LISTING_MOST))
        now = self.engine.now()
        return Response.json(200, {"silences": [views.silence_json(item, now)
                                                for item in found],
                                   "silences_omitted": total - len(found)})

    async def add_silence(self, request: Request) -> Response:
        body = request.json_object()
        matchers = body.get("matchers")
        if not isinstance(matchers, list) or not all(
                isinstance(item, dict) and all(isinstance(item.get(key), str)
                                               for key in ("name", "operator", "value"))
                for item in matchers):
            raise BadRequest("matchers", 'expected a list of {"name", "operator", "value"} '
                                         "objects, operator one of = != =~ !~")
        until_resolved = body.get("until_resolved", False)
        if not isinstance(until_resolved, bool):
            raise BadRequest("until_resolved", "expected true or false")
        silence = await self.engine.create_silence(
            [(item["name"], item["operator"], item["value"]) for item in matchers],
            ends_at=_body_instant(body, "ends_at")
            if "ends_at" in body or not until_resolved else None,
            starts_at=_body_instant(body, "starts_at") if "starts_at" in body else None,
            reason=_text(body, "reason"), created_by=_text(body, "created_by", ""),
            until_resolved=until_resolved)
        return Response.json(201, views.silence_json(silence, self.engine.now()))

    async def expire_silence(self, request: Request) -> Response:
        if not await self.engine.expire_silence(request.params["id"]):
            raise NotFound(f"no silence {request.params['id']} in force")
        return Response.json(200, {"id": request.params["id"], "state": "expired"})


def _body_instant(body: dict[str, Any], name: str) -> datetime:
    text = _text(body, name)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(name, f"expected an ISO 8601 instant, got {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
