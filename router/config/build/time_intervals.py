"""The `time_intervals` section -> model (room: config): Alertmanager's syntax, every value
read into numbers here so `core.time_intervals` only compares.

Each bad value is reported at its own place (`time_intervals[0].time_intervals[1].weekdays[0]`)
with what was expected; the schema has already checked the shape.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from typing import Any

from router.config.build.context import Context
from router.config.load import Source
from router.config.model import TimeInterval, TimeSpec
from router.config.values import parse_time_of_day, parse_timezone

WEEKDAY_NAMES = tuple(name.lower() for name in calendar.day_name)
"""monday ... sunday; index = `date.weekday()`."""
MONTH_NAMES = tuple(name.lower() for name in calendar.month_name[1:])
"""january ... december; index + 1 = the month's number."""


def time_interval(context: Context, data: dict[str, Any], source: Source) -> TimeInterval:
    specs = source.at("time_intervals")
    return TimeInterval(
        name=data["name"],
        specs=tuple(spec(context, item, specs.at(index))
                    for index, item in enumerate(data.get("time_intervals") or ())),
        where=context.place(source))


def spec(context: Context, data: dict[str, Any], source: Source) -> TimeSpec:
    location = context.parse(parse_timezone, data, source, "location")
    return TimeSpec(
        location=location or context.settings.timezone,
        times=tuple(span for index, item in enumerate(data.get("times") or ())
                    if (span := _times(context, item, source.at("times").at(index)))),
        weekdays=frozenset(day for first, last in _ranges(context, data, source, "weekdays",
                                                          _weekday)
                           for day in range(first, last + 1)),
        days_of_month=_ranges(context, data, source, "days_of_month", _day_of_month),
        months=frozenset(month for first, last in _ranges(context, data, source, "months",
                                                          _month)
                         for month in range(first, last + 1)),
        years=_ranges(context, data, source, "years", _year),
        where=source.where)


def _times(context: Context, data: dict[str, Any], source: Source) -> tuple[int, int] | None:
    """`{start_time, end_time}` as minutes of the day, end exclusive; `24:00` is 1440."""
    start = context.parse(parse_time_of_day, data, source, "start_time")
    end = context.parse(parse_time_of_day, data, source, "end_time")
    if start is None or end is None:
        return None
    first = start.hour * 60 + start.minute
    last = 1440 if str(data["end_time"]).strip() == "24:00" else end.hour * 60 + end.minute
    if str(data["start_time"]).strip() == "24:00" or first >= last:
        context.error(source.at("end_time"), f"end_time {data['end_time']!r} must be after "
                                             f"start_time {data['start_time']!r} "
                                             "(a range may not pass midnight: split it)")
        return None
    return first, last


def _ranges(context: Context, data: dict[str, Any], source: Source, key: str,
            parse: Callable[[str], int]) -> tuple[tuple[int, int], ...]:
    """A list of `value` or `first:last` items, each parsed by `parse`; bad ones reported."""
    found = []
    for index, item in enumerate(data.get(key) or ()):
        text = str(item).strip().lower()
        first_text, colon, last_text = text.partition(":")
        try:
            first = parse(first_text)
            last = parse(last_text) if colon else first
            _ordered(key, text, first, last)
        except ValueError as error:
            context.error(source.at(key).at(index), str(error))
            continue
        found.append((first, last))
    return tuple(found)


def _ordered(key: str, text: str, first: int, last: int) -> None:
    """A range must not run backwards (days of the month compared as in a 31-day month)."""
    def position(value: int) -> int:
        return 32 + value if key == "days_of_month" and value < 0 else value

    if position(first) > position(last):
        raise ValueError(f"the range {text!r} starts after it ends; expected first:last, "
                         "first no later than last")


def _weekday(text: str) -> int:
    if text not in WEEKDAY_NAMES:
        raise ValueError(f"{text!r} is not a day of the week; expected monday ... sunday, "
                         "or a range such as monday:friday")
    return WEEKDAY_NAMES.index(text)


def _month(text: str) -> int:
    if text in MONTH_NAMES:
        return MONTH_NAMES.index(text) + 1
    if text.isdigit() and 1 <= int(text) <= 12:
        return int(text)
    raise ValueError(f"{text!r} is not a month; expected january ... december or 1 to 12, "
                     "or a range such as january:march")


def _day_of_month(text: str) -> int:
    try:
        day = int(text)
    except ValueError:
        day = 0
    if not (1 <= day <= 31 or -31 <= day <= -1):
        raise ValueError(f"{text!r} is not a day of the month; expected 1 to 31, or -1 "
                         "(the last day) to -31, or a range such as 1:5 or -7:-1")
    return day


def _year(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 9999:
        raise ValueError(f"{text!r} is not a year; expected a year such as 2026, or a range "
                         "such as 2026:2027")
    return int(text)
