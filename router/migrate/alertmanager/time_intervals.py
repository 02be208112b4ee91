"""Alertmanager's `time_intervals` and deprecated `mute_time_intervals` -> router's
`time_intervals` section (room: migrate; imports config.load and report only).

Pure: data in, data out, one finding per named interval. Router reads Alertmanager's syntax
(docs/config.md#time_intervals), so most of a spec carries over as written; what this module
does is keep the MEANING where the two read it differently, as Alertmanager 0.25's
timeinterval package does (its own tests, and tests/migrate/test_time_intervals.py, compare
both at many instants of several years):

- `location`: without one, Alertmanager reads the UTC clock (notify.go: `now.UTC()`), router
  `settings.timezone`; every spec gets `location: UTC` then. `Local` (the Alertmanager host's
  zone) cannot be known here: it is left out, so router uses `settings.timezone` (changed).
- `weekdays`: Alertmanager's week starts on Sunday (`sunday:saturday` is every day,
  `saturday:sunday` is refused), router's on Monday; the days are written again in router's
  order (`['sunday:tuesday']` -> `['monday:tuesday', sunday]`).
- `months` and `years`: Alertmanager takes any whole number (`0:3`, `-5:3000`), router only
  1-12 and 1-9999; ranges are clipped to what a date can be, which holds the same instants.
- A key written as an empty list (`times: []`) holds no instant in Alertmanager (not every
  instant, as an absent key does): such a spec is left out, and an interval left with no
  spec holds nothing in router either (`time_intervals: []`).
- `days_of_month` (negative days, clamping to each month's length) and `times` (`24:00`,
  end exclusive) mean the same, written as Alertmanager checked them, but for one
  Alertmanager bug router does not copy: in a `location` with DST, 0.25 counts a month in
  which the clocks go forward as a day shorter (its daysInMonth divides the month's hours
  by 24, rounding down; fixed upstream in alertmanager#5447), so there `-1` is the day
  before the last. A spec counting from the month's end or naming day 28 or later in such a
  location is reported as `changed`.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable
from datetime import datetime
from typing import Any

import yaml

from router.config.load import Source
from router.migrate.alertmanager.report import Kind, Report, kind_of

SPEC_KEYS = ("times", "weekdays", "days_of_month", "months", "years", "location")
"""Every key of one Alertmanager time interval spec."""

AM_WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
"""Alertmanager's weekday numbers: the index (Sunday is 0)."""

ROUTER_WEEKDAYS = AM_WEEKDAYS[1:] + AM_WEEKDAYS[:1]
"""Router's order (`date.weekday()`: Monday is 0)."""

MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december")

_TIME = re.compile(r"((([01][0-9])|(2[0-3])):[0-5][0-9])|(24:00)")
"""Alertmanager's `validTime`: HH:MM with two-digit hours, or 24:00."""

Range = tuple[int, int]


class Refused(ValueError):
    """A part of an interval that Alertmanager refuses or router cannot express."""


class Never(Exception):
    """A spec that holds no instant (an empty list, months or years no date has)."""


def convert_time_intervals(intervals: list[Any], source: Source,
                           report: Report) -> list[dict[str, Any]]:
    """Router's `time_intervals:` entries for Alertmanager's named `intervals`.

    Args:
        intervals: the Alertmanager file's `time_intervals` or `mute_time_intervals` list.
        source: that list's place (`loaded.source.at("time_intervals")`).
        report: gets `converted`, `changed` (with why) or `unsupported` (with why) per
            named interval.
    Returns:
        The intervals router can hold, in their order; an unsupported one is left out.
    """
    return [entry for _, entry in convert_time_intervals_at(intervals, source, report)]


def convert_time_intervals_at(intervals: list[Any], source: Source,
                              report: Report) -> list[tuple[int, dict[str, Any]]]:
    """`convert_time_intervals`, each entry with its index in `intervals` (the importer's
    line comments name it)."""
    converted = []
    section = source.path.split("[")[0] or "time_intervals"
    for index, interval in enumerate(intervals or ()):
        place = source.at(index)
        try:
            entry, changes = convert_interval(interval, place)
        except Refused as error:
            report.add("unsupported", place, f"time interval left out: {error}")
            continue
        kind: Kind = "changed" if changes else "converted"
        note = (" (Alertmanager's deprecated mute_time_intervals: router has one "
                "time_intervals section for both)" if section == "mute_time_intervals" else "")
        report.add(kind, place, f"time interval {entry['name']!r} with "
                                f"{_count(len(entry['time_intervals']), 'spec')}{note}"
                   + "".join(f"; {change}" for change in changes))
        converted.append((index, entry))
    return converted


