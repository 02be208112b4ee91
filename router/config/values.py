"""Text -> typed values for the config language (room: config; imports config.model, errors).

Each parser takes the text a person wrote and returns the value, or raises `ValueError` with
a message that says what was expected; the build adds the place.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from datetime import date, datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import icalendar
import recurring_ical_events

from router.config.model import WEEKDAYS, Matcher, MatchOperator
from router.errors import Where

_DURATION = re.compile(r"(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_TIME = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)|(24:00)")
_MATCHER = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_.:-]*)\s*(=~|!~|!=|=)\s*(.*?)\s*")
_UNITS = ("weeks", "days", "hours", "minutes", "seconds")
_RESERVED = ("severity", "source", "service")  # core.matching.RESERVED; config may not import core


def parse_duration(text: str) -> timedelta:
    """`30s`, `15m`, `1h30m`, `1d`, `2w`: units largest first, each at most once."""
    match = _DURATION.fullmatch(text.strip())
    if not text.strip() or match is None:
        raise ValueError(f"expected a duration like 30s, 15m, 1h30m or 2w, got {text!r}")
    amounts = zip(_UNITS, match.groups(), strict=True)
    try:
        return timedelta(**{unit: int(amount) for unit, amount in amounts if amount})
    except OverflowError:
        raise ValueError(f"expected a duration of at most 999999999 days, got {text!r}") from None


def parse_positive_duration(text: str) -> timedelta:
    duration = parse_duration(text)
    if duration <= timedelta(0):
        raise ValueError(f"expected a duration longer than zero, got {text!r}")
    return duration


def parse_time_of_day(text: str) -> time:
    """`HH:MM` in 24-hour form; `24:00` is midnight at the end of the day."""
    match = _TIME.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"expected a time of day HH:MM such as 09:00 or 17:30, got {text!r}")
    if match.group(3):
        return time(0, 0)
    return time(int(match.group(1)), int(match.group(2)))


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"expected a date YYYY-MM-DD such as 2026-01-05, got {text!r}") from None


def parse_datetime(text: str, zone: ZoneInfo) -> datetime:
    """ISO 8601; a time without an offset is wall-clock time in `zone`."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"expected a date and time such as 2026-12-24T09:00 or 2026-12-24T09:00:00+01:00,"
            f" got {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=zone)


@functools.cache
def _timezone_names() -> tuple[str, ...]:
    return tuple(sorted(available_timezones()))


def parse_timezone(text: str) -> ZoneInfo:
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, IsADirectoryError):
        close = difflib.get_close_matches(text, _timezone_names(), n=1, cutoff=0.7)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"{text!r} is not a known timezone{hint}") from None


def parse_weekday(text: str) -> int:
    return WEEKDAYS.index(text)


HOLIDAY_YEARS = 100
"""How far a recurring holiday (an RRULE without an end) is expanded: this many years after
the calendar's first event. A rota's holidays are a table of days, not a rule evaluated per
query, which keeps `shift_at` at bisection speed; 100 years of days is at most 36,525."""


def parse_calendar_dates(content: bytes) -> set[date]:
    """Every day an event of an iCalendar file covers: DTSTART up to DTEND exclusive (RFC
    5545), one day when DTEND is absent; recurring events (RRULE, RDATE, less EXDATE, with
    moved occurrences) for each occurrence up to HOLIDAY_YEARS after the first event."""
    calendar = icalendar.Calendar.from_ical(content)  # raises ValueError when malformed
    starts = []
    for event in calendar.walk("VEVENT"):
        summary = str(event.get("SUMMARY", "?"))
        if "DTSTART" not in event:
            raise ValueError(f"event {summary!r} has no DTSTART")
        starts.append(_day(event.decoded("DTSTART")))
        for rule in _as_list(event.get("RRULE")):
            frequency = rule.get("FREQ", ["?"])[0]  # a broken RRULE raises ValueError here
            if frequency in ("SECONDLY", "MINUTELY", "HOURLY"):
                # and would be expanded into ~876,000 occurrences a century, for minutes
                raise ValueError(
                    f"event {summary!r} recurs {frequency}: a holiday lasts whole days, "
                    "expected FREQ=DAILY, WEEKLY, MONTHLY or YEARLY")
    days: set[date] = set()
    if not starts:
        return days
    first = min(starts)
    # between(), not all(): recurring-ical-events 3.8's all() stalls on an endless daily
    # rule some 80 years in; a bounded window is expanded in one go.
    window = recurring_ical_events.of(calendar).between(
        first, _years_after(first, HOLIDAY_YEARS))
    for occurrence in window:
        start = _day(occurrence.decoded("DTSTART"))
        end = occurrence.decoded("DTEND") if "DTEND" in occurrence else None
        last = _day(end) if end else start
        days.add(start)
        day = start + timedelta(days=1)
        while day < last:
            days.add(day)
            day += timedelta(days=1)
    return days


