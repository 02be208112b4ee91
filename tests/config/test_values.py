"""The parsers of config/values.py: text a person wrote -> typed values, or a ValueError that
says what was expected."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from router.config.values import (
    HOLIDAY_YEARS,
    matcher_slip,
    parse_calendar_dates,
    parse_date,
    parse_datetime,
    parse_duration,
    parse_matcher,
    parse_positive_duration,
    parse_time_of_day,
    parse_timezone,
    parse_weekday,
)
from router.errors import Where

BERLIN = ZoneInfo("Europe/Berlin")
HERE = Where("rules.yaml", 3, 7)


@pytest.mark.parametrize(("text", "expected"), [
    ("30s", timedelta(seconds=30)),
    ("15m", timedelta(minutes=15)),
    ("1h30m", timedelta(hours=1, minutes=30)),
    ("1d", timedelta(days=1)),
    ("2w", timedelta(weeks=2)),
    ("1w2d3h4m5s", timedelta(weeks=1, days=2, hours=3, minutes=4, seconds=5)),
    (" 90m ", timedelta(minutes=90)),
    ("0s", timedelta(0)),
])
def test_duration_parses(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["30x", "", "15", "1m1h", "1.5h", "-5m", "1 h", "h"])
def test_bad_duration_says_what_was_expected(text: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_duration(text)
    assert str(raised.value) == (
        f"expected a duration like 30s, 15m, 1h30m or 2w, got {text!r}")


def test_zero_duration_is_not_positive() -> None:
    with pytest.raises(ValueError) as raised:
        parse_positive_duration("0m")
    assert str(raised.value) == "expected a duration longer than zero, got '0m'"


def test_duration_too_long_for_python_is_a_value_error() -> None:
    with pytest.raises(ValueError) as raised:
        parse_duration("99999999999w")
    assert str(raised.value) == (
        "expected a duration of at most 999999999 days, got '99999999999w'")


@pytest.mark.parametrize(("text", "expected"), [
    ("09:00", time(9, 0)), ("9:00", time(9, 0)), ("17:30", time(17, 30)),
    ("00:00", time(0, 0)), ("23:59", time(23, 59)), ("24:00", time(0, 0)),
])
def test_time_of_day_parses(text: str, expected: time) -> None:
    assert parse_time_of_day(text) == expected


@pytest.mark.parametrize("text", ["25:00", "12:60", "9", "9am", "09:00:00", "24:01", ""])
def test_bad_time_of_day(text: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_time_of_day(text)
    assert str(raised.value) == (
        f"expected a time of day HH:MM such as 09:00 or 17:30, got {text!r}")


def test_date_parses_and_a_bad_one_says_the_form() -> None:
    assert parse_date("2026-01-05") == date(2026, 1, 5)
    with pytest.raises(ValueError) as raised:
        parse_date("2026-13-05")
    assert str(raised.value) == (
        "expected a date YYYY-MM-DD such as 2026-01-05, got '2026-13-05'")


def test_datetime_without_offset_is_wall_clock_time_in_the_zone() -> None:
    assert parse_datetime("2026-12-24T09:00", BERLIN) == datetime(2026, 12, 24, 9, tzinfo=BERLIN)
    assert parse_datetime("2026-12-24", BERLIN) == datetime(2026, 12, 24, tzinfo=BERLIN)


def test_datetime_with_offset_keeps_it() -> None:
    value = parse_datetime("2026-12-24T09:00:00+01:00", ZoneInfo("America/New_York"))
    assert value == datetime(2026, 12, 24, 8, tzinfo=UTC)
    assert parse_datetime("2026-12-24T08:00Z", BERLIN) == datetime(2026, 12, 24, 8, tzinfo=UTC)


def test_bad_datetime() -> None:
    with pytest.raises(ValueError) as raised:
        parse_datetime("2026-12-24T25:00", BERLIN)
    assert str(raised.value) == (
        "expected a date and time such as 2026-12-24T09:00 or 2026-12-24T09:00:00+01:00, "
        "got '2026-12-24T25:00'")


def test_timezone_parses_and_a_typo_gets_a_suggestion() -> None:
    assert parse_timezone("Europe/Berlin") == BERLIN
    with pytest.raises(ValueError) as raised:
        parse_timezone("Europe/Berln")
    assert str(raised.value) == (
        "'Europe/Berln' is not a known timezone (did you mean 'Europe/Berlin'?)")


@pytest.mark.parametrize("text", ["Mars/Olympus_Mons", "", "../../etc/passwd"])
def test_unknown_timezone_far_from_any_name_has_no_suggestion(text: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_timezone(text)
    assert str(raised.value) == f"{text!r} is not a known timezone"


def test_weekday_index_is_python_weekday() -> None:
    assert [parse_weekday(day) for day in ("mon", "sun")] == [0, 6]


@pytest.mark.parametrize(("text", "name", "operator", "value"), [
    ("team=db", "team", "=", "db"),
    ("severity!=info", "severity", "!=", "info"),
    ('team=~"db|storage"', "team", "=~", "db|storage"),
    ("env!~staging.*", "env", "!~", "staging.*"),
    (" service = api ", "service", "=", "api"),
    ('summary="a \\"quoted\\" word"', "summary", "=", 'a "quoted" word'),
    ('env=""', "env", "=", ""),
])
def test_matcher_parses(text: str, name: str, operator: str, value: str) -> None:
    matcher = parse_matcher(text, HERE)
    assert (matcher.name, matcher.operator, matcher.value, matcher.where) == (
        name, operator, value, HERE)
    assert (matcher.pattern is not None) == operator.endswith("~")


@pytest.mark.parametrize("text", ["just text", "", "=db", "team", "9team=db", "team~db"])
def test_malformed_matcher(text: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_matcher(text, HERE)
    assert str(raised.value) == (
        f"expected a matcher like team=db, severity!=info or env=~\"prod|staging\", "
        f"got {text!r}")


def test_matcher_with_a_regex_that_does_not_compile() -> None:
    with pytest.raises(ValueError) as raised:
        parse_matcher('team=~"db|("', HERE)
    assert str(raised.value) == (
        "'db|(' is not a valid regular expression: missing ), unterminated subpattern at "
        "position 3")


def test_matcher_with_a_broken_quoted_value() -> None:
    with pytest.raises(ValueError) as raised:
        parse_matcher('team="a\\q"', HERE)
    assert str(raised.value) == "the quoted value in 'team=\"a\\\\q\"' is not valid"


@pytest.mark.parametrize(("text", "slip"), [
    ("env=!staging", "'env=!staging' is env equal to '!staging': did you mean 'env!=staging'? "
                     "(write env=\"!staging\" to mean it)"),
    ("team==db", "'team==db' is team equal to '=db': did you mean 'team=db'? "
                 "(write team=\"=db\" to mean it)"),
    ('team=~"db|storage', "'team=~\"db|storage' has a quote at one end of its value only, so "
                          "the quote is part of the value: did you mean 'team=~\"db|storage\"'?"),
    ('team=db"', "'team=db\"' has a quote at one end of its value only, so the quote is part "
                 "of the value: did you mean 'team=\"db\"'?"),
    ("team=db", None), ('env="!staging"', None), ("env!=staging", None), ('team=~"a|b"', None),
    ("env=", None),
])
def test_a_matcher_that_parses_but_reads_like_a_slip(text: str, slip: str | None) -> None:
    parse_matcher(text, HERE)
    assert matcher_slip(text) == slip


def _calendar(*events: str) -> bytes:
    """A calendar of these events; each gets a UID of its own unless it names one."""
    body = "".join(
        "BEGIN:VEVENT\r\n" + ("" if "UID:" in event else f"UID:{index}@example.com\r\n")
        + f"{event}END:VEVENT\r\n" for index, event in enumerate(events))
    return (f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//example//EN\r\n{body}"
            "END:VCALENDAR\r\n").encode()


def test_calendar_dates_take_dtend_as_exclusive() -> None:
    content = _calendar(
        "DTSTART;VALUE=DATE:20261224\r\nDTEND;VALUE=DATE:20261227\r\n",
        "DTSTART;VALUE=DATE:20270101\r\n",
        "DTSTART:20260501T000000Z\r\nDTEND:20260502T000000Z\r\n",
    )
    assert sorted(parse_calendar_dates(content)) == [
        date(2026, 5, 1), date(2026, 12, 24), date(2026, 12, 25), date(2026, 12, 26),
        date(2027, 1, 1)]


def test_a_calendar_event_without_a_start() -> None:
    with pytest.raises(ValueError) as raised:
        parse_calendar_dates(_calendar("SUMMARY:Mystery day\r\n"))
    assert str(raised.value) == "event 'Mystery day' has no DTSTART"


def test_a_recurring_holiday_counts_each_occurrence_less_its_exceptions() -> None:
    """RRULE with EXDATE, an RDATE, and one occurrence moved by a RECURRENCE-ID event (a
    company's Christmas break that one year starts a day early)."""
    content = _calendar(
        "SUMMARY:Christmas break\r\nUID:xmas@example.com\r\n"
        "DTSTART;VALUE=DATE:20261224\r\nDTEND;VALUE=DATE:20261226\r\n"
        "RRULE:FREQ=YEARLY;COUNT=4\r\nEXDATE;VALUE=DATE:20271224\r\n"
        "RDATE;VALUE=DATE:20270704\r\n",
        "SUMMARY:Christmas break\r\nUID:xmas@example.com\r\n"
        "RECURRENCE-ID;VALUE=DATE:20281224\r\n"
        "DTSTART;VALUE=DATE:20281223\r\nDTEND;VALUE=DATE:20281225\r\n")
    assert sorted(parse_calendar_dates(content)) == [
        date(2026, 12, 24), date(2026, 12, 25),
        date(2027, 7, 4), date(2027, 7, 5),  # an RDATE lasts as long as the event
        date(2028, 12, 23), date(2028, 12, 24),
        date(2029, 12, 24), date(2029, 12, 25)]


def test_a_recurring_holiday_without_an_end_is_expanded_for_a_hundred_years() -> None:
    content = _calendar("DTSTART;VALUE=DATE:20260501\r\nRRULE:FREQ=YEARLY\r\n",
                        "DTSTART:20300101T090000Z\r\nDTEND:20300101T170000Z\r\n"
                        "RRULE:FREQ=YEARLY;BYMONTH=1;BYMONTHDAY=1\r\n")
    days = parse_calendar_dates(content)
    assert HOLIDAY_YEARS == 100
    assert min(days) == date(2026, 5, 1)
    assert date(2125, 5, 1) in days and date(2126, 5, 1) not in days
    assert date(2126, 1, 1) in days and date(2127, 1, 1) not in days
    assert len(days) == 100 + 97


def test_a_rule_that_recurs_within_a_day_is_refused() -> None:
    content = _calendar("SUMMARY:Every hour\r\nDTSTART:20260101T000000Z\r\n"
                        "RRULE:FREQ=HOURLY\r\n")
    with pytest.raises(ValueError) as raised:
        parse_calendar_dates(content)
    assert str(raised.value) == (
        "event 'Every hour' recurs HOURLY: a holiday lasts whole days, expected FREQ=DAILY, "
        "WEEKLY, MONTHLY or YEARLY")


def test_an_endless_daily_rule_is_a_hundred_years_of_days() -> None:
    content = _calendar("DTSTART;VALUE=DATE:20260101\r\nRRULE:FREQ=DAILY\r\n")
    days = parse_calendar_dates(content)
    assert len(days) == 36_524  # 2026-01-01 up to 2126-01-01; 2100 is no leap year
    assert max(days) == date(2125, 12, 31)


def test_a_recurrence_rule_that_is_not_one() -> None:
    with pytest.raises(ValueError, match="Expected frequency, got: SOMETIMES"):
        parse_calendar_dates(_calendar("DTSTART;VALUE=DATE:20261225\r\n"
                                       "RRULE:FREQ=SOMETIMES\r\n"))


def test_a_recurring_holiday_near_the_end_of_the_calendar_stops_at_year_9999() -> None:
    content = _calendar("DTSTART;VALUE=DATE:99971225\r\nRRULE:FREQ=YEARLY\r\n")
    assert sorted(parse_calendar_dates(content)) == [
        date(9997, 12, 25), date(9998, 12, 25), date(9999, 12, 25)]
