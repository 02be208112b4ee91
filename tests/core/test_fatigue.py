"""Tests for router/core/fatigue.py: hours, night and weekend hours by each person's clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from router.config.model import FatigueLimits, Layer, Person, Rota
from router.core.fatigue import Fatigue, fatigue_report

WEEK = timedelta(weeks=1)
PEOPLE = {
    "ann": Person(id="ann", name="Ann", timezone=ZoneInfo("America/New_York")),
    "cat": Person(id="cat", name="Cat", timezone=ZoneInfo("UTC")),
}


def rota(members: tuple[str, ...], every: timedelta = WEEK, zone: str = "UTC",
         identifier: str = "rota") -> Rota:
    layer = Layer(name="main", members=members, every=every, handoff=time(9), handoff_day=0,
                  start=date(2026, 1, 5), first=members[0])
    return Rota(id=identifier, name=identifier, timezone=ZoneInfo(zone), layers=(layer,))


def test_hours_nights_and_weekends_by_each_persons_clock_and_flags() -> None:
    start = datetime(2026, 1, 5, 9, tzinfo=UTC)
    # 10:00 and 00:00 and 10:00 EST in the period, one before it.
    pages = {"ann": [start + timedelta(hours=hours) for hours in (6, 20, 30, -1)]}
    limits = FatigueLimits(hours_per_week=100, night_hours_per_week=20,
                           weekend_hours_per_week=30, pages_per_week=1)
    report = fatigue_report(PEOPLE, [rota(("ann", "bob"))], start, start + 2 * WEEK, limits,
                            pages)
    # ann (New York): her week starts 04:00 local, so 3 + 6 * 9 + 6 night hours; bob (not in
    # people, so UTC) has seven whole nights. Limits double for two weeks.
    assert report == (
        Fatigue(person="ann", hours=168, night_hours=63, weekend_hours=48, pages=3,
                night_pages=1, flags=("night_hours_per_week", "pages_per_week")),
        Fatigue(person="bob", hours=168, night_hours=63, weekend_hours=48,
                flags=("night_hours_per_week",)),
        Fatigue(person="cat", hours=0, night_hours=0, weekend_hours=0),
    )


def test_a_night_across_fall_back_lasts_ten_hours() -> None:
    berlin = {"ann": Person(id="ann", name="Ann", timezone=ZoneInfo("Europe/Berlin"))}
    zone = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 10, 24, 12, tzinfo=zone)
    end = datetime(2026, 10, 26, 12, tzinfo=zone)
    (ann,) = fatigue_report(berlin, [rota(("ann",), zone="Europe/Berlin")], start, end,
                            FatigueLimits())
    assert (ann.hours, ann.night_hours, ann.weekend_hours) == (49, 10 + 9, 12 + 25)
    assert ann.flags == ()


def test_overlapping_shifts_in_two_rotas_count_once() -> None:
    start = datetime(2026, 1, 5, 9, tzinfo=UTC)
    rotas = [rota(("cat",), identifier="one"),
             rota(("cat",), every=timedelta(days=1), identifier="two")]
    report = fatigue_report(PEOPLE, rotas, start, start + WEEK,
                            FatigueLimits(hours_per_week=167))
    assert report[1] == Fatigue(person="cat", hours=168, night_hours=63, weekend_hours=48,
                                flags=("hours_per_week",))