def _as_list(value: Any) -> list[Any]:
    """A property that may appear once or several times (icalendar gives a list then)."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _day(moment: date | datetime) -> date:
    """The calendar day of a DATE or DATE-TIME value, in the event's own time zone."""
    return moment.date() if isinstance(moment, datetime) else moment


def _years_after(day: date, years: int) -> date:
    """The same day `years` later (28 February for 29 February), at most date.max."""
    if day.year + years > date.max.year:
        return date.max
    return day.replace(year=day.year + years, day=min(day.day, 28 if day.month == 2 else 31))


def parse_matcher(text: str, where: Where) -> Matcher:
    """`name=value`, `name!=value`, `name=~regex`, `name!~regex`; the value may be quoted.

    Regular expressions must match the whole value, as in Alertmanager. `labels.NAME` names
    the label NAME; kept as written only for a reserved NAME (`labels.severity`), whose label
    the reserved field otherwise shadows.
    """
    match = _MATCHER.fullmatch(text)
    if match is None:
        raise ValueError(
            f"expected a matcher like team=db, severity!=info or env=~\"prod|staging\", "
            f"got {text!r}")
    name, operator, value = match.groups()
    if name.startswith("labels.") and name[len("labels."):] not in _RESERVED:
        name = name[len("labels."):]  # only a reserved name needs `labels.` to reach its label
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ValueError(f"the quoted value in {text!r} is not valid") from None
    pattern = None
    if operator in ("=~", "!~"):
        try:
            pattern = re.compile(value)
        except re.error as error:
            raise ValueError(
                f"{value!r} is not a valid regular expression: {error.msg} at position "
                f"{error.pos}") from None
    return Matcher(name=name, operator=cast(MatchOperator, operator), value=value,
                   pattern=pattern, where=where)


def matcher_slip(text: str) -> str | None:
    """Why a matcher that parses reads like a typo, or None: `env=!staging` (`=` with a value
    that starts with `!` or `=`, meant `!=` or `=`) and a value quoted at one end only
    (`team=~"db|storage`), whose quote becomes part of the value. A warning: the value may
    be meant, and then reads as intended once quoted."""
    match = _MATCHER.fullmatch(text)
    if match is None:
        return None
    name, operator, value = match.groups()
    if operator == "=" and value[:1] in ("!", "="):
        meant = f"{name}{value[0] if value[0] == '!' else ''}={value[1:]}"
        return (f"{text!r} is {name} equal to {value!r}: did you mean {meant!r}? "
                f"(write {name}=\"{value}\" to mean it)")
    if value and (value[:1] == '"') != (len(value) > 1 and value[-1:] == '"'):
        meant = f'{name}{operator}"{value.strip(chr(34))}"'
        return (f"{text!r} has a quote at one end of its value only, so the quote is part of "
                f"the value: did you mean {meant!r}?")
    return None


def parse_listen(text: str) -> tuple[str, int]:
    """`HOST:PORT` or `[v6]:PORT` -> (host, port); an empty host means 127.0.0.1."""
    host, separator, port = text.rpartition(":")
    if not separator or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT such as 127.0.0.1:9080, got {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


_HOST_NAME = re.compile(r"(?:\[[0-9a-f:.]+\]|[a-z0-9_.-]+)(?::[0-9]{1,5})?")


def parse_allowed_host(text: str) -> str:
    """An `allowed_hosts` entry: `*`, a host name or address, optionally with `:PORT`
    (IPv6 in brackets), lower-cased as Host headers are compared."""
    value = text.strip().lower()
    if value == "*" or _HOST_NAME.fullmatch(value):
        return value
    raise ValueError(f"expected a host name or address, optionally with :PORT (IPv6 in "
                     f"brackets), or *; got {text!r}")
