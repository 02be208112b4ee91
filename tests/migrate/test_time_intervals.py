"""router/migrate/alertmanager/time_intervals.py: Alertmanager's time intervals become router's
with the same instants in them.

The proof runs Alertmanager's own timeinterval package (Go, from Debian's
golang-github-prometheus-alertmanager-dev, compiled here with the Debian `go`) and router's
`core.time_intervals` on the converted config, over Alertmanager's own examples (its
timeinterval and config tests) and cases of ours, at instants spread over 2019-2036, densely
over 2024-2025, and minute by minute around every DST change of the zones used: zero
differences. Skipped without Go or the package.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from router.config import load_config
from router.config.model import TimeInterval
from router.core.time_intervals import contains
from router.migrate.alertmanager.report import Report, load
from router.migrate.alertmanager.time_intervals import convert_time_intervals

GOCODE = Path("/usr/share/gocode")
GO = shutil.which("go")
needs_go = pytest.mark.skipif(
    GO is None or not (GOCODE / "src/github.com/prometheus/alertmanager/timeinterval").is_dir(),
    reason="needs go and Debian's golang-github-prometheus-alertmanager-dev")

EVALUATOR = """
package main

// Reads Alertmanager named time intervals (YAML, as in alertmanager.yml) from argv[1] and
// Unix seconds from stdin; prints for each instant one 0/1 per interval, as Alertmanager's
// notify stage asks them (ContainsTime of the UTC time, any spec of the interval).
import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/prometheus/alertmanager/timeinterval"
	"gopkg.in/yaml.v2"
)

type named struct {
	Name          string                      `yaml:"name"`
	TimeIntervals []timeinterval.TimeInterval `yaml:"time_intervals"`
}

func main() {
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		panic(err)
	}
	var intervals []named
	if err := yaml.UnmarshalStrict(data, &intervals); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	scanner := bufio.NewScanner(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	for scanner.Scan() {
		seconds, err := strconv.ParseInt(scanner.Text(), 10, 64)
		if err != nil {
			panic(err)
		}
		now := time.Unix(seconds, 0).UTC()
		for _, interval := range intervals {
			in := byte('0')
			for _, spec := range interval.TimeIntervals {
				if spec.ContainsTime(now) {
					in = '1'
					break
				}
			}
			out.WriteByte(in)
		}
		out.WriteByte('\\n')
	}
	out.Flush()
}
"""

ALERTMANAGERS_OWN = """
# timeinterval_test.go: yamlUnmarshalTestCases (the valid ones)
- name: business-hours
  time_intervals:
    - weekdays: ['monday:friday']
      times:
        - start_time: '09:00'
          end_time: '17:00'
- name: last-week-of-the-first-quarter
  time_intervals:
    - weekdays: ['monday:friday', 'sunday']
      months: ['january:march']
      days_of_month: ['-7:-1']
      years: ['2020:2025', '2030:2035']
      times:
        - start_time: '09:00'
          end_time: '17:00'
- name: first-to-last-day
  time_intervals: [{days_of_month: ['1:-1']}]
- name: months-in-any-case
  time_intervals: [{months: ['January:december']}]
- name: years-in-sydney
  time_intervals: [{years: ['2020:2022'], location: 'Australia/Sydney'}]
# timeinterval_test.go: timeIntervalTestCases (Go structs there, their YAML here)
- name: empty-spec
  time_intervals: [{}]
- name: easter-2020
  time_intervals: [{days_of_month: ['4:6'], months: ['4'], years: ['2020']}]
- name: last-three-days
  time_intervals: [{days_of_month: ['-3:-1']}]
# (the struct's -31:31 is refused as YAML: end day must be negative if start day is)
- name: june-clamped
  time_intervals: [{months: ['6'], days_of_month: ['-31:-1', '25:31']}]
- name: sydney-business-hours
  time_intervals:
    - times: [{start_time: '09:00', end_time: '17:00'}]
      weekdays: ['monday:friday']
      location: Australia/Sydney
- name: sydney-november
  time_intervals:
    - times: [{start_time: '09:00', end_time: '17:00'}]
      weekdays: ['monday:friday']
      months: ['11']
      location: Australia/Sydney
# timeinterval_test.go: completeTestCases
- name: complete
  time_intervals:
    - weekdays: ['monday:wednesday', 'saturday', 'sunday']
      times: [{start_time: '13:00', end_time: '15:00'}]
      days_of_month: ['1', '10', '20:-1']
      years: ['2020:2023']
      months: ['january:march']
- name: broken-clamping
  time_intervals: [{days_of_month: ['30:31'], years: ['2020:2023'], months: ['february']}]
