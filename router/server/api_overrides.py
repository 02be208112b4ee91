"""Run-time rota overrides over HTTP (room: server; imports engine, overrides, errors).

`GET /v1/rotas/{id}/overrides[?all=true][&limit=N]` lists a rota's overrides in force or to
come (with `all`, removed and ended ones too), the last `limit` (default 100) by start and
`overrides_omitted`, how many earlier ones it left out; `POST /v1/rotas/{id}/overrides` adds
one (201);
`DELETE /v1/overrides/{id}` removes one in force or to come (200; the row stays as history).
The checks are router/engine/overrides.py's, shared with `router override`: each failure is a 400
naming the field of the JSON body (`rota` for the path's rota).

POST body: {"person": "dave", "from": "2026-12-24T09:00" (default: now),
            "until": "2026-12-27T09:00", "reason": "covering for alice",
            "replaces": "alice" (optional; without it the whole rota), "created_by": "bob"}
Times are ISO 8601; without an offset they are wall-clock time in the rota's timezone.
The 201 answer is the override with `warnings`: sentences, [] when none (`replaces` names
someone not on call in that window: the override changes nothing as the rota stands).
"""

from __future__ import annotations

from typing import Any

from router.engine import Engine
from router.engine.overrides import (
    add_override_warned,
    latest_overrides,
    override_json,
    parse_override_id,
    parse_time,
    remove_override,
)
from router.errors import BadRequest
from router.server.routes import LISTING_LIMIT, LISTING_MOST, Request, Response


def _required(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise BadRequest(name, "expected text" if name in body else "is required")
    return value


def _optional(body: dict[str, Any], name: str) -> str | None:
    return None if body.get(name) is None else _required(body, name)


class Overrides:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def list(self, request: Request) -> Response:
        """The last `limit` overrides by start and how many earlier ones were left out."""
        every = (request.query.get("all") or ["false"])[-1].lower() in ("1", "true", "yes")
        found, total = await latest_overrides(self.engine, request.params["id"], every,
                                              request.limit(LISTING_LIMIT, LISTING_MOST))
        now = self.engine.now()
        return Response.json(200, {"overrides": [override_json(item, now) for item in found],
                                   "overrides_omitted": total - len(found)})

    async def add(self, request: Request) -> Response:
        body = request.json_object()
        config, rota_id = self.engine.config, request.params["id"]
        start_text = _optional(body, "from")
        start = (self.engine.now() if start_text is None
                 else parse_time(config, rota_id, "from", start_text))
        end = parse_time(config, rota_id, "until", _required(body, "until"))
        added = await add_override_warned(
            self.engine, rota_id, person=_required(body, "person"), start=start, end=end,
            reason=_required(body, "reason"), replaces=_optional(body, "replaces"),
            created_by=_optional(body, "created_by") or "")
        return Response.json(201, override_json(added.override, self.engine.now())
                             | {"warnings": list(added.warnings)})

    async def remove(self, request: Request) -> Response:
        removed = await remove_override(self.engine, parse_override_id(request.params["id"]))
        return Response.json(200, override_json(removed, self.engine.now()))
