"""Heartbeats over HTTP (room: server; imports engine, errors).

`POST|GET /v1/heartbeats/{id}?token=...` is a job checking in; `/{id}/start` says it
started, `/{id}/fail` that it failed, `/{id}/{exit_code}` reports its exit code (0 a
success, 1-255 a failure). The body, if any, is kept as the last message (its last 4 KiB:
where a job's error is). A ping needs no bearer token: the heartbeat's own secret `token`
in the URL is the credential (access `ping`), compared in constant time, and a wrong one
is the same 404 as an unknown id, so the ids cannot be found by trying. GET is accepted
because many cron jobs and appliances can only fetch a URL.

`GET /v1/heartbeats` (read scope) lists every heartbeat: state, last ping, next deadline.
"""

from __future__ import annotations

from router.engine import Engine
from router.engine.heartbeats import Ping, heartbeat_json, kept_message, signal_of
from router.errors import BadRequest
from router.server.routes import Handler, Request, Response


class HeartbeatApi:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def ping(self, action: str | None) -> Handler:
        """The handler of one ping route: `action` is "" (a plain ping), "start" or "fail";
        None reads the exit code from the path."""
        async def handle(request: Request) -> Response:
            token = (request.query.get("token") or [""])[-1]
            heartbeat = self.engine.heartbeats.identify(request.params["id"], token)
            said = request.params.get("exit_code", "") if action is None else action
            try:
                signal = signal_of(said)
            except ValueError as error:
                raise BadRequest("exit_code", str(error)) from None
            record = await self.engine.heartbeats.ping(heartbeat, Ping(
                signal=signal.signal, exit_code=signal.exit_code,
                message=kept_message(request.body)))
            return Response.json(200, {
                "heartbeat": heartbeat.id, "state": record.state,
                "deadline": None if record.deadline is None else record.deadline.isoformat()})
        return handle

    async def list(self, request: Request) -> Response:
        listed = await self.engine.heartbeats.listed()
        return Response.json(200, {"heartbeats": [heartbeat_json(heartbeat, record)
                                                  for heartbeat, record in listed]})
