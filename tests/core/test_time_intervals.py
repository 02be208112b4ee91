"""core.time_intervals: Alertmanager's time intervals on the wall clock of their location,
across DST, with 24:00, days counted from the month's end and ranges; and routes muted by
`mute_time_intervals` and `active_time_intervals`."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from router.alerts.model import Alert
from router.config import load_config
from router.config.model import Config, TimeInterval
from router.core.routing import RouteTable, route
from router.core.suppression import check
from router.core.time_intervals import contains, muted_by

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
INTERVALS = """
settings: {timezone: Europe/Berlin}
time_intervals:
  - name: office
    time_intervals:
      - weekdays: ['Monday:Friday']
        times: [{start_time: '09:00', end_time: '17:00'}]
  - name: late-evening
    time_intervals:
      - times: [{start_time: '22:00', end_time: '24:00'}]
        location: America/New_York
  - name: last-week
    time_intervals:
      - days_of_month: ['-7:-1']
        location: UTC
  - name: first-and-last
    time_intervals:
      - days_of_month: ['1', '-1']
  - name: quarter
    time_intervals:
      - months: ['january:march', 12]
        years: ['2026:2027']
  - name: night-two
    time_intervals:
      - times: [{start_time: '02:00', end_time: '03:00'}]
        location: Europe/Berlin
  - name: always
    time_intervals: [{}]
routes:
  - name: db
    match: [team=db]
    mute_time_intervals: [office]
    continue: true
  - name: web
    match: [team=~"db|web"]
    active_time_intervals: [office]
  - name: ops
    match: [team=ops]