# config_test.go
- name: config-business-hours
  time_intervals:
    - times:
       - start_time: '09:00'
         end_time: '17:00'
"""

OURS = """
- name: berlin-dst-hour
  time_intervals:
    - times: [{start_time: '02:00', end_time: '03:00'}]
      location: Europe/Berlin
- name: new-york-nights-sunday-first
  time_intervals:
    - times: [{start_time: '01:00', end_time: '02:30'}]
      weekdays: ['sunday:tuesday', saturday]
      location: America/New_York
- name: whole-week-from-sunday
  time_intervals:
    - weekdays: ['sunday:saturday']
      times: [{start_time: '23:30', end_time: '24:00'}]
- name: numbers-no-date-has
  time_intervals: [{months: ['0:2', '11:13'], years: ['-5:2024']}]
- name: an-empty-list-holds-nothing
  time_intervals: [{times: []}, {weekdays: [friday]}]
- name: never
  time_intervals: [{months: ['13']}]
- name: no-specs
  time_intervals:
- name: unquoted-base-60
  time_intervals:
    - days_of_month: [1:5, 10, -2]
      times: [{start_time: 17:00, end_time: 24:00}]
- name: two-zones
  time_intervals:
    - times: [{start_time: '00:00', end_time: '06:00'}]
    - times: [{start_time: '22:00', end_time: '24:00'}]
      location: Asia/Kolkata
- name: lord-howe-half-hour-dst
  time_intervals:
    - times: [{start_time: '01:30', end_time: '02:30'}]
      days_of_month: ['1:3', '10:20']
      location: Australia/Lord_Howe
- name: leap-day
  time_intervals: [{days_of_month: ['29'], months: ['february:march'], location: Asia/Tokyo}]
"""

ZONES = ("Europe/Berlin", "America/New_York", "Australia/Sydney", "Australia/Lord_Howe",
         "Pacific/Auckland")


@functools.cache
def instants() -> list[datetime]:
    """Every 6 h 11 min over 2019-2036, every 23 min over 2024-2025, and each minute of the
    three hours either side of every DST change of ZONES in 2020-2026."""
    found: set[datetime] = set()
    moment = datetime(2019, 1, 1, tzinfo=UTC)
    while moment.year < 2037:
        found.add(moment)
        moment += timedelta(minutes=371)
    moment = datetime(2024, 1, 1, tzinfo=UTC)
    while moment.year < 2026:
        found.add(moment)
        moment += timedelta(minutes=23)
    for zone in map(ZoneInfo, ZONES):
        hour = datetime(2020, 1, 1, tzinfo=UTC)
        while hour.year < 2027:
            later = hour + timedelta(hours=1)
            if hour.astimezone(zone).utcoffset() != later.astimezone(zone).utcoffset():
                found.update(hour + timedelta(minutes=minute) for minute in range(-180, 240))
            hour = later
    return sorted(found)


@pytest.fixture(scope="module")
def evaluator(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Alertmanager's timeinterval package behind a tiny main, compiled once."""
    root = tmp_path_factory.mktemp("gopath")
    (root / "src/evaluator").mkdir(parents=True)
    (root / "src/evaluator/main.go").write_text(EVALUATOR, encoding="utf-8")
    environment = {**os.environ, "GO111MODULE": "off", "GOFLAGS": "",
                   "GOPATH": f"{root}:{GOCODE}"}
    if "HOME" not in environment:
        environment["GOCACHE"] = str(root / "cache")
    binary = root / "evaluator"
    assert GO is not None
    subprocess.run([GO, "build", "-o", str(binary), "."], cwd=root / "src/evaluator",
                   env=environment, check=True, capture_output=True, timeout=300)
    return binary


def convert(text: str, tmp_path: Path, section: str = "time_intervals"
            ) -> tuple[list[dict[str, Any]], Report]:
    path = tmp_path / "alertmanager.yml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    loaded = load(path)
    report = Report(path.name)
    return convert_time_intervals(loaded.data.get(section) or [],
                                  loaded.source.at(section), report), report


def router_intervals(tmp_path: Path, converted: list[dict[str, Any]]) -> dict[str, TimeInterval]:
    """The converted section as router loads it: any problem fails the test."""
    path = tmp_path / "router" / "time_intervals.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump({"time_intervals": converted}), encoding="utf-8")
    config = load_config([path])
    assert config.warnings == ()
    return dict(config.time_intervals)


@needs_go
@pytest.mark.parametrize("definitions", [ALERTMANAGERS_OWN, OURS],
                         ids=["alertmanagers-own", "ours"])
