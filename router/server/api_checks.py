"""Local health checks over HTTP (room: server; imports engine, errors).

`GET /v1/checks` lists every configured check with its status (`pending` before its first
run), since when, and its last run; `GET /v1/checks/{id}/runs[?limit=N]` its audit trail,
newest first: status, message, figures, duration, error and trace id of each run.
"""

from __future__ import annotations

from router.engine import Engine
from router.engine.checks import checks_json, run_json
from router.server.routes import Request, Response


class Checks:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def list(self, request: Request) -> Response:
        states = await self.engine.checks.states()
        return Response.json(200, {"checks": checks_json(self.engine.config.checks, states)})

    async def runs(self, request: Request) -> Response:
        limit = request.limit(100, 1000)
        check_id = request.params["id"]
        runs = await self.engine.checks.runs(check_id, limit)
        return Response.json(200, {"check": check_id, "runs": [run_json(run) for run in runs]})
