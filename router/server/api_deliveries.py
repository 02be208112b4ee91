"""The delivery log and channel tests over HTTP (room: server; imports engine, views, errors).

`GET /v1/deliveries[?incident=INC3][&failed=true][&channel=ID][&limit=N]` lists attempts,
newest first. `POST /v1/channels/{id}/test` sends a test notification through a channel now
and answers with the attempt, as PagerDuty's "Send test event" does.
"""

from __future__ import annotations

from typing import Protocol

from router.engine import Attempt, Engine, parse_incident_id, views
from router.errors import BadRequest, NotFound
from router.server.routes import Request, Response


class ChannelTester(Protocol):
    """What sends a test notification (the daemon's deliverer)."""

    async def test(self, channel_id: str) -> Attempt: ...


class Deliveries:
    def __init__(self, engine: Engine, tester: ChannelTester | None) -> None:
        self.engine = engine
        self.tester = tester

    async def list(self, request: Request) -> Response:
        failed_text = (request.query.get("failed") or ["false"])[-1].lower()
        if failed_text not in ("true", "false", "1", "0"):
            raise BadRequest("failed", "expected true or false")
        limit = request.limit(100, 1000)
        incident_id = (request.query.get("incident") or [None])[-1]
        if incident_id is not None:
            try:  # named as the query names it, not as the engine does
                incident_id = f"INC{parse_incident_id(incident_id)}"
            except BadRequest as bad:
                raise BadRequest("incident", bad.message) from None
        found = await self.engine.deliveries(
            incident_id=incident_id, failed=failed_text in ("true", "1"),
            channel=(request.query.get("channel") or [None])[-1], limit=limit)
        return Response.json(200, {"deliveries": [views.attempt_json(item) for item in found]})

    async def test(self, request: Request) -> Response:
        channel_id = request.params["id"]
        if self.tester is None:
            raise NotFound("this server sends no notifications")
        try:
            attempt = await self.tester.test(channel_id)
        except LookupError:  # the deliverer's word for an unknown channel
            raise NotFound(f"no channel {channel_id}") from None
        status = 200 if attempt.outcome in ("delivered", "skipped") else 502
        return Response.json(status, views.attempt_json(attempt))