def test_router_holds_the_same_instants_as_alertmanager(
        evaluator: Path, tmp_path: Path, definitions: str) -> None:
    source = tmp_path / "intervals.yml"
    source.write_text(definitions, encoding="utf-8")
    converted, report = convert("time_intervals:\n" + textwrap.indent(definitions, "  "),
                                tmp_path)
    assert report.of_kind("unsupported") == [] and report.of_kind("changed") == []
    intervals = router_intervals(tmp_path, converted)
    names = [entry["name"] for entry in yaml.safe_load(definitions)]
    assert sorted(intervals) == sorted(names)
    moments = instants()
    done = subprocess.run([str(evaluator), str(source)], capture_output=True, text=True,
                          input="".join(f"{int(moment.timestamp())}\n" for moment in moments),
                          check=True, timeout=300)
    expected = done.stdout.split()
    assert len(expected) == len(moments) > 90_000
    differences = [
        f"{name} at {moment.isoformat()}: Alertmanager {bit == '1'}"
        for moment, bits in zip(moments, expected, strict=True)
        for name, bit in zip(names, bits, strict=True)
        if contains(intervals[name], moment) is not (bit == "1")]
    assert differences == [], "\n".join(differences)
    held = {name for bits in expected for name, bit in zip(names, bits, strict=True)
            if bit == "1"}
    # the cases are not vacuous: each holds some instant, but those meant to hold none
    assert held == set(names) - {"never", "no-specs", "broken-clamping"}


def test_what_router_reads_otherwise_is_written_to_mean_the_same(tmp_path: Path) -> None:
    converted, report = convert("""
        time_intervals:
          - name: nights
            time_intervals:
              - weekdays: ['sunday:tuesday', 'Saturday']
                months: ['0:2', 'november:13']
                years: ['-5:2024']
                days_of_month: [1:5, '-7:-1']
                times: [{start_time: 17:00, end_time: '24:00'}]
              - times: []
              - location: Europe/Berlin
          - name: never
            time_intervals:
    """, tmp_path)
    assert converted == [
        {"name": "nights", "time_intervals": [
            {"times": [{"start_time": "17:00", "end_time": "24:00"}],
             "weekdays": ["monday:tuesday", "saturday:sunday"],
             "days_of_month": ["1:5", "-7:-1"],
             "months": ["january:february", "november:december"],
             "years": ["1:2024"], "location": "UTC"},
            {"location": "Europe/Berlin"}]},
        {"name": "never", "time_intervals": []},
    ]
    assert [f"{finding.kind} {finding.describe(report.file)}" for finding in report.findings] == [
        "converted alertmanager.yml:2: time_intervals[0]: time interval 'nights' with 2 specs",
        "converted alertmanager.yml:11: time_intervals[1]: time interval 'never' with 0 specs",
    ]
    router_intervals(tmp_path, converted)


def test_the_deprecated_section_and_a_local_location_are_reported(tmp_path: Path) -> None:
    converted, report = convert("""
        mute_time_intervals:
          - name: host-nights
            time_intervals:
              - times: [{start_time: '00:00', end_time: '06:00'}]
                location: Local
    """, tmp_path, "mute_time_intervals")
    assert converted == [{"name": "host-nights", "time_intervals": [
        {"times": [{"start_time": "00:00", "end_time": "06:00"}]}]}]
    assert [f"{finding.kind} {finding.describe(report.file)}" for finding in report.findings] == [
        "changed alertmanager.yml:2: mute_time_intervals[0]: time interval 'host-nights' with "
        "1 spec (Alertmanager's deprecated mute_time_intervals: router has one "
        "time_intervals section for both); time_intervals[0]: location Local is the "
        "Alertmanager host's timezone, which the import cannot know: left out, so router "
        "reads settings.timezone",
    ]


