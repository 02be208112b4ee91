"""core.suppression: fixed and weekly windows in a timezone, DST, silences, which one is
reported, and what the end of a window means for an alert that still fires."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from router.alerts.model import Alert, Severity, Silence, SilenceMatcher
from router.config import load_config
from router.config.model import Suppression, frozen_mapping
from router.core.suppression import NOT_SUPPRESSED, Muting, Verdict, check, muting, window_end

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def load_suppressions(directory: Path, text: str) -> tuple[Suppression, ...]:
    (directory / "suppressions.yaml").write_text(textwrap.dedent(text))
    return load_config([directory]).suppressions


def weekly(directory: Path, zone: str, *windows: str) -> Suppression:
    """One suppression matching every alert, with the given `{days, from, until}` windows."""
    lines = "\n".join(f"      - {window}" for window in windows)
    text = f"suppressions:\n  - id: quiet\n    reason: maintenance\n    timezone: {zone}\n"
    return load_suppressions(directory, f"{text}    weekly:\n{lines}\n")[0]


def make_alert(labels: dict[str, str] | None = None, *, severity: str = "warning",
               service: str | None = None) -> Alert:
    return Alert(summary="disk full", source="native", severity=Severity(severity),
                 labels=frozen_mapping(labels), service=service)


def at(text: str, zone: tzinfo = UTC) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone)


def utc(text: str) -> datetime:
    return at(text, UTC)


def silence(identifier: str, *matchers: tuple[str, str, str], starts: str, ends: str,
            reason: str = "deploy") -> Silence:
    return Silence(id=identifier, reason=reason, starts_at=utc(starts), ends_at=utc(ends),
                   matchers=tuple(SilenceMatcher(name=name, operator=operator, value=value)
                                  for name, operator, value in matchers))


def until(verdict: Verdict) -> str | None:
    return verdict.until.isoformat() if verdict.until else None


@pytest.fixture
def example(tmp_path: Path) -> tuple[Suppression, ...]:
    return load_suppressions(tmp_path, """
        suppressions:
          - id: sunday-database-maintenance
            reason: Weekly database maintenance; alerts are recorded but nobody is paged.
            match: [service=database, severity!=critical]
            timezone: Europe/Berlin
            weekly:
              - {days: [sun], from: "02:00", until: "04:00"}
          - id: migration
            reason: Moving the database to new disks.
            match: ['team=~"db|storage"']
            timezone: Europe/Berlin
            from: 2026-06-01T22:00
            until: 2026-06-02T01:30
        """)


@pytest.mark.parametrize(
    ("labels", "service", "severity", "now", "expected"),
    [
        ({}, "database", "warning", "2026-06-07T00:00", "2026-06-07T02:00:00+00:00"),
        ({}, "database", "warning", "2026-06-07T01:59", "2026-06-07T02:00:00+00:00"),
        ({}, "database", "warning", "2026-06-07T02:00", None),
        ({}, "database", "warning", "2026-06-06T23:59", None),
        ({}, "database", "critical", "2026-06-07T00:30", None),
        ({"service": "database"}, None, "info", "2026-06-07T00:30", "2026-06-07T02:00:00+00:00"),
        ({}, "api", "warning", "2026-06-07T00:30", None),
        ({}, "database", "warning", "2026-06-08T00:30", None),
        ({"team": "db"}, None, "critical", "2026-06-01T20:00", "2026-06-01T23:30:00+00:00"),
        ({"team": "storage"}, None, "critical", "2026-06-01T23:29", "2026-06-01T23:30:00+00:00"),
        ({"team": "db"}, None, "critical", "2026-06-01T23:30", None),
        ({"team": "db"}, None, "critical", "2026-06-01T19:59", None),
        ({"team": "dbs"}, None, "critical", "2026-06-01T21:00", None),
    ],
    ids=["weekly start", "weekly last minute", "weekly end is exclusive", "before weekly",
         "matcher excludes critical", "service label", "other service", "monday",
         "fixed start", "fixed regex", "fixed end is exclusive", "before fixed",
         "regex is anchored"],
)
def test_example_windows(example: tuple[Suppression, ...], labels: dict[str, str],
                         service: str | None, severity: str, now: str,
                         expected: str | None) -> None:
    verdict = check(make_alert(labels, severity=severity, service=service), example, (),
                    utc(now))
    assert verdict.suppressed == (expected is not None)
    assert until(verdict) == expected


def test_verdict_names_the_suppression_and_its_reason(example: tuple[Suppression, ...]
                                                      ) -> None:
    verdict = check(make_alert(service="database"), example, (), utc("2026-06-07T01:00"))
    assert verdict == Verdict(
        suppressed=True, kind="suppression", id="sunday-database-maintenance",
        reason="Weekly database maintenance; alerts are recorded but nobody is paged.",
        until=utc("2026-06-07T02:00"))
    assert verdict.describe() == (
        "suppressed by suppression 'sunday-database-maintenance' until "
        "2026-06-07T02:00:00+00:00: Weekly database maintenance; alerts are recorded but "
        "nobody is paged.")
    assert check(make_alert(), example, (), utc("2026-06-07T01:00")) == NOT_SUPPRESSED
    assert NOT_SUPPRESSED.describe() == "not suppressed"


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        ("2026-06-07T22:00", "2026-06-08T06:00"),    # Sunday 22:00, the listed day
        ("2026-06-08T05:59", "2026-06-08T06:00"),    # Monday morning, past midnight
        ("2026-06-08T06:00", None),
        ("2026-06-07T21:59", None),
        ("2026-06-07T03:00", None),                  # Sunday early: Saturday is not listed
        ("2026-06-14T23:00", "2026-06-15T06:00"),
    ],
)
def test_weekly_window_runs_past_midnight(tmp_path: Path, now: str, expected: str | None
                                          ) -> None:
    suppression = weekly(tmp_path, "UTC", '{days: [sun], from: "22:00", until: "06:00"}')
    end = window_end(suppression, utc(now))
    assert end == (utc(expected) if expected else None)


@pytest.mark.parametrize(
    ("window", "now", "expected"),
    [
        ('{days: [sat], from: "00:00", until: "00:00"}', "2026-06-06T00:00", "2026-06-07T00:00"),
        ('{days: [sat], from: "00:00", until: "24:00"}', "2026-06-06T23:59", "2026-06-07T00:00"),
        ('{days: [sat], from: "00:00", until: "24:00"}', "2026-06-07T00:00", None),
        ('{days: [sat], from: "00:00", until: "24:00"}', "2026-06-05T23:59", None),
        ('{days: [sat], from: "09:00", until: "09:00"}', "2026-06-07T08:59", "2026-06-07T09:00"),
        ('{days: [sat], from: "09:00", until: "09:00"}', "2026-06-06T08:59", None),
    ],
    ids=["00:00-00:00", "00:00-24:00 last minute", "ends at midnight", "starts at midnight",
         "09:00-09:00 lasts into the next day", "09:00-09:00 starts at 09:00"],
)
def test_start_equal_to_end_is_a_whole_day(tmp_path: Path, window: str, now: str,
                                           expected: str | None) -> None:
    end = window_end(weekly(tmp_path, "UTC", window), utc(now))
    assert end == (utc(expected) if expected else None)


def test_back_to_back_windows_report_the_end_of_the_stretch(tmp_path: Path) -> None:
    suppression = weekly(tmp_path, "UTC", '{days: [sat, sun], from: "00:00", until: "24:00"}',
                         '{days: [mon], from: "00:00", until: "08:00"}')
    assert window_end(suppression, utc("2026-06-06T10:00")) == utc("2026-06-08T08:00")


def test_a_window_over_the_whole_week_reports_about_a_week_ahead(tmp_path: Path) -> None:
    suppression = weekly(tmp_path, "UTC", '{from: "00:00", until: "00:00"}')
    now = utc("2026-06-06T10:00")
    end = window_end(suppression, now)
    assert end is not None
    assert timedelta(days=7) < end - now <= timedelta(days=8)


@pytest.mark.parametrize(
    ("zone", "window", "now", "expected"),
    [
        # Berlin springs forward on 2026-03-29 at 02:00 CET to 03:00 CEST.
        ("Europe/Berlin", '{days: [sun], from: "01:00", until: "05:00"}',
         "2026-03-29T00:00", "2026-03-29T03:00"),                 # 3 real hours
        ("Europe/Berlin", '{days: [sun], from: "01:00", until: "05:00"}',
         "2026-03-29T03:00", None),
        ("Europe/Berlin", '{days: [sun], from: "02:30", until: "04:00"}',
         "2026-03-29T01:29", None),                               # 02:30 does not exist:
        ("Europe/Berlin", '{days: [sun], from: "02:30", until: "04:00"}',
         "2026-03-29T01:30", "2026-03-29T02:00"),                 # read as 02:30 CET
        # Berlin falls back on 2026-10-25 at 03:00 CEST to 02:00 CET.
        ("Europe/Berlin", '{days: [sun], from: "01:00", until: "05:00"}',
         "2026-10-24T23:00", "2026-10-25T04:00"),                 # 5 real hours
        ("Europe/Berlin", '{days: [sun], from: "01:00", until: "05:00"}',
         "2026-10-25T03:59", "2026-10-25T04:00"),
        ("Europe/Berlin", '{days: [sat], from: "22:00", until: "06:00"}',
         "2026-10-25T04:59", "2026-10-25T05:00"),                 # past midnight, 9 hours
        # New York springs forward on 2026-03-08 at 02:00 EST to 03:00 EDT.
        ("America/New_York", '{days: [sat], from: "22:00", until: "06:00"}',
         "2026-03-08T03:00", "2026-03-08T10:00"),                 # 7 real hours
        ("America/New_York", '{days: [sat], from: "22:00", until: "06:00"}',
         "2026-03-08T02:59", None),
        ("America/New_York", '{days: [sun], from: "02:00", until: "03:00"}',
         "2026-03-08T07:00", None),                               # the hour that never was
        # New York falls back on 2026-11-01 at 02:00 EDT to 01:00 EST.
        ("America/New_York", '{days: [sun], from: "01:00", until: "01:30"}',
         "2026-11-01T05:00", "2026-11-01T05:30"),                 # first 01:00 (EDT)
        ("America/New_York", '{days: [sun], from: "01:00", until: "01:30"}',
         "2026-11-01T06:10", None),                               # second 01:10 (EST)
        ("America/New_York", '{days: [sun], from: "00:00", until: "24:00"}',
         "2026-11-01T04:00", "2026-11-02T05:00"),                 # a 25-hour day
    ],
)
def test_weekly_windows_follow_the_wall_clock_across_dst(
        tmp_path: Path, zone: str, window: str, now: str, expected: str | None) -> None:
    end = window_end(weekly(tmp_path, zone, window), utc(now))
    assert end == (utc(expected) if expected else None)


def test_a_local_now_is_compared_as_an_instant(tmp_path: Path) -> None:
    # On 2026-10-25 Berlin reads 02:10 twice; the window ends at the first 02:30 (00:30 UTC),
    # so the second 02:10 (01:10 UTC) is outside although its wall clock is inside.
    suppression = weekly(tmp_path, "Europe/Berlin",
                         '{days: [sun], from: "01:00", until: "02:30"}')
    first = datetime(2026, 10, 25, 2, 10, fold=0, tzinfo=BERLIN)
    second = datetime(2026, 10, 25, 2, 10, fold=1, tzinfo=BERLIN)
    assert window_end(suppression, first) == utc("2026-10-25T00:30")
    assert window_end(suppression, second) is None
    assert window_end(suppression, second.astimezone(UTC)) is None


def test_fixed_window_in_the_suppression_timezone(tmp_path: Path) -> None:
    (suppression,) = load_suppressions(tmp_path, """
        suppressions:
          - id: move
            reason: data centre move
            timezone: America/New_York
            from: 2026-03-08T01:00
            until: 2026-03-08T05:00
        """)
    assert window_end(suppression, utc("2026-03-08T05:59")) is None
    assert window_end(suppression, utc("2026-03-08T06:00")) == utc("2026-03-08T09:00")
    assert window_end(suppression, at("2026-03-08T04:59", NEW_YORK)) == utc("2026-03-08T09:00")
    assert window_end(suppression, utc("2026-03-08T09:00")) is None


def test_silences_are_half_open_and_match_like_routes() -> None:
    silences = [silence("s1", ("service", "=", "api"), ("env", "!=", "prod"),
                        ("instance", "=~", "web-[0-9]+"),
                        starts="2026-05-24T23:00", ends="2026-05-25T03:00")]
    alert = make_alert({"instance": "web-12"}, service="api")
    assert check(alert, (), silences, utc("2026-05-24T22:59")) == NOT_SUPPRESSED
    assert check(alert, (), silences, utc("2026-05-24T23:00")) == Verdict(
        suppressed=True, kind="silence", id="s1", reason="deploy",
        until=utc("2026-05-25T03:00"))
    assert check(alert, (), silences, utc("2026-05-25T03:00")) == NOT_SUPPRESSED
    for other in (make_alert({"instance": "web-12x"}, service="api"),
                  make_alert({"instance": "web-1", "env": "prod"}, service="api"),
                  make_alert({"instance": "web-1"}, service="web")):
        assert not check(other, (), silences, utc("2026-05-25T00:00")).suppressed


def test_silence_rejects_an_unknown_operator() -> None:
    with pytest.raises(ValueError, match=r"unknown match operator '==';"
                                         r" expected one of = != =~ !~"):
        SilenceMatcher(name="service", operator="==", value="api")


def test_naive_now_is_refused(example: tuple[Suppression, ...]) -> None:
    with pytest.raises(ValueError, match="expected a timezone-aware datetime"):
        check(make_alert(), example, (), datetime(2026, 6, 7, 1, 0))


@pytest.fixture
def overlapping(tmp_path: Path) -> tuple[Suppression, ...]:
    return load_suppressions(tmp_path, """
        suppressions:
          - id: early
            reason: first declared
            timezone: UTC
            from: 2026-05-25T00:00
            until: 2026-05-25T04:00
          - id: same-end
            reason: second declared
            timezone: UTC
            from: 2026-05-24T00:00
            until: 2026-05-25T04:00
          - id: late
            reason: ends later
            match: [team=db]
            timezone: UTC
            from: 2026-05-25T01:00
            until: 2026-05-25T06:00
        """)


@pytest.mark.parametrize(
    ("labels", "silences", "expected"),
    [
        ({}, [], ("suppression", "early", "2026-05-25T04:00")),
        ({"team": "db"}, [], ("suppression", "late", "2026-05-25T06:00")),
        ({}, [silence("s1", starts="2026-05-25T00:00", ends="2026-05-25T05:00")],
         ("silence", "s1", "2026-05-25T05:00")),
        ({}, [silence("s1", starts="2026-05-25T00:00", ends="2026-05-25T04:00")],
         ("suppression", "early", "2026-05-25T04:00")),
        ({"team": "db"}, [silence("s1", starts="2026-05-25T00:00", ends="2026-05-25T06:00"),
                          silence("s2", starts="2026-05-24T00:00", ends="2026-05-25T06:00")],
         ("suppression", "late", "2026-05-25T06:00")),
        ({}, [silence("s2", starts="2026-05-25T00:00", ends="2026-05-25T07:00"),
              silence("s1", starts="2026-05-24T00:00", ends="2026-05-25T07:00")],
         ("silence", "s2", "2026-05-25T07:00")),
    ],
    ids=["equal ends: first declared", "latest end wins", "a silence that ends later",
         "equal ends: config before silences", "equal ends: config before two silences",
         "equal ends: silences in the order given"],
)
def test_which_one_is_reported_when_several_match(
        overlapping: tuple[Suppression, ...], labels: dict[str, str], silences: list[Silence],
        expected: tuple[str, str, str]) -> None:
    verdict = check(make_alert(labels), overlapping, silences, utc("2026-05-25T02:00"))
    assert (verdict.kind, verdict.id, until(verdict)) == (
        expected[0], expected[1], utc(expected[2]).isoformat())


def test_an_alert_that_outlasts_its_window_is_not_suppressed_at_until(
        example: tuple[Suppression, ...]) -> None:
    # The engine stores a re-check at `until`; at that instant the same alert, still firing,
    # is no longer suppressed, so an open incident that was never notified is notified then.
    alert = make_alert(service="database")
    inside = check(alert, example, (), utc("2026-06-07T00:15"))
    assert inside.suppressed
    assert inside.until is not None
    assert check(alert, example, (), inside.until) == NOT_SUPPRESSED
    assert check(alert, example, (), inside.until - timedelta(microseconds=1)).suppressed


def test_a_window_that_ends_inside_another_hands_over(overlapping: tuple[Suppression, ...]
                                                      ) -> None:
    silences = [silence("s1", starts="2026-05-24T00:00", ends="2026-05-25T01:30")]
    alert = make_alert({"team": "db"})
    first = check(alert, overlapping, silences, utc("2026-05-25T00:30"))
    assert (first.kind, first.id, first.until) == ("suppression", "early",
                                                   utc("2026-05-25T04:00"))
    assert first.until is not None
    after = check(alert, overlapping, silences, first.until)
    assert (after.id, after.until) == ("late", utc("2026-05-25T06:00"))
    assert check(alert, overlapping, silences, utc("2026-05-25T06:00")) == NOT_SUPPRESSED


def test_an_incident_is_muted_only_while_every_firing_alert_is_held() -> None:
    """Issue 16 item 1: what mutes an open incident, and until when it re-checks."""
    disk = make_alert({"alertname": "Disk", "host": "db1"})
    load = make_alert({"alertname": "Load", "host": "db1"})
    short = silence("SIL-disk", ("alertname", "=", "Disk"), starts="2026-11-23T08:00",
                    ends="2026-11-23T09:00")
    host = silence("SIL-host", ("host", "=", "db1"), starts="2026-11-23T08:00",
                   ends="2026-11-23T10:00")
    now = utc("2026-11-23T08:30")
    assert muting([disk, load], (), [short], now) is None  # Load fires unsilenced
    assert muting([], (), [short, host], now) is None  # nothing fires: nothing to mute
    # each alert reports the silence that holds it longest; the re-check is the earliest
    assert muting([disk, load], (), [short, host], now) == Muting(
        by=("silence:SIL-host",), until=utc("2026-11-23T10:00").astimezone(UTC))
    both = muting([disk], (), [short], now)
    assert both is not None and both.describe() == "silence:SIL-disk"
    assert muting([disk, load], (), [short, host], utc("2026-11-23T10:00")) is None
