"""The on-call pages (room: web): who is on call now and the next handoffs of every rota,
and one rota's week.

Both read as `GET /v1/oncall` and `GET /v1/rotas/{id}/shifts` do: the config snapshot's
rotas with the store's run-time overrides applied (engine/roster.py, engine/overrides.py).
The week is seven local days of the rota's own timezone from a date: each day runs from
midnight to midnight on that clock, so a day that a DST change shortens or lengthens has
23 or 25 hours, and a shift is shown on each day it covers, clipped to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from router.config.model import Rota
from router.core.oncall import OVERRIDE, Shift
from router.engine import Engine, overrides, roster
from router.errors import BadRequest
from router.server.routes import Handler, Request, Response
from router.web.fields import query
from router.web.render import Renderer

HANDOFFS = 3
"""How many handoffs after the current shift the on-call page shows per rota."""
LOOK_AHEAD = timedelta(days=28)
"""How far ahead the on-call page looks for them."""
WEEK = 7


@dataclass(frozen=True, slots=True)
class RotaNow:
    """One rota's row on the on-call page."""

    rota: Rota
    shift: Shift
    handoffs: tuple[Shift, ...]


@dataclass(frozen=True, slots=True)
class Day:
    """One local day of the week view: its shifts clipped to it."""

    day: date
    hours: float
    shifts: tuple[Shift, ...]


class OnCallPages:
    def __init__(self, engine: Engine, renderer: Renderer) -> None:
        self.engine = engine
        self.renderer = renderer

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [("GET", "/ui/oncall", self.now),
                ("GET", "/ui/oncall/{id}", self.week)]

    async def now(self, request: Request) -> Response:
        config, moment = self.engine.config, self.engine.now()
        extra = await overrides.extra_overrides(self.engine, moment)
        rows = []
        for answer in roster.on_call(config, None, moment, extra):
            ahead = roster.schedule(config, answer.rota.id, moment, moment + LOOK_AHEAD,
                                    extra.get(answer.rota.id, ()))
            rows.append(RotaNow(answer.rota, answer.shift, tuple(ahead[1:1 + HANDOFFS])))
        return self.renderer.page("oncall.html", rotas=rows, at=moment,
                                  local=local, people=config.people)

    async def week(self, request: Request) -> Response:
        rota_id = request.params["id"]
        rota = self.engine.config.rotas.get(rota_id)
        if rota is None:
            return self.renderer.message(404, "Unknown rota", f"router has no rota {rota_id}.")
        today = self.engine.now().astimezone(rota.timezone).date()
        try:
            first = parse_day("from", query(request, "from"), today)
        except BadRequest as error:
            return self.renderer.message(400, "Bad filter", str(error))
        days = _days(first)
        start, end = midnight(days[0], rota.timezone), midnight(
            days[-1] + timedelta(days=1), rota.timezone)
        extra = await overrides.extra_overrides(self.engine, start)
        shifts = roster.schedule(self.engine.config, rota.id, start, end,
                                 extra.get(rota.id, ()))
        return self.renderer.page(
            "oncall_week.html", rota=rota, first=first, local=local, override=OVERRIDE,
            days=[_day(day, rota.timezone, shifts) for day in days],
            before=(first - timedelta(days=WEEK)).isoformat(),
            after=(first + timedelta(days=WEEK)).isoformat(),
            overrides=[item for item in await overrides.overrides(self.engine, rota.id)
                       if item.start < end and item.end > start])


def parse_day(name: str, text: str, default: date) -> date:
    """The date query field `name` gives (`default` when empty), kept to years 1000 to
    9000 so that a week or a range around it never leaves what datetime holds (the fatigue
    page's too)."""
    if not text:
        return default
    try:
        found = date.fromisoformat(text)
    except ValueError:
        raise BadRequest(name, f"expected a date such as 2026-12-24, got {text[:40]!r}") \
            from None
    if not 1000 <= found.year <= 9000:
        raise BadRequest(name, f"expected a year from 1000 to 9000, got {found.year}")
    return found


def _days(first: date) -> list[date]:
    return [first + timedelta(days=offset) for offset in range(WEEK)]


def midnight(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of `day` on `zone`'s clock (midnight; no DST change in use skips
    it, and zoneinfo gives the first of a repeated one), in UTC: Python subtracts and
    compares two instants of one zone by their wall clocks, which a DST change breaks."""
    return datetime.combine(day, time(), zone).astimezone(UTC)


def _day(day: date, zone: ZoneInfo, shifts: list[Shift]) -> Day:
    start, end = midnight(day, zone), midnight(day + timedelta(days=1), zone)
    clipped = tuple(Shift(shift.person, max(shift.start, start), min(shift.end, end),
                          shift.layer)
                    for shift in shifts if shift.start < end and shift.end > start)
    return Day(day, (end - start).total_seconds() / 3600, clipped)


def local(moment: datetime, zone: ZoneInfo, with_date: bool = True) -> str:
    """An instant on a rota's clock: `Mon 2026-03-30 09:00 CEST` (or just `09:00`)."""
    if moment.year in (1, 9999):
        return "—"
    shown = moment.astimezone(zone)
    return f"{shown:%a %Y-%m-%d %H:%M %Z}" if with_date else f"{shown:%H:%M}"
