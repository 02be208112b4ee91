"""The fatigue page (room: web): the fatigue report for a range of days, with a chart of the
pages per person per day.

`GET /ui/fatigue?from=2026-03-01&to=2026-03-31` reads the days on the settings' clock
(`settings.timezone`), both included: from the first's midnight to the midnight after the
last, so a range across a DST change has its 23- or 25-hour day. The report is
`GET /v1/fatigue`'s (engine/roster.py: hours on call, at night, at weekends, pages, and the
limits each person went over), run-time overrides applied; the chart is web/charts.py's
server-drawn SVG, so the page needs no script. Without dates: the seven days to today.
"""

from __future__ import annotations

from datetime import date, timedelta

from markupsafe import Markup

from router.engine import Engine, overrides, roster
from router.errors import BadRequest
from router.server.routes import Handler, Request, Response
from router.web import charts
from router.web.fields import query
from router.web.oncall import midnight, parse_day
from router.web.render import Renderer

DEFAULT_DAYS = 7
MOST_DAYS = 92
"""The longest range a page reports on (a quarter): the chart draws a bar per person and
day, and a year of them for three people is 130 KB, past the 100 KB a page may weigh
(tests/web/test_responder_weight.py). `router fatigue` and `GET /v1/fatigue` take longer
ranges."""


class FatiguePages:
    def __init__(self, engine: Engine, renderer: Renderer) -> None:
        self.engine = engine
        self.renderer = renderer

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [("GET", "/ui/fatigue", self.fatigue)]

    async def fatigue(self, request: Request) -> Response:
        zone = self.engine.config.settings.timezone
        today = self.engine.now().astimezone(zone).date()
        try:
            first, last = _range(query(request, "from"), query(request, "to"), today)
        except BadRequest as error:
            return self.renderer.message(400, "Bad filter", str(error))
        start, end = midnight(first, zone), midnight(last + timedelta(days=1), zone)
        pages = await self.engine.pages(start, end)
        extra = await overrides.extra_overrides(self.engine, start)
        report = roster.fatigue(self.engine.config, start, end, pages, extra)
        chart = charts.render(charts.pages_per_day(pages, first, last, zone),
                              f"Pages per day, {first.isoformat()} to {last.isoformat()}")
        return self.renderer.page(
            "fatigue.html", report=report, first=first, last=last, zone=zone,
            chart=Markup(chart),  # trusted: charts.py escapes every label it draws
            paged=bool(pages))


def _range(first_text: str, last_text: str, today: date) -> tuple[date, date]:
    last = parse_day("to", last_text, today)
    first = parse_day("from", first_text, last - timedelta(days=DEFAULT_DAYS - 1))
    if last < first:
        raise BadRequest("to", f"must be on or after from ({first.isoformat()})")
    if (last - first).days >= MOST_DAYS:
        raise BadRequest("to", f"expected at most {MOST_DAYS} days from from "
                               f"({first.isoformat()})")
    return first, last
