"""Direct notifications over HTTP (room: server; imports engine, errors).

`POST /v1/notify` sends one message (title, message, severity, tags, context) to one
channel or a list, `POST /v1/notify/batch` many at once, through the outbox like every page
(engine/direct.py); `GET /v1/channels` lists the channels a message may name, with their
type and the settings each needs, never a value.
"""

from __future__ import annotations

from collections.abc import Callable

from router.engine import Engine
from router.engine.direct import Queued, read_send
from router.errors import BadRequest
from router.server.routes import Request, Response


class Notify:
    """The notify and channels endpoints."""

    def __init__(self, engine: Engine, trace_id: Callable[[Request], str]) -> None:
        self.engine = engine
        self.trace_id = trace_id

    async def send(self, request: Request) -> Response:
        """POST /v1/notify: one message; 202 with the notifications queued."""
        send = read_send(request.json_object())
        [queued] = await self.engine.notify([send], trace_id=self.trace_id(request))
        return Response.json(202, {"status": "queued", "notifications": _queued(queued)})

    async def batch(self, request: Request) -> Response:
        """POST /v1/notify/batch: `{"messages": [...]}`, all queued in one transaction or
        none (the first message at fault is named: `messages[2].channel`)."""
        messages = request.json_object().get("messages")
        if not isinstance(messages, list):
            raise BadRequest("messages", "expected a list of messages")
        sends = [read_send(item, f"messages[{position}]")
                 for position, item in enumerate(messages)]
        queued = await self.engine.notify(sends, trace_id=self.trace_id(request))
        return Response.json(202, {"status": "queued", "messages": [
            {"notifications": _queued(each)} for each in queued]})

    async def channels(self, request: Request) -> Response:
        """GET /v1/channels: every channel, its type and what its type needs."""
        return Response.json(200, {"channels": self.engine.channels()})


def _queued(queued: list[Queued]) -> list[dict[str, str]]:
    return [{"id": item.notification_id, "channel": item.channel} for item in queued]
