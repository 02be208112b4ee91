"""A wall-clock time someone wrote, as an instant, or why it is none (room: core; imports
nothing from router).

The config's own local times (handoffs, windows) are settled by zoneinfo's fold=0 rule
(core/oncall.py): they repeat every day and a rule must pick one reading. An instant a
person types to ask about one moment (a test case's `at`, `--at`) is different: 02:30 on
the night the clocks skip 02:00-03:00 is no moment at all, and 02:30 on the night they go
back is two, an hour apart. Settling either silently answers a question nobody asked, so
both are errors that say what the time could mean.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo


class WallTimeError(ValueError):
    """A wall-clock time that does not exist, or exists twice, in its timezone."""


def settle(wall: datetime, zone: tzinfo, fold: int | None = None) -> datetime:
    """`wall` (naive) in `zone`, as an aware instant; `fold` (0 the first, 1 the second)
    picks one reading of a time the clocks pass twice.

    Raises:
        WallTimeError: the clocks skip `wall` there (a DST change forward), or pass it
            twice (back) and no `fold` says which: the message gives the offsets, and both
            readings.
    """
    first, second = wall.replace(tzinfo=zone, fold=0), wall.replace(tzinfo=zone, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first
    shown, name = wall.isoformat(), getattr(zone, "key", str(zone))
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall:
        raise WallTimeError(
            f"{shown} does not exist in {name}: the clocks skip it when they go from "
            f"{_offset(first)} to {_offset(second)}")
    if fold is not None:
        return second if fold else first
    raise WallTimeError(
        f"{shown} happens twice in {name}: {first.isoformat()} or {second.isoformat()}; "
        "give the offset")


def _offset(moment: datetime) -> str:
    """`UTC+01:00`."""
    minutes = int((moment.utcoffset() or timedelta()).total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