def convert_interval(interval: Any, source: Source) -> tuple[dict[str, Any], list[str]]:
    """One named interval as router writes it, and the changes of meaning it carries.

    `source` is the interval's place; its nodes give each value's text as written (PyYAML
    reads an unquoted `17:00` or `1:5` as a base-60 number, Alertmanager as text).

    Raises:
        Refused: naming the spec and key at fault and why.
    """
    if not isinstance(interval, dict):
        raise Refused(f"expected a mapping with name and time_intervals, got {kind_of(interval)}")
    unknown = sorted(str(key) for key in interval if key not in ("name", "time_intervals"))
    if unknown:
        raise Refused(f"unknown key {unknown[0]!r} (Alertmanager refuses it too); expected "
                      "name and time_intervals")
    name = interval.get("name")
    if name is None or str(name) == "":
        raise Refused("missing name (Alertmanager refuses it too)")
    specs = interval.get("time_intervals") or []
    if not isinstance(specs, list):
        raise Refused(f"time_intervals: expected a list of specs, got {kind_of(specs)}")
    written: list[dict[str, Any]] = []
    changes: list[str] = []
    for position, spec in enumerate(specs):
        try:
            entry, spec_changes = convert_spec(spec, source.at("time_intervals").at(position))
        except Refused as error:
            raise Refused(f"time_intervals[{position}].{error}") from None
        except Never:
            continue  # holds no instant in Alertmanager: it adds nothing to the interval
        written.append(entry)
        changes.extend(f"time_intervals[{position}]: {change}" for change in spec_changes)
    return {"name": str(name), "time_intervals": written}, changes


def convert_spec(spec: Any, source: Source) -> tuple[dict[str, Any], list[str]]:
    """One spec as router writes it, and its changes of meaning.

    Raises:
        Refused: `key: why` for a value Alertmanager refuses.
        Never: when the spec holds no instant in Alertmanager.
    """
    if spec is None:
        spec = {}
    if not isinstance(spec, dict):
        raise Refused(f"expected a mapping of {', '.join(SPEC_KEYS)}, got {kind_of(spec)}")
    unknown = sorted(str(key) for key in spec if key not in SPEC_KEYS)
    if unknown:
        raise Refused(f"{unknown[0]}: unknown key (Alertmanager refuses it too); expected one "
                      f"of {', '.join(SPEC_KEYS)}")
    entry: dict[str, Any] = {}
    for key, convert in _CONVERTERS.items():
        items = spec.get(key)
        if items is None:
            continue  # absent or null: every instant, in both
        if not isinstance(items, list):
            raise Refused(f"{key}: expected a list, got {kind_of(items)}")
        if not items:
            raise Never()
        entry[key] = convert(key, items, source.at(key))
    location, change = _location(spec.get("location"))
    if location is not None:
        entry["location"] = location
    changes = [change] if change else []
    if location is not None and _month_end_counted(entry) and has_dst(location):
        changes.append(f"days_of_month {entry['days_of_month']} in {location}: in a month "
                       "in which the clocks go forward, Alertmanager 0.25 counts one day "
                       "fewer (its daysInMonth rounds down; fixed upstream in "
                       "alertmanager#5447), so its last days of that month are a day early; "
                       "router counts the calendar's days")
    return entry, changes


def _month_end_counted(entry: dict[str, Any]) -> bool:
    """Whether a spec's days depend on the month's length: a negative day or day 28+."""
    return any(int(day) < 0 or int(day) >= 28 for text in entry.get("days_of_month", ())
               for day in text.split(":"))


def has_dst(name: str) -> bool:
    """Whether the zone's clocks change during some year of 2000-2040."""
    zone = zoneinfo.ZoneInfo(name)
    return any(datetime(year, 1, 15, tzinfo=zone).utcoffset()
               != datetime(year, 7, 15, tzinfo=zone).utcoffset() for year in range(2000, 2041))


def _times(key: str, items: list[Any], source: Source) -> list[dict[str, str]]:
    return [_time_range(key, item, source.at(index)) for index, item in enumerate(items)]


def _time_range(key: str, item: Any, source: Source) -> dict[str, str]:
    if not isinstance(item, dict) or set(item) - {"start_time", "end_time"}:
        raise Refused(f"{key}: expected start_time and end_time, got {kind_of(item)}")
    start, end = (_text(item.get(name), source.at(name)) if item.get(name) is not None
                  else "" for name in ("start_time", "end_time"))
    if not start or not end:
        raise Refused(f"{key}: both start and end times must be provided")
    for text in (start, end):
        if not _TIME.fullmatch(text):
            raise Refused(f"{key}: couldn't parse timestamp {text}, invalid format")
    if start >= end:  # HH:MM compare as text as they do as times
        raise Refused(f"{key}: start time cannot be equal or greater than end time "
                      f"({start}-{end})")
    return {"start_time": start, "end_time": end}