def test_intervals_alertmanager_refuses_are_reported_at_their_line(tmp_path: Path) -> None:
    converted, report = convert("""
        time_intervals:
          - name: backwards
            time_intervals: [{weekdays: ['saturday:sunday']}]
          - name: bad-time
            time_intervals: [{times: [{start_time: '9:00', end_time: '17:00'}]}]
          - name: empty-range
            time_intervals: [{times: [{start_time: '17:31', end_time: '17:31'}]}]
          - name: bad-day
            time_intervals: [{days_of_month: ['10:-25']}]
          - name: bad-zone
            time_intervals: [{location: Europe/Berln}]
          - time_intervals: [{}]
          - name: extra
            time_intervals: [{weeks: [1]}]
    """, tmp_path)
    assert converted == []
    assert [f"{finding.kind} {finding.describe(report.file)}" for finding in report.findings] == [
        "unsupported alertmanager.yml:2: time_intervals[0]: time interval left out: "
        "time_intervals[0].weekdays: start day cannot be before end day (6:0 in "
        "Alertmanager's week, which starts on sunday)",
        "unsupported alertmanager.yml:4: time_intervals[1]: time interval left out: "
        "time_intervals[0].times: couldn't parse timestamp 9:00, invalid format",
        "unsupported alertmanager.yml:6: time_intervals[2]: time interval left out: "
        "time_intervals[0].times: start time cannot be equal or greater than end time "
        "(17:31-17:31)",
        "unsupported alertmanager.yml:8: time_intervals[3]: time interval left out: "
        "time_intervals[0].days_of_month: end day -25 is always before start day 10",
        "unsupported alertmanager.yml:10: time_intervals[4]: time interval left out: "
        "time_intervals[0].location: unknown time zone Europe/Berln",
        "unsupported alertmanager.yml:12: time_intervals[5]: time interval left out: "
        "missing name (Alertmanager refuses it too)",
        "unsupported alertmanager.yml:13: time_intervals[6]: time interval left out: "
        "time_intervals[0].weeks: unknown key (Alertmanager refuses it too); expected one "
        "of times, weekdays, days_of_month, months, years, location",
    ]


MONTH_END_WITH_DST = """
- name: last-day-in-berlin
  time_intervals: [{days_of_month: ['-1'], location: Europe/Berlin}]
- name: last-ten-days-at-lord-howe
  time_intervals:
    - times: [{start_time: '01:30', end_time: '02:30'}]
      days_of_month: ['-10:-1']
      location: Australia/Lord_Howe
"""


def forward_month(moment: datetime, zone: ZoneInfo) -> bool:
    """Whether the clocks go forward during the local month of `moment`."""
    local = moment.astimezone(zone)
    return _forward(local.year, local.month, zone)


@functools.cache
def _forward(year: int, month: int, zone: ZoneInfo) -> bool:
    """Checked each half hour from the month's first midnight."""
    step = datetime(year, month, 1, tzinfo=zone).astimezone(UTC)
    offset = step.astimezone(zone).utcoffset()
    while step.astimezone(zone).month == month:
        step += timedelta(minutes=30)
        later = step.astimezone(zone).utcoffset()
        if offset is not None and later is not None and later > offset:
            return True
        offset = later
    return False


@needs_go
def test_alertmanagers_short_month_under_dst_is_the_only_difference_and_is_reported(
        evaluator: Path, tmp_path: Path) -> None:
    """Alertmanager 0.25 counts a month in which the clocks go forward as a day shorter
    (alertmanager#5447); router counts calendar days. The report says so, and every
    difference at the instants of the proof lies in such a month."""
    source = tmp_path / "intervals.yml"
    source.write_text(MONTH_END_WITH_DST, encoding="utf-8")
    converted, report = convert("time_intervals:\n" + textwrap.indent(MONTH_END_WITH_DST, "  "),
                                tmp_path)
    assert [(finding.kind, finding.path) for finding in report.findings] == [
        ("changed", "time_intervals[0]"), ("changed", "time_intervals[1]")]
    assert report.findings[0].message == (
        "time interval 'last-day-in-berlin' with 1 spec; time_intervals[0]: days_of_month "
        "['-1'] in Europe/Berlin: in a month in which the clocks go forward, Alertmanager "
        "0.25 counts one day fewer (its daysInMonth rounds down; fixed upstream in "
        "alertmanager#5447), so its last days of that month are a day early; router counts "
        "the calendar's days")
    intervals = router_intervals(tmp_path, converted)
    zones = {"last-day-in-berlin": ZoneInfo("Europe/Berlin"),
             "last-ten-days-at-lord-howe": ZoneInfo("Australia/Lord_Howe")}
    moments = instants()
    done = subprocess.run([str(evaluator), str(source)], capture_output=True, text=True,
                          input="".join(f"{int(moment.timestamp())}\n" for moment in moments),
                          check=True, timeout=300)
    differences = [(name, moment)
                   for moment, bits in zip(moments, done.stdout.split(), strict=True)
                   for name, bit in zip(zones, bits, strict=True)
                   if contains(intervals[name], moment) is not (bit == "1")]
    assert {name for name, _ in differences} == set(zones)
    assert [(name, moment.isoformat()) for name, moment in differences
            if not forward_month(moment, zones[name])] == []
    # the day router holds and Alertmanager does not is the calendar's last day
    berlin = [moment.astimezone(zones["last-day-in-berlin"]) for name, moment in differences
              if name == "last-day-in-berlin" and contains(intervals[name], moment)]
    assert berlin and {(moment.month, moment.day) for moment in berlin} == {(3, 31)}
