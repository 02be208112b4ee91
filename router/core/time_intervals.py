"""Whether an instant is in an Alertmanager time interval, and whether routes are muted by
them (room: core; imports config.model only).

Pure: no I/O and no clock; `now` is a parameter and must be timezone-aware. The rules, as
Alertmanager's `time_intervals`:

- An interval holds an instant when ANY of its specs does; a spec holds it when EVERY field
  it sets does (`times`, `weekdays`, `days_of_month`, `months`, `years`); a spec that sets
  none holds every instant.
- Every field is read on the wall clock in the spec's `location`: `times` are
  `[start_time, end_time)` in minutes of that local day (`24:00` ends the day), so they
  follow the wall clock across DST: on a spring-forward night a 02:00-03:00 range never
  holds (those minutes do not exist), on a fall-back night 01:00-02:00 holds both times the
  clock shows 01:xx.
- `days_of_month` ranges may count from the month's end (-1 is the last day, `-7:-1` the
  last week); a range is read per month after that, clipped to the month's length, so
  `1:31` means every day of any month and `30:31` nothing in February.
- Routes. A route with `mute_time_intervals` is muted while any of them holds `now`; a
  route with `active_time_intervals` is muted while none of them does. An alert is muted
  only when EVERY route it matched is muted (router merges the matched routes into one
  incident, and a route that does not mute must still page: Alertmanager sends each route's
  receiver apart). The default route is never muted.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from router.config.model import Route, TimeInterval, TimeSpec


def contains(interval: TimeInterval, now: datetime) -> bool:
    """Whether `interval` holds the instant `now`.

    Raises:
        ValueError: when `now` is naive.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware datetime, got {now.isoformat()}")
    instant = now.astimezone(UTC)
    return any(spec_holds(spec, instant) for spec in interval.specs)


def spec_holds(spec: TimeSpec, instant: datetime) -> bool:
    """Whether one spec holds `instant` (aware), on its location's wall clock."""
    local = instant.astimezone(spec.location)
    minute = local.hour * 60 + local.minute
    if spec.times and not any(start <= minute < end for start, end in spec.times):
        return False
    if spec.weekdays and local.weekday() not in spec.weekdays:
        return False
    if spec.months and local.month not in spec.months:
        return False
    if spec.years and not any(start <= local.year <= end for start, end in spec.years):
        return False
    return not spec.days_of_month or _day_holds(spec.days_of_month, local)


def _day_holds(ranges: Sequence[tuple[int, int]], local: datetime) -> bool:
    length = calendar.monthrange(local.year, local.month)[1]
    for start, end in ranges:
        first = start if start > 0 else length + start + 1
        last = end if end > 0 else length + end + 1
        if max(first, 1) <= local.day <= min(last, length):
            return True
    return False


def route_muted_by(route: Route, intervals: Mapping[str, TimeInterval],
                   now: datetime) -> str | None:
    """The name of the interval that mutes `route` at `now`, or None.

    A mute interval is named by itself; outside every active interval the route is muted
    "by" the first of them (it is not active).
    """
    for name in route.mute_time_intervals:
        interval = intervals.get(name)
        if interval is not None and contains(interval, now):
            return name
    if route.active_time_intervals and not any(
            contains(intervals[name], now) for name in route.active_time_intervals
            if name in intervals):
        return route.active_time_intervals[0]
    return None


def muted_by(routes: Sequence[Route], intervals: Mapping[str, TimeInterval],
             now: datetime) -> str | None:
    """The interval that mutes the first of `routes` when every one of them is muted at
    `now`; None when any route is not muted, or there are none (the default route)."""
    if not routes:
        return None
    first: str | None = None
    for route in routes:
        name = route_muted_by(route, intervals, now)
        if name is None:
            return None
        first = first or name
    return first
