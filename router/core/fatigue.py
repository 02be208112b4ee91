"""How much on-call each person carries, and who is over the limits (room: core; pure).

Imports config.model and core.oncall. For a period [start, end) and per person:
- `hours`: time on call in any rota; overlapping shifts in two rotas count once.
- `night_hours`: the part of it between 22:00 and 07:00 on the person's own wall clock.
- `weekend_hours`: the part of it on Saturday or Sunday on the person's own wall clock.
- `pages`, `night_pages`: pages received in the period, given by the caller (the incident store
  has them), and those at night by the same clock.
- `flags`: the names of the `FatigueLimits` exceeded, each limit scaled from a week to the
  period's length (a 14-day report allows twice the weekly hours).
Local times become instants as in `oncall` (fold=0). People known only from shifts (no entry
in `people`) are measured in UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from router.config.model import FatigueLimits, Override, Person, Rota
from router.core.oncall import merge_spans, shifts_between

NIGHT_START = time(22)
NIGHT_END = time(7)
_DAY = timedelta(days=1)
_HOUR = timedelta(hours=1)
_WEEK = timedelta(weeks=1)

_Span = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True, kw_only=True)
class Fatigue:
    person: str
    hours: float
    night_hours: float
    weekend_hours: float
    pages: int = 0
    night_pages: int = 0
    flags: tuple[str, ...] = ()


def _overlap(first: Sequence[_Span], second: Sequence[_Span]) -> timedelta:
    """Total time in both of two sorted lists of disjoint spans (one pass over both)."""
    total, left, right = timedelta(), 0, 0
    while left < len(first) and right < len(second):
        start = max(first[left][0], second[right][0])
        end = min(first[left][1], second[right][1])
        total += max(end - start, timedelta())
        if first[left][1] <= second[right][1]:
            left += 1
        else:
            right += 1
    return total


def _local(day: date, moment: time, timezone: ZoneInfo) -> datetime:
    return datetime.combine(day, moment, tzinfo=timezone).astimezone(UTC)


def _days(start: datetime, end: datetime, timezone: ZoneInfo) -> list[date]:
    """Every local date touching [start, end), and the one before (a night starts there)."""
    first = start.astimezone(timezone).date() - _DAY
    count = (end.astimezone(timezone).date() - first).days + 1
    return [first + _DAY * number for number in range(count)]


def _nights(start: datetime, end: datetime, timezone: ZoneInfo) -> list[_Span]:
    return [(_local(day, NIGHT_START, timezone), _local(day + _DAY, NIGHT_END, timezone))
            for day in _days(start, end, timezone)]


def _weekends(start: datetime, end: datetime, timezone: ZoneInfo) -> list[_Span]:
    return [(_local(day, time(), timezone), _local(day + 2 * _DAY, time(), timezone))
            for day in _days(start, end, timezone) if day.weekday() == 5]


def _is_night(moment: datetime, timezone: ZoneInfo) -> bool:
    local = moment.astimezone(timezone).time()
    return local >= NIGHT_START or local < NIGHT_END


def _flags(fatigue: Fatigue, limits: FatigueLimits, weeks: float) -> tuple[str, ...]:
    measured = (
        ("hours_per_week", fatigue.hours, limits.hours_per_week),
        ("night_hours_per_week", fatigue.night_hours, limits.night_hours_per_week),
        ("weekend_hours_per_week", fatigue.weekend_hours, limits.weekend_hours_per_week),
        ("pages_per_week", fatigue.pages, limits.pages_per_week),
    )
    return tuple(name for name, value, limit in measured
                 if limit is not None and value > limit * weeks)


def _measure(person: str, spans: Sequence[_Span], timezone: ZoneInfo,
             pages: Sequence[datetime], period: _Span) -> Fatigue:
    start, end = period
    received = [page for page in pages if start <= page < end]
    return Fatigue(
        person=person,
        hours=sum((span_end - span_start for span_start, span_end in spans),
                  timedelta()) / _HOUR,
        night_hours=_overlap(spans, _nights(start, end, timezone)) / _HOUR,
        weekend_hours=_overlap(spans, _weekends(start, end, timezone)) / _HOUR,
        pages=len(received),
        night_pages=sum(_is_night(page, timezone) for page in received),
    )


def fatigue_report(people: Mapping[str, Person], rotas: Iterable[Rota], start: datetime,
                   end: datetime, limits: FatigueLimits,
                   pages: Mapping[str, Sequence[datetime]] | None = None,
                   extra_overrides: Mapping[str, Sequence[Override]] | None = None,
                   ) -> tuple[Fatigue, ...]:
    """On-call load per person over [start, end), sorted by person id.

    Args:
        people: everyone to report on, zero hours included; gives each one's timezone.
        pages: per person id, when each page reached them; empty until the store exists.
        extra_overrides: per rota id, run-time overrides (as `oncall.shift_at` takes them).
    """
    on_call: dict[str, list[_Span]] = {person: [] for person in people}
    for rota in rotas:
        for shift in shifts_between(rota, start, end, (extra_overrides or {}).get(rota.id, ())):
            if shift.person is not None:
                on_call.setdefault(shift.person, []).append((shift.start, shift.end))
    weeks = (end - start) / _WEEK
    report = []
    for person, spans in sorted(on_call.items()):
        known = people.get(person)
        timezone = known.timezone if known else ZoneInfo("UTC")
        fatigue = _measure(person, merge_spans(spans), timezone, (pages or {}).get(person, ()),
                           (start, end))
        report.append(replace(fatigue, flags=_flags(fatigue, limits, weeks)))
    return tuple(report)