def _weekdays(key: str, items: list[Any], source: Source) -> list[str]:
    """The days as router's ranges, in router's week (Monday first)."""
    days: set[int] = set()
    for first, last in _ranges(key, items, source, _weekday):
        if first > last:
            raise Refused(f"{key}: start day cannot be before end day ({first}:{last} in "
                          "Alertmanager's week, which starts on sunday)")
        days.update(ROUTER_WEEKDAYS.index(AM_WEEKDAYS[day]) for day in range(first, last + 1))
    return [_range_text(ROUTER_WEEKDAYS, run) for run in _runs(sorted(days))]


def _days_of_month(key: str, items: list[Any], source: Source) -> list[str]:
    written = []
    for first, last in _ranges(key, items, source, _number):
        for day in (first, last):
            if day == 0 or not -31 <= day <= 31:
                raise Refused(f"{key}: {day} is not a valid day of the month: out of range")
        if first < 0 < last:
            raise Refused(f"{key}: end day must be negative if start day is negative")
        if (28 + first if first < 0 else first) > (28 + last if last < 0 else last):
            raise Refused(f"{key}: end day {last} is always before start day {first}")
        written.append(str(first) if first == last else f"{first}:{last}")
    return written


def _months(key: str, items: list[Any], source: Source) -> list[str]:
    ranges = _clipped(key, items, source, _month, 1, 12, "end month {last} is before start month "
                                                 "{first}")
    return [_range_text(MONTHS, (first - 1, last - 1)) for first, last in ranges]


def _years(key: str, items: list[Any], source: Source) -> list[str]:
    ranges = _clipped(key, items, source, _number, 1, 9999, "end year {last} is before start year "
                                                    "{first}")
    return [str(first) if first == last else f"{first}:{last}" for first, last in ranges]


def _clipped(key: str, items: list[Any], source: Source, parse: Callable[[str], int],
             lowest: int, highest: int, backwards: str) -> list[Range]:
    """Ranges clipped to the values a date can have; Never when none is left."""
    kept = []
    for first, last in _ranges(key, items, source, parse):
        if first > last:
            raise Refused(f"{key}: " + backwards.format(first=first, last=last))
        if first <= highest and last >= lowest:
            kept.append((max(first, lowest), min(last, highest)))
    if not kept:
        raise Never()
    return kept


def _ranges(key: str, items: list[Any], source: Source,
            parse: Callable[[str], int]) -> list[Range]:
    """`value` or `first:last` items, lower-cased as Alertmanager reads them."""
    found = []
    for index, item in enumerate(items):
        if isinstance(item, (dict, list)) or item is None:
            raise Refused(f"{key}: expected a value or a range, got {kind_of(item)}")
        text = _text(item, source.at(index)).lower()
        parts = text.split(":")
        if len(parts) > 2:
            raise Refused(f"{key}: couldn't parse range {text}, invalid format")
        try:
            found.append((parse(parts[0]), parse(parts[-1])))
        except ValueError as error:
            raise Refused(f"{key}: {error}") from None
    return found


def _weekday(text: str) -> int:
    if text not in AM_WEEKDAYS:
        raise ValueError(f"{text} is not a valid weekday")
    return AM_WEEKDAYS.index(text)


def _month(text: str) -> int:
    if text in MONTHS:
        return MONTHS.index(text) + 1
    try:
        return _number(text)
    except ValueError:
        raise ValueError(f"{text} is not a valid month") from None


def _number(text: str) -> int:
    """Go's strconv.Atoi: an optional sign and decimal digits."""
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise ValueError(f"{text!r} is not a whole number")
    return int(text)


def _location(value: Any) -> tuple[str | None, str | None]:
    """Router's `location` for Alertmanager's, and the change of meaning if any."""
    if value is None or value == "" or value == "UTC":
        return "UTC", None  # Go's time.LoadLocation("") is UTC too
    name = str(value)
    if name == "Local":
        return None, ("location Local is the Alertmanager host's timezone, which the import "
                      "cannot know: left out, so router reads settings.timezone")
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise Refused(f"location: unknown time zone {name}") from None
    return name, None


def _runs(values: list[int]) -> list[Range]:
    """Sorted numbers as runs of consecutive ones: [0, 1, 2, 6] -> [(0, 2), (6, 6)]."""
    runs: list[Range] = []
    for value in values:
        if runs and runs[-1][1] == value - 1:
            runs[-1] = (runs[-1][0], value)
        else:
            runs.append((value, value))
    return runs


def _range_text(names: tuple[str, ...], run: Range) -> str:
    first, last = run
    return names[first] if first == last else f"{names[first]}:{names[last]}"


def _text(value: Any, source: Source) -> str:
    """A scalar as Alertmanager reads it into a string: the text written in the file when
    the node is known (`17:00` stays `17:00`), else the value as text."""
    if isinstance(source.node, yaml.ScalarNode):
        return str(source.node.value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)



def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


_CONVERTERS: dict[str, Callable[[str, list[Any], Source], list[Any]]] = {
    "times": _times, "weekdays": _weekdays, "days_of_month": _days_of_month,
    "months": _months, "years": _years,
}
