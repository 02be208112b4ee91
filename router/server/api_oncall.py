"""On-call answers over HTTP (room: server; imports engine, roster, overrides, errors).

`GET /v1/oncall[?at=][&team=]` answers who is on call on each rota at an instant,
`GET /v1/rotas/{id}/shifts[?from=][&until=]` a rota's shifts over a window, and
`GET /v1/rotas/{id}.ics` and `/v1/people/{id}.ics` the calendar feeds (the feed's own token,
store/feeds.py); `GET /v1/fatigue[?from=][&until=]` how much each person was paged. Every
answer is the current config's rotas with the store's run-time overrides
(engine/roster.py, shared with the CLI); an instant without an offset is wall-clock time
in the rota's or the settings' timezone, as the CLI reads it.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from router.engine import Engine, overrides, roster
from router.errors import BadRequest
from router.server.routes import Request, Response


def query_instant(request: Request, name: str, default: datetime, zone: tzinfo = UTC
                  ) -> datetime:
    """A query parameter as an aware instant; naive text is wall-clock time in `zone`, as
    the CLI reads it (roster.read_instant)."""
    values = request.query.get(name)
    if not values:
        return default
    try:
        return roster.read_instant(values[-1], zone)
    except ValueError as error:
        raise BadRequest(name, str(error)) from None


class OnCall:
    """On-call answers from the current config snapshot and the store's run-time overrides."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def window(self, request: Request, zone: tzinfo) -> tuple[datetime, datetime]:
        """?from= and ?until=; without an offset, in `zone` (as `router fatigue` and
        `router schedule` read --from and --until)."""
        start = query_instant(request, "from", self.engine.now(), zone)
        end = query_instant(request, "until", start + roster.CALENDAR_SPAN, zone)
        if end <= start:
            raise BadRequest("until", "must be after from")
        return start, end

    async def on_call(self, request: Request) -> Response:
        settings = self.engine.config.settings
        at = query_instant(request, "at", self.engine.now(), settings.timezone)
        team = (request.query.get("team") or [None])[-1]
        extra = await overrides.extra_overrides(self.engine, at)
        answers = roster.on_call(self.engine.config, team, at, extra)
        return Response.json(200, {"at": at.isoformat(),
                                   "rotas": [roster.on_call_json(item) for item in answers]})

    async def shifts(self, request: Request) -> Response:
        rota_id = request.params["id"]
        rota = self.engine.config.rotas.get(rota_id)
        start, end = self.window(request, self.engine.config.settings.timezone
                                 if rota is None else rota.timezone)
        extra = await overrides.extra_overrides(self.engine, start)
        shifts = roster.schedule(self.engine.config, rota_id, start, end,
                                 extra.get(rota_id, ()))
        return Response.json(200, {"rota": rota_id, "from": start.isoformat(),
                                   "until": end.isoformat(),
                                   "shifts": [roster.shift_json(item) for item in shifts]})

    async def rota_ics(self, request: Request) -> Response:
        now = self.engine.now()
        extra = await overrides.extra_overrides(self.engine, roster.calendar_window(now)[0])
        body = roster.rota_ics(self.engine.config, request.params["id"], now,
                               extra.get(request.params["id"], ()))
        return Response(200, body, (("content-type", "text/calendar; charset=utf-8"),))

    async def person_ics(self, request: Request) -> Response:
        now = self.engine.now()
        extra = await overrides.extra_overrides(self.engine, roster.calendar_window(now)[0])
        body = roster.person_ics(self.engine.config, request.params["id"], now, extra)
        return Response(200, body, (("content-type", "text/calendar; charset=utf-8"),))

    async def fatigue(self, request: Request) -> Response:
        start, end = self.window(request, self.engine.config.settings.timezone)
        pages = await self.engine.pages(start, end)
        extra = await overrides.extra_overrides(self.engine, start)
        reports = roster.fatigue(self.engine.config, start, end, pages, extra)
        return Response.json(200, {"from": start.isoformat(), "until": end.isoformat(),
                                   "people": [roster.fatigue_json(item) for item in reports]})