"""


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Config:
    path: Path = tmp_path_factory.mktemp("intervals") / "config.yaml"
    path.write_text(textwrap.dedent(INTERVALS))
    return load_config([path])


@pytest.fixture(scope="module")
def intervals(config: Config) -> Mapping[str, TimeInterval]:
    return config.time_intervals


def local(text: str, zone: ZoneInfo = BERLIN, *, fold: int = 0) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone, fold=fold)


@pytest.mark.parametrize(("name", "instant", "held"), [
    # office: Monday 2026-11-23, the settings' timezone (Berlin) by default
    ("office", local("2026-11-23T09:00"), True),
    ("office", local("2026-11-23T16:59"), True),
    ("office", local("2026-11-23T17:00"), False),  # end exclusive
    ("office", local("2026-11-23T08:59"), False),
    ("office", local("2026-11-28T10:00"), False),  # Saturday
    ("office", datetime(2026, 11, 23, 8, 30, tzinfo=UTC), True),  # 09:30 Berlin
    # 24:00 ends the local day
    ("late-evening", local("2026-11-23T23:59", NEW_YORK), True),
    ("late-evening", local("2026-11-24T00:00", NEW_YORK), False),
    ("late-evening", local("2026-11-23T21:59", NEW_YORK), False),
    # negative days count from the month's end, whatever its length
    ("last-week", datetime(2026, 2, 22, 0, 0, tzinfo=UTC), True),
    ("last-week", datetime(2026, 2, 21, 23, 59, tzinfo=UTC), False),
    ("last-week", datetime(2026, 1, 25, 0, 0, tzinfo=UTC), True),
    ("last-week", datetime(2026, 1, 24, 12, 0, tzinfo=UTC), False),
    ("last-week", datetime(2028, 2, 23, 0, 0, tzinfo=UTC), True),  # leap year: 23..29
    ("last-week", datetime(2028, 2, 22, 23, 0, tzinfo=UTC), False),
    ("first-and-last", local("2026-04-30T12:00"), True),
    ("first-and-last", local("2026-05-01T00:00"), True),
    ("first-and-last", local("2026-05-02T00:00"), False),
    # the day is read in the location: 23:30 UTC on the 30th is the 1st in Berlin
    ("first-and-last", datetime(2026, 5, 31, 22, 30, tzinfo=UTC), True),
    ("first-and-last", datetime(2026, 6, 1, 22, 30, tzinfo=UTC), False),
    # month and year ranges, months by name or number
    ("quarter", local("2026-02-10T12:00"), True),
    ("quarter", local("2026-04-01T00:00"), False),
    ("quarter", local("2027-12-31T23:59"), True),
    ("quarter", local("2028-01-01T00:00"), False),
    ("always", datetime(2031, 7, 7, tzinfo=UTC), True),
])
def test_an_interval_holds_instants_on_its_wall_clock(
        intervals: Mapping[str, TimeInterval], name: str, instant: datetime,
        held: bool) -> None:
    assert contains(intervals[name], instant) is held


def test_spring_forward_skips_the_range_and_fall_back_holds_it_twice(
        intervals: Mapping[str, TimeInterval]) -> None:
    night = intervals["night-two"]
    # 2026-03-29 in Berlin: 02:00 CET jumps to 03:00 CEST; no instant reads 02:xx
    assert not contains(night, datetime(2026, 3, 29, 0, 59, tzinfo=UTC))  # 01:59 CET
    assert not contains(night, datetime(2026, 3, 29, 1, 0, tzinfo=UTC))  # 03:00 CEST
    # 2026-10-25: 03:00 CEST falls back to 02:00 CET; 02:30 happens twice, both held
    first, second = local("2026-10-25T02:30", fold=0), local("2026-10-25T02:30", fold=1)
    assert first.astimezone(UTC).hour == 0 and second.astimezone(UTC).hour == 1
    assert contains(night, first) and contains(night, second)
    assert not contains(night, datetime(2026, 10, 25, 2, 0, tzinfo=UTC))  # 03:00 CET
    # the office day is 8 hours of wall clock on the Monday after each change
    assert contains(intervals["office"], datetime(2026, 3, 30, 7, 0, tzinfo=UTC))  # 09:00
    assert not contains(intervals["office"], datetime(2026, 10, 26, 7, 59, tzinfo=UTC))


def test_a_naive_instant_is_refused(intervals: Mapping[str, TimeInterval]) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        contains(intervals["office"], datetime(2026, 1, 1))


def alert(team: str) -> Alert:
    return Alert(summary="x", source="native", labels={"team": team})


@pytest.mark.parametrize(("team", "instant", "expected"), [
    # web is active only in office hours: muted outside them
    ("web", local("2026-11-23T10:00"), None),
    ("web", local("2026-11-23T20:00"), "office"),
    # db matches db (muted in office hours) and web (muted outside): never both muted
    ("db", local("2026-11-23T10:00"), None),
    ("db", local("2026-11-23T20:00"), None),
    # ops names no interval; no route at all: the default route is never muted
    ("ops", local("2026-11-23T20:00"), None),
    ("none", local("2026-11-23T20:00"), None),
])
def test_an_alert_is_muted_only_when_every_route_it_matched_is(
        config: Config, team: str, instant: datetime, expected: str | None) -> None:
    decision = route(alert(team), RouteTable.compile(config.routes))
    assert muted_by(decision.routes, config.time_intervals, instant) == expected
    verdict = check(alert(team), (), (), instant, routes=decision.routes,
                    time_intervals=config.time_intervals)
    assert verdict.label == (f"time_interval:{expected}" if expected else None)


def test_a_mute_interval_mutes_its_route(config: Config) -> None:
    db_only = [config.routes[0]]
    assert muted_by(db_only, config.time_intervals, local("2026-11-23T10:00")) == "office"
    assert muted_by(db_only, config.time_intervals, local("2026-11-23T20:00")) is None
    verdict = check(alert("db"), (), (), local("2026-11-23T10:00"), routes=db_only,
                    time_intervals=config.time_intervals)
    assert verdict.describe() == ("suppressed by time_interval 'office': every matched route "
                                  "is muted by time interval 'office'")
