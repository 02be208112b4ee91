"""Tests for router/core/oncall.py: named DST cases, the documented rules, and an oracle.

The oracle reads the rules a second way: it walks every handoff of every layer one by one from
the layer's start (holidays applied as it goes), lists every restriction window day by day,
and scans the overrides by rank; the fast path must agree with it everywhere.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Literal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from router.config.model import Holidays, Layer, Override, Rota, WeeklyWindow
from router.core.oncall import (
    HOLIDAY_COVER,
    OVERRIDE,
    Shift,
    first_gap,
    layer_shift,
    next_shift,
    shift_at,
    shifts_between,
)

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
WEEK = timedelta(weeks=1)
MINUTE = timedelta(minutes=1)
ZONES = ("America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata", "UTC")
PEOPLE = ("ann", "bob", "cat", "dan", "eve")
FAST = settings(max_examples=120, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])


def layer(name: str = "primary", members: Sequence[str] = ("ann", "bob", "cat"),
          every: timedelta = DAY, handoff: time = time(9), handoff_day: int | None = None,
          start: date = date(2026, 1, 1), first: str | None = None,
          restrictions: Sequence[WeeklyWindow] = ()) -> Layer:
    return Layer(name=name, members=tuple(members), every=every, handoff=handoff,
                 handoff_day=handoff_day, start=start, first=first or members[0],
                 restrictions=tuple(restrictions))


def rota(*layers: Layer, zone: str = "UTC", overrides: Sequence[Override] = (),
         holidays: Holidays | None = None) -> Rota:
    return Rota(id="rota", name="Rota", timezone=ZoneInfo(zone), layers=layers or (layer(),),
                overrides=tuple(overrides), holidays=holidays or Holidays())


def local(zone: str, year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=ZoneInfo(zone))


def window(days: Sequence[int], start: time, end: time) -> WeeklyWindow:
    return WeeklyWindow(days=frozenset(days), start=start, end=end)


class Oracle:
    """Who is on call, from every shift generated one by one; slow and plain on purpose."""

    def __init__(self, rota: Rota, until: datetime, extra: Sequence[Override] = ()) -> None:
        self.rota = rota
        self.shifts = [self.walk(layer, until) for layer in rota.layers]
        self.starts = [[shift[0] for shift in shifts] for shifts in self.shifts]
        self.windows = [self.open_windows(layer, until) for layer in rota.layers]
        ranked = sorted(enumerate((*rota.overrides, *extra)),
                        key=lambda pair: (pair[1].order, pair[0]), reverse=True)
        self.overrides = [override for _, override in ranked]

    def instant(self, wall: datetime) -> datetime:
        return wall.replace(tzinfo=self.rota.timezone).astimezone(UTC)

    def walk(self, layer: Layer, until: datetime) -> list[tuple[datetime, str, str]]:
        day = layer.start
        while layer.handoff_day is not None and day.weekday() != layer.handoff_day:
            day += DAY
        wall, turn = datetime.combine(day, layer.handoff), layer.members.index(layer.first)
        holidays, shifts = self.rota.holidays, []
        while self.instant(wall) < until:
            on_holiday = wall.date() in holidays.dates
            if on_holiday and holidays.policy == "skip":
                turn += 1
            person, label = layer.members[turn % len(layer.members)], layer.name
            if on_holiday and holidays.policy == "cover" and holidays.cover:
                person, label = holidays.cover, HOLIDAY_COVER
            shifts.append((self.instant(wall), person, label))
            turn, wall = turn + 1, wall + layer.every
        return shifts

    def open_windows(self, layer: Layer, until: datetime) -> list[tuple[datetime, datetime]] | None:
        if not layer.restrictions:
            return None
        walls = []
        day = min(layer.start, date(2024, 1, 1))
        while datetime.combine(day, time()) < until.replace(tzinfo=None) + 2 * DAY:
            for restriction in layer.restrictions:
                if day.weekday() in restriction.days:
                    end_day = day + DAY if restriction.end <= restriction.start else day
                    walls.append((datetime.combine(day, restriction.start),
                                  datetime.combine(end_day, restriction.end)))
            day += DAY
        spans = [(self.instant(start), self.instant(end)) for start, end in merge(walls)]
        return merge([(start, end) for start, end in spans if start < end])

    def who(self, moment: datetime) -> tuple[str | None, str | None]:
        base: tuple[str | None, str | None] = (None, None)
        for index in reversed(range(len(self.shifts))):
            position = bisect_right(self.starts[index], moment) - 1
            windows = self.windows[index]
            if position < 0 or (windows is not None and not inside(windows, moment)):
                continue
            base = self.shifts[index][position][1:]
            break
        for override in self.overrides:
            if override.start <= moment < override.end and override.replaces in (None, base[0]):
                return override.person, OVERRIDE
        return base

    def edges(self, start: datetime, end: datetime) -> list[datetime]:
        found = {start}
        for shifts in self.shifts:
            found.update(shift[0] for shift in shifts)
        for windows in self.windows:
            found.update(edge for span in windows or () for edge in span)
        found.update(edge for o in self.overrides for edge in (o.start, o.end))
        return sorted(edge for edge in found if start <= edge < end)

    def timeline(self, start: datetime, end: datetime) -> list[tuple[object, ...]]:
        pieces: list[tuple[object, ...]] = []
        edges = self.edges(start, end)
        for low, high in zip(edges, [*edges[1:], end], strict=True):
            person, label = self.who(low)
            if pieces and pieces[-1][0] == person and pieces[-1][3] == label:
                pieces[-1] = (person, pieces[-1][1], high, label)
            else:
                pieces.append((person, low, high, label))
        return pieces


def merge(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def inside(spans: list[tuple[datetime, datetime]], moment: datetime) -> bool:
    position = bisect_right(spans, (moment, datetime.max.replace(tzinfo=UTC))) - 1
    return position >= 0 and spans[position][0] <= moment < spans[position][1]


def as_tuples(shifts: Sequence[Shift]) -> list[tuple[object, ...]]:
    return [(shift.person, shift.start, shift.end, shift.layer) for shift in shifts]


# -- named DST cases ---------------------------------------------------------------------------

@pytest.mark.parametrize(("zone", "day", "hours"), [
    ("America/New_York", date(2026, 3, 7), 23),
    ("America/New_York", date(2026, 10, 31), 25),
    ("Europe/Berlin", date(2026, 3, 28), 23),
    ("Europe/Berlin", date(2026, 10, 24), 25),
    ("Australia/Lord_Howe", date(2026, 4, 4), 24.5),
    ("Australia/Lord_Howe", date(2026, 10, 3), 23.5),
    ("Asia/Kolkata", date(2026, 3, 7), 24),
    ("UTC", date(2026, 3, 28), 24),
])
def test_a_daily_0900_handoff_stays_0900_local_across_dst(zone: str, day: date,
                                                           hours: float) -> None:
    schedule = rota(layer(start=date(2026, 1, 1)), zone=zone)
    shift = layer_shift(schedule, schedule.layers[0], local(zone, day.year, day.month,
                                                            day.day, 12))
    tz = ZoneInfo(zone)
    assert shift.start.astimezone(tz).replace(tzinfo=None) == datetime.combine(day, time(9))
    assert shift.end.astimezone(tz).replace(tzinfo=None) == datetime.combine(day + DAY, time(9))
    assert shift.end - shift.start == timedelta(hours=hours)


def test_kolkata_shifts_last_a_day_all_year() -> None:
    schedule = rota(layer(), zone="Asia/Kolkata")
    shifts = shifts_between(schedule, local("Asia/Kolkata", 2026, 1, 1, 9),
                            local("Asia/Kolkata", 2027, 1, 1, 9))
    assert len(shifts) == 365
    assert {shift.end - shift.start for shift in shifts} == {DAY}


@pytest.mark.parametrize(("zone", "day", "handoff", "expected_utc"), [
    # 02:30 does not exist on 2026-03-08 in New York: it happens at 03:30 EDT (fold=0).
    ("America/New_York", date(2026, 3, 8), time(2, 30), datetime(2026, 3, 8, 7, 30)),
    # 01:30 exists twice on 2026-11-01: the first occurrence, 01:30 EDT.
    ("America/New_York", date(2026, 11, 1), time(1, 30), datetime(2026, 11, 1, 5, 30)),
    ("Europe/Berlin", date(2026, 3, 29), time(2, 30), datetime(2026, 3, 29, 1, 30)),
    ("Europe/Berlin", date(2026, 10, 25), time(2, 30), datetime(2026, 10, 25, 0, 30)),
    # Lord Howe moves 30 minutes: 02:15 on 2026-10-04 does not exist, happens at 02:45 +11.
    ("Australia/Lord_Howe", date(2026, 10, 4), time(2, 15), datetime(2026, 10, 3, 15, 45)),
    ("Australia/Lord_Howe", date(2026, 4, 5), time(1, 45), datetime(2026, 4, 4, 14, 45)),
])
def test_a_handoff_at_a_missing_or_repeated_time_follows_fold_zero(
        zone: str, day: date, handoff: time, expected_utc: datetime) -> None:
    schedule = rota(layer(handoff=handoff), zone=zone)
    shift = layer_shift(schedule, schedule.layers[0], expected_utc.replace(tzinfo=UTC))
    assert shift.start == expected_utc.replace(tzinfo=UTC)
    before = layer_shift(schedule, schedule.layers[0], shift.start - MINUTE)
    assert before.end == shift.start
    assert before.person != shift.person


def test_spring_forward_0230_handoff_shifts_last_24_then_23_hours() -> None:
    schedule = rota(layer(handoff=time(2, 30)), zone="America/New_York")
    gap_day = layer_shift(schedule, schedule.layers[0], datetime(2026, 3, 8, 12, tzinfo=UTC))
    before = layer_shift(schedule, schedule.layers[0], gap_day.start - MINUTE)
    assert (before.end - before.start, gap_day.end - gap_day.start) == (24 * HOUR, 23 * HOUR)


def test_business_hours_window_keeps_local_times_on_dst_day() -> None:
    business = layer("business", ["bob"], restrictions=[window(range(7), time(9), time(17))])
    night = layer("night", ["cat"], restrictions=[window(range(7), time(22), time(6))])
    schedule = rota(layer("always", ["ann"]), business, night, zone="America/New_York")
    shifts = shifts_between(schedule, local("America/New_York", 2026, 10, 31, 12),
                            local("America/New_York", 2026, 11, 1, 12))
    assert [(s.person, s.end - s.start) for s in shifts] == [
        ("bob", 5 * HOUR), ("ann", 5 * HOUR), ("cat", 9 * HOUR), ("ann", 3 * HOUR),
        ("bob", 3 * HOUR)]


def test_a_window_inside_the_spring_forward_gap_is_empty_that_day() -> None:
    # 02:30 happens at 03:30 EDT and 03:00 at 03:00 EDT: the window's edges cross, so on
    # 2026-03-08 it holds no time at all; a week later it is the half hour it says.
    gap = layer("gap", ["bob"], restrictions=[window([6], time(2, 30), time(3))])
    schedule = rota(layer("always", ["ann"]), gap, zone="America/New_York")
    spring = shifts_between(schedule, local("America/New_York", 2026, 3, 8),
                            local("America/New_York", 2026, 3, 9))
    later = shifts_between(schedule, local("America/New_York", 2026, 3, 15),
                           local("America/New_York", 2026, 3, 16))
    assert [shift.person for shift in spring] == ["ann"]
    assert [(shift.person, shift.end - shift.start) for shift in later][1] == ("bob", HOUR / 2)


# -- documented rules --------------------------------------------------------------------------

def test_rotation_starts_with_first_and_follows_members_order() -> None:
    schedule = rota(layer(members=["ann", "bob", "cat"], first="bob", start=date(2026, 2, 1)))
    shifts = shifts_between(schedule, datetime(2026, 1, 31, tzinfo=UTC),
                            datetime(2026, 2, 5, 9, tzinfo=UTC))
    assert [s.person for s in shifts] == [None, "bob", "cat", "ann", "bob"]
    assert shifts[1].start == datetime(2026, 2, 1, 9, tzinfo=UTC)


def test_weekly_handoff_day_moves_the_start_forward() -> None:
    schedule = rota(layer(every=WEEK, handoff_day=0, start=date(2026, 1, 1)))  # a Thursday
    shift = layer_shift(schedule, schedule.layers[0], datetime(2026, 1, 7, tzinfo=UTC))
    assert (shift.person, shift.start) == ("ann", datetime(2026, 1, 5, 9, tzinfo=UTC))
    assert shift.end - shift.start == WEEK


def test_highest_layer_with_someone_wins_and_gaps_are_nobody() -> None:
    business = layer("business", ["erin"], restrictions=[window(range(5), time(9), time(17))])
    schedule = rota(layer("weekdays", ["ann"], restrictions=[window(range(5), time(0),
                                                                        time(0))]), business)
    friday = datetime(2026, 1, 9, tzinfo=UTC)
    assert shift_at(schedule, friday + 10 * HOUR).shift.person == "erin"
    assert shift_at(schedule, friday + 20 * HOUR).shift.layer == "weekdays"
    weekend = shift_at(schedule, friday + 30 * HOUR).shift
    assert (weekend.person, weekend.layer, weekend.start) == (None, None, friday + DAY)
    gap = first_gap(schedule, datetime(2026, 1, 5, tzinfo=UTC), 30 * DAY)
    assert gap is not None and (gap.start, gap.end) == (friday + DAY, friday + 3 * DAY)


def test_skip_holiday_gives_the_shift_to_the_next_member_and_everyone_moves_on() -> None:
    holidays = Holidays(dates=frozenset({date(2026, 1, 3), date(2026, 1, 4)}))
    schedule = rota(layer(members=["ann", "bob", "cat", "dan"]), holidays=holidays)
    shifts = shifts_between(schedule, datetime(2026, 1, 1, 9, tzinfo=UTC),
                            datetime(2026, 1, 7, 9, tzinfo=UTC))
    # Without holidays: ann bob cat dan ann bob. cat is skipped on 3 January, ann on the 4th.
    assert [s.person for s in shifts] == ["ann", "bob", "dan", "bob", "cat", "dan"]


def test_cover_holiday_takes_that_shift_only() -> None:
    holidays = Holidays(dates=frozenset({date(2026, 1, 3)}), policy="cover", cover="eve")
    schedule = rota(layer(), holidays=holidays)
    shifts = shifts_between(schedule, datetime(2026, 1, 1, 9, tzinfo=UTC),
                            datetime(2026, 1, 5, 9, tzinfo=UTC))
    assert [(s.person, s.layer) for s in shifts] == [
        ("ann", "primary"), ("bob", "primary"), ("eve", HOLIDAY_COVER), ("ann", "primary")]


def test_overrides_replace_a_member_or_the_whole_rota_and_the_latest_wins() -> None:
    start = datetime(2026, 1, 1, 9, tzinfo=UTC)  # ann's shift, bob's from the 2nd 09:00
    overrides = [
        Override(person="dan", start=start + HOUR, end=start + 30 * HOUR, replaces="bob"),
        Override(person="eve", start=start + 2 * HOUR, end=start + 4 * HOUR),
        Override(person="cat", start=start + 3 * HOUR, end=start + 5 * HOUR),
    ]
    schedule = rota(overrides=overrides)
    people = [shift_at(schedule, start + hours * HOUR).shift.person
              for hours in (1, 2, 3, 4, 5, 24, 30)]
    assert people == ["ann", "eve", "cat", "cat", "ann", "dan", "bob"]
    run_time = Override(person="ann", start=start + 24 * HOUR, end=start + 25 * HOUR, order=9)
    assert shift_at(schedule, start + 24 * HOUR, (run_time,)).shift.person == "ann"
    assert shift_at(schedule, start + 24 * HOUR, [run_time]).shift.layer == OVERRIDE


def test_next_shift_says_who_comes_after_the_current_person() -> None:
    schedule = rota(layer(members=["ann", "bob"], restrictions=[window([0], time(9),
                                                                        time(17))]))
    upcoming = next_shift(schedule, datetime(2026, 1, 5, 10, tzinfo=UTC))
    assert upcoming is not None and upcoming.person == "bob"
    assert upcoming.start == datetime(2026, 1, 12, 9, tzinfo=UTC)
    assert next_shift(rota(layer(members=["ann"])), datetime(2026, 2, 1, tzinfo=UTC)) is None


def test_a_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="has no timezone"):
        shift_at(rota(), datetime(2026, 1, 1))


# -- the oracle, over a year, minute by minute -------------------------------------------------

def year_rota(zone: str, holidays: Holidays) -> Rota:
    business = [window(range(5), time(9), time(17, 30))]
    start = datetime(2026, 1, 10, tzinfo=UTC)
    overrides = [Override(person=PEOPLE[number % 5], start=start + number * 173 * HOUR,
                          end=start + number * 173 * HOUR + (number % 7 + 1) * 5 * HOUR,
                          replaces=None if number % 3 else PEOPLE[(number + 1) % 5])
                 for number in range(45)]
    return rota(
        layer("sun", ["ann", "bob", "cat"], every=12 * HOUR, handoff=time(2, 30),
              start=date(2026, 1, 1)),
        layer("weekly", ["dan", "eve", "ann", "bob"], every=WEEK, handoff=time(1, 30),
              handoff_day=6, start=date(2026, 1, 2), first="eve"),
        layer("business", ["cat", "dan"], every=DAY, handoff=time(9), start=date(2026, 1, 1),
              restrictions=business),
        zone=zone, overrides=overrides, holidays=holidays)


def test_fast_path_agrees_with_the_oracle_every_minute_of_a_year() -> None:
    dates = frozenset(date(2026, 1, 1) + DAY * number for number in range(3, 365, 17))
    schedule = year_rota("America/New_York", Holidays(dates=dates))
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    oracle = Oracle(schedule, end + DAY)
    shifts = shifts_between(schedule, start, end)
    position, moment = 0, start
    while moment < end:
        while shifts[position].end <= moment:
            position += 1
        shift = shifts[position]
        assert (shift.person, shift.layer) == oracle.who(moment), moment
        moment += MINUTE
    assert as_tuples(shifts) == oracle.timeline(start, end)


@pytest.mark.parametrize("zone", ["Australia/Lord_Howe", "Europe/Berlin"])
def test_fast_path_agrees_with_the_oracle_around_every_edge(zone: str) -> None:
    dates = frozenset(date(2026, 1, 1) + DAY * number for number in range(5, 365, 23))
    schedule = year_rota(zone, Holidays(dates=dates, policy="cover", cover="eve"))
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    oracle = Oracle(schedule, end + DAY)
    for edge in oracle.edges(start + MINUTE, end - MINUTE):
        for moment in (edge - MINUTE, edge, edge + MINUTE):
            answer = shift_at(schedule, moment).shift
            assert answer.start <= moment < answer.end
            assert (answer.person, answer.layer) == oracle.who(moment), moment
    assert as_tuples(shifts_between(schedule, start, end)) == oracle.timeline(start, end)


# -- properties over random rotas --------------------------------------------------------------

EVERY = st.sampled_from([12 * HOUR, DAY, WEEK, 2 * WEEK, 8 * HOUR])
TIMES = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
WINDOWS = st.builds(window, st.sets(st.integers(0, 6), min_size=1), TIMES, TIMES)
MOMENTS = st.datetimes(datetime(2025, 12, 1), datetime(2027, 2, 1)).map(
    lambda moment: moment.replace(tzinfo=UTC))


@st.composite
def layers(draw: st.DrawFn, name: str) -> Layer:
    members = draw(st.lists(st.sampled_from(PEOPLE), min_size=1, max_size=4, unique=True))
    return layer(name, members, every=draw(EVERY), handoff=draw(TIMES),
                 handoff_day=draw(st.none() | st.integers(0, 6)),
                 start=draw(st.dates(date(2025, 12, 20), date(2026, 3, 1))),
                 first=draw(st.sampled_from(members)),
                 restrictions=draw(st.lists(WINDOWS, max_size=2)))


@st.composite
def overrides(draw: st.DrawFn) -> Override:
    start = draw(MOMENTS)
    return Override(person=draw(st.sampled_from(PEOPLE)), start=start,
                    end=start + draw(st.integers(-2, 100)) * HOUR,
                    replaces=draw(st.none() | st.sampled_from(PEOPLE)),
                    order=draw(st.integers(0, 3)))


@st.composite
def rotas(draw: st.DrawFn) -> Rota:
    count = draw(st.integers(1, 3))
    dates = draw(st.frozensets(st.dates(date(2025, 12, 1), date(2027, 2, 1)), max_size=12))
    policy: Literal["skip", "cover"] = draw(st.sampled_from(["skip", "cover"]))
    holidays = Holidays(dates=dates, policy=policy, cover="eve" if policy == "cover" else None)
    return rota(*(draw(layers(f"layer-{number}")) for number in range(count)),
                zone=draw(st.sampled_from(ZONES)), holidays=holidays,
                overrides=draw(st.lists(overrides(), max_size=4)))


@FAST
@given(rotas(), MOMENTS, st.lists(overrides(), max_size=2))
def test_one_answer_per_instant_as_the_oracle_says(schedule: Rota, moment: datetime,
                                                   extra: list[Override]) -> None:
    answer = shift_at(schedule, moment, extra)
    assert answer.shift.start <= moment < answer.shift.end
    assert answer.shift.person in (None, *PEOPLE)
    assert all(shift.start <= moment < shift.end for shift in answer.layers)
    oracle = Oracle(schedule, datetime(2027, 3, 1, tzinfo=UTC), extra)
    assert (answer.shift.person, answer.shift.layer) == oracle.who(moment)


@FAST
@given(rotas(), MOMENTS, st.integers(1, 20 * 24))
def test_shifts_tile_time_exactly_as_the_oracle_says(schedule: Rota, start: datetime,
                                                     hours: int) -> None:
    end = start + hours * HOUR
    shifts = shifts_between(schedule, start, end)
    assert shifts[0].start == start and shifts[-1].end == end
    assert all(left.end == right.start for left, right in pairwise(shifts))
    assert all(shift.start < shift.end for shift in shifts)
    assert as_tuples(shifts) == Oracle(schedule, end + DAY).timeline(start, end)


@FAST
@given(layers("only"), st.sampled_from(ZONES), MOMENTS,
       st.frozensets(st.dates(date(2025, 12, 1), date(2027, 2, 1)), max_size=12))
def test_rotation_order_holds_and_skips_one_member_per_holiday(
        only: Layer, zone: str, moment: datetime, dates: frozenset[date]) -> None:
    only = layer(only.name, only.members, every=only.every, handoff=only.handoff,
                 handoff_day=only.handoff_day, start=only.start, first=only.first)
    schedule = rota(only, zone=zone, holidays=Holidays(dates=dates))
    current = layer_shift(schedule, only, moment)
    following = layer_shift(schedule, only, current.end)
    assert following.start == current.end
    if current.person is None:
        return
    tz = ZoneInfo(zone)
    skipped = following.start.astimezone(tz).date() in dates
    assert following.person is not None
    step = only.members.index(following.person) - only.members.index(current.person)
    assert step % len(only.members) == (1 + skipped) % len(only.members)


@FAST
@given(rotas(), MOMENTS, overrides())
def test_an_override_wins_exactly_where_it_applies(schedule: Rota, moment: datetime,
                                                   override: Override) -> None:
    override = Override(person=override.person, start=moment - HOUR, end=moment + HOUR,
                        replaces=override.replaces, order=99)
    base = shift_at(schedule, moment).shift.person
    answer = shift_at(schedule, moment, [override]).shift
    applies = override.replaces in (None, base)
    assert answer.person == (override.person if applies else base)
