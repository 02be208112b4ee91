"""Incident notes over HTTP (room: server; imports engine, views, errors).

`POST /v1/incidents/{id}/notes` with `{"text": "restarted the pool", "author": "ann"}` adds a
note to the incident's timeline as `api:ann` (`api:anonymous` without an author) and answers
201 with the timeline entry; an unknown incident is 404, an empty or too long text (more
than engine.notes.MAX_CHARACTERS) 400 naming `text`.
"""

from __future__ import annotations

from typing import Any

from router.engine import Engine, views
from router.errors import BadRequest
from router.server.routes import Request, Response


class Notes:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def add(self, request: Request) -> Response:
        body = request.json_object()
        text = _text(body, "text", required=True)
        author = _text(body, "author", required=False).strip() or "anonymous"
        entry = await self.engine.add_note(request.params["id"], text, f"api:{author}")
        return Response.json(201, views.timeline_json(entry))


def _text(body: dict[str, Any], name: str, *, required: bool) -> str:
    if name not in body and not required:
        return ""
    value = body.get(name)
    if not isinstance(value, str):
        raise BadRequest(name, "expected text" if name in body else "is required")
    return value
