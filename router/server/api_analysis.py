"""Incident analysis over HTTP (room: server; imports engine, errors): issue 21 item 5.

`GET /v1/incidents/{id}/analysis` (scope read) answers every analysis run of the incident,
newest first, with its audit fields (provider settings redacted); `POST` (scope respond)
asks for a new run, answered 202 with the pending run: it runs in the analysis pool like a
first page's, and its result joins the timeline and the follow-ups. An unknown incident, or
one whose route and service have no `analysis`, is 404.
"""

from __future__ import annotations

from collections.abc import Callable

from router.engine import Engine
from router.engine.analysis import run_json
from router.server.routes import Request, Response


class AnalysisApi:
    def __init__(self, engine: Engine, trace_id: Callable[[Request], str]) -> None:
        self.engine = engine
        self.trace_id = trace_id

    async def list(self, request: Request) -> Response:
        runs = await self.engine.analysis.runs(request.params["id"])
        return Response.json(200, {"runs": [run_json(run) for run in runs]})

    async def run_again(self, request: Request) -> Response:
        run = await self.engine.analysis.request_again(request.params["id"],
                                                       self.trace_id(request))
        return Response.json(202, run_json(run))
