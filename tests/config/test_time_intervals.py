"""The `time_intervals` and `inhibit_rules` sections and the routes' interval names: every
mistake reported at its file, line and field, all at once, with what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.config.support import FIXTURES, problems


@pytest.mark.parametrize(("fixture", "expected"), [
    ("bad-time-intervals", [
        'time_intervals.yaml:5:30: time_intervals[0].time_intervals[0].weekdays[1]: '
        "'funday' is not a day of the week; expected monday ... sunday, or a range such "
        'as monday:friday',
        'time_intervals.yaml:6:19: time_intervals[0].time_intervals[0].location: '
        "'Europe/Berln' is not a known timezone (did you mean 'Europe/Berlin'?)",
        'time_intervals.yaml:9:25: time_intervals[1].time_intervals[0].days_of_month[0]: '
        "the range '-1:-7' starts after it ends; expected first:last, first no later "
        'than last',
        'time_intervals.yaml:9:34: time_intervals[1].time_intervals[0].days_of_month[1]: '
        "'0' is not a day of the month; expected 1 to 31, or -1 (the last day) to -31, "
        'or a range such as 1:5 or -7:-1',
        'time_intervals.yaml:9:39: time_intervals[1].time_intervals[0].days_of_month[2]: '
        "'32' is not a day of the month; expected 1 to 31, or -1 (the last day) to -31, "
        'or a range such as 1:5 or -7:-1',
        'time_intervals.yaml:10:18: time_intervals[1].time_intervals[0].months[0]: '
        "'janvier' is not a month; expected january ... december or 1 to 12, or a range "
        'such as january:march',
        'time_intervals.yaml:10:27: time_intervals[1].time_intervals[0].months[1]: the '
        "range '3:1' starts after it ends; expected first:last, first no later than last",
        "time_intervals.yaml:10:34: time_intervals[1].time_intervals[0].months[2]: '13' "
        'is not a month; expected january ... december or 1 to 12, or a range such as '
        'january:march',
        'time_intervals.yaml:11:17: time_intervals[1].time_intervals[0].years[0]: the '
        "range '2027:2026' starts after it ends; expected first:last, first no later "
        'than last',
        'time_intervals.yaml:11:30: time_intervals[1].time_intervals[0].years[1]: '
        "'twenty' is not a year; expected a year such as 2026, or a range such as "
        '2026:2027',
        'time_intervals.yaml:15:45: '
        "time_intervals[2].time_intervals[0].times[0].end_time: end_time '06:00' must be "
        "after start_time '22:00' (a range may not pass midnight: split it)",
        'time_intervals.yaml:16:45: '
        "time_intervals[2].time_intervals[0].times[1].end_time: end_time '24:00' must be "
        "after start_time '24:00' (a range may not pass midnight: split it)",
        'time_intervals.yaml:17:26: '
        'time_intervals[2].time_intervals[0].times[2].start_time: expected a time of day '
        "HH:MM such as 09:00 or 17:30, got '9am'",
        "time_intervals.yaml:18:5: time_intervals[3]: time interval name 'weekends' is "
        'defined twice: here and at time_intervals.yaml:3:5',
    ]),
    ("bad-time-interval-names", [
        'routes.yaml:4:27: routes[0].mute_time_intervals[0]: no time interval named '
        "'weekend' (did you mean 'weekends'?)",
        'routes.yaml:5:29: routes[0].active_time_intervals[0]: no time interval named '
        "'office'",
    ]),
    ("bad-inhibit-rules", [
        "inhibit.yaml:4:23: inhibit_rules[0].target_matchers[0]: 'warning|(' is not a "
        'valid regular expression: missing ), unterminated subpattern at position 8',
        "inhibit.yaml:6:5: inhibit_rules[1]: missing required key 'source_matchers'",
        "inhibit.yaml:6:5: inhibit_rules[1].source_match: unknown key 'source_match' "
        "(did you mean 'source_matchers'?); expected one of: equal, name, "
        'source_matchers, target_matchers',
        "inhibit.yaml:11:5: inhibit_rules[3]: inhibit rule name 'twice' is defined "
        'twice: here and at inhibit.yaml:8:5',
        'inhibit.yaml:12:23: inhibit_rules[3].source_matchers[0]: expected a matcher '
        'like team=db, severity!=info or env=~"prod|staging", got \'alertname\'',
    ]),
])
def test_each_mistake_is_named_with_its_place(monkeypatch: pytest.MonkeyPatch, fixture: str,
                                             expected: list[str]) -> None:
    monkeypatch.chdir(FIXTURES / fixture)
    found = problems(sorted(Path().glob("*.yaml")))
    assert sorted(found) == sorted(expected)
