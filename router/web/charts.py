"""The fatigue page's chart: pages per day per person, as inline SVG (room: web; pure: the
standard library only).

Drawn on the server so the page needs no chart library and no script: a few hundred bytes
of SVG per person and day, stacked bars (or lines) in the Okabe-Ito colours, which stay
apart for colour-blind readers. It is accessible (`role="img"`, a `<title>` and a `<desc>`
that says the totals in words, each bar its own `<title>`), and every label is escaped.
Days are counted on the report's wall clock, so a page at 00:30 local time counts on the
day it was on that clock, across DST changes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
           "#000000")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 36, 8, 12, 40
LEGEND_ROW = 16
MAX_LABELS = 10
"""At most this many dates under the axis; the others are in each bar's title."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DailyCounts:
    """Counts per person per day: `counts[person][i]` is the count on `days[i]`."""

    days: tuple[date, ...]
    counts: Mapping[str, tuple[int, ...]]

    def totals(self) -> tuple[int, ...]:
        return tuple(sum(column) for column in zip(*self.counts.values(), strict=True)) \
            if self.counts else tuple(0 for _ in self.days)


def pages_per_day(pages: Mapping[str, Sequence[datetime]], first: date, last: date,
                  timezone: ZoneInfo) -> DailyCounts:
    """Each person's pages counted per local day from `first` to `last` (both included);
    pages outside those days are left out. People are kept in the order given."""
    days = tuple(first + timedelta(days=offset) for offset in range((last - first).days + 1))
    index = {day: position for position, day in enumerate(days)}
    counts = {}
    for person, moments in pages.items():
        row = [0] * len(days)
        for moment in moments:
            position = index.get(moment.astimezone(timezone).date())
            if position is not None:
                row[position] += 1
        counts[person] = tuple(row)
    return DailyCounts(days=days, counts=counts)


def render(data: DailyCounts, title: str, *, kind: Literal["bar", "line"] = "bar") -> str:
    """The chart as one `<svg>` element, ready to put in a page."""
    people = list(data.counts)
    height = HEIGHT + max(math.ceil(len(people) / 4) - 1, 0) * LEGEND_ROW
    top = _nice_top(max([*data.totals(), 0]) if kind == "bar"
                    else max([value for row in data.counts.values() for value in row] or [0]))
    plot = _Plot(len(data.days), top)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
             f'role="img" aria-labelledby="chart-title chart-desc" class="chart">',
             f'<title id="chart-title">{escape(title)}</title>',
             f'<desc id="chart-desc">{escape(_description(data))}</desc>',
             *_axes(data.days, top, plot)]
    parts += _bars(data, plot) if kind == "bar" else _lines(data, plot)
    parts += _legend(people)
    parts.append("</svg>")
    return "\n".join(parts)


@dataclass(frozen=True, slots=True)
class _Plot:
    """Where value and day go on the canvas."""

    days: int
    top: int

    @property
    def slot(self) -> float:
        return (WIDTH - LEFT - RIGHT) / max(self.days, 1)

    def x(self, position: int) -> float:
        return LEFT + position * self.slot

    def y(self, value: float) -> float:
        return HEIGHT - BOTTOM - (HEIGHT - BOTTOM - TOP) * value / self.top


def _nice_top(largest: int) -> int:
    """The axis's top: 1, 2 or 5 times a power of ten, at least `largest` (and at least 1)."""
    if largest <= 1:
        return 1
    power = int(10 ** math.floor(math.log10(largest)))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= largest)


def _description(data: DailyCounts) -> str:
    if not data.days:
        return "No days in the range."
    span = f"from {data.days[0].isoformat()} to {data.days[-1].isoformat()}"
    each = "; ".join(f"{person} {sum(row)}" for person, row in data.counts.items())
    return f"Pages per day {span}. Total per person: {each or 'nobody was paged'}."


def _axes(days: Sequence[date], top: int, plot: _Plot) -> list[str]:
    baseline = plot.y(0)
    parts = ['<g class="axes" font-size="11" fill="#333" stroke="none">',
             f'<line x1="{LEFT}" y1="{baseline:.1f}" x2="{WIDTH - RIGHT}" '
             f'y2="{baseline:.1f}" stroke="#888"/>']
    for tick in sorted({0, top // 2 if top >= 2 else 0, top}):
        y = plot.y(tick)
        parts.append(f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{tick}</text>')
        if tick:
            parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" '
                         f'stroke="#ddd"/>')
    every = max(1, math.ceil(len(days) / MAX_LABELS))
    for position in range(0, len(days), every):
        day = days[position]
        x = plot.x(position) + plot.slot / 2
        parts.append(f'<text x="{x:.1f}" y="{baseline + 14:.1f}" text-anchor="middle">'
                     f'{day.day} {MONTHS[day.month - 1]}</text>')
    parts.append("</g>")
    return parts


def _bars(data: DailyCounts, plot: _Plot) -> list[str]:
    parts = ['<g class="bars">']
    width = max(plot.slot * 0.8, 1.0)
    for position, day in enumerate(data.days):
        stacked = 0
        for index, (person, row) in enumerate(data.counts.items()):
            if not row[position]:
                continue
            y_top, y_bottom = plot.y(stacked + row[position]), plot.y(stacked)
            stacked += row[position]
            label = f"{person}: {_pages(row[position])} on {day.isoformat()}"
            parts.append(f'<rect x="{plot.x(position) + plot.slot * 0.1:.1f}" '
                         f'y="{y_top:.1f}" width="{width:.1f}" '
                         f'height="{y_bottom - y_top:.1f}" fill="{_colour(index)}">'
                         f'<title>{escape(label)}</title></rect>')
    parts.append("</g>")
    return parts


def _lines(data: DailyCounts, plot: _Plot) -> list[str]:
    parts = ['<g class="lines" fill="none" stroke-width="2">']
    for index, (person, row) in enumerate(data.counts.items()):
        points = " ".join(f"{plot.x(position) + plot.slot / 2:.1f},{plot.y(value):.1f}"
                          for position, value in enumerate(row))
        parts.append(f'<polyline points="{points}" stroke="{_colour(index)}">'
                     f'<title>{escape(f"{person}: {_pages(sum(row))}")}</title></polyline>')
    parts.append("</g>")
    return parts


def _legend(people: Sequence[str]) -> list[str]:
    parts = ['<g class="legend" font-size="11" fill="#333">']
    for index, person in enumerate(people):
        x = LEFT + (index % 4) * (WIDTH - LEFT) / 4
        y = HEIGHT - 6 + (index // 4) * LEGEND_ROW
        parts.append(f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="10" height="10" '
                     f'fill="{_colour(index)}"/>'
                     f'<text x="{x + 14:.1f}" y="{y:.1f}">{escape(person)}</text>')
    parts.append("</g>")
    return parts


def _colour(index: int) -> str:
    return COLOURS[index % len(COLOURS)]


def _pages(count: int) -> str:
    return f"{count} page" + ("" if count == 1 else "s")

