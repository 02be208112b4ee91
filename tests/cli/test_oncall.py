"""`router oncall`, `router schedule`, `router fatigue` and the validate coverage warning,
run through the CLI's `main` against small YAML configs."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import icalendar
import pytest

from tests.cli.conftest import run

ROTA = """
settings: {timezone: Europe/Berlin, fatigue: {hours_per_week: 90}}
people:
  - {id: ann, name: Ann Arbor, timezone: Europe/Berlin}
  - {id: ben, timezone: America/New_York}
  - {id: cy}
rotas:
  - id: web
    timezone: Europe/Berlin
    layers:
      - {name: daily, members: [ann, ben], every: 1d, handoff: "09:00", start: 2026-03-27}
    overrides:
      - {person: cy, replaces: ben, from: 2026-03-30T09:00, until: 2026-03-31T09:00}
    holidays: {dates: [2026-04-03], policy: cover, cover: cy}
escalation_policies:
  - id: web
    levels: [{targets: [{rota: web}], delay: 5m}]
services:
  - {id: shop, escalation_policy: web}
"""


@pytest.fixture(autouse=True)
def no_state_directory_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """These answer from the config alone: no ./state (as `make run` leaves) may chime in."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "rota.yaml").write_text(textwrap.dedent(ROTA))
    return tmp_path


def test_oncall_names_the_person_until_when_and_who_is_next(config: Path) -> None:
    code, out, err = run("oncall", "web", "--at", "2026-03-28T12:00", "--config", str(config))
    assert (code, err) == (0, "")
    assert out == ("web: ben [daily] until 2026-03-29 09:00 CEST; "
                   "next: Ann Arbor (ann) [daily] from 2026-03-29 09:00 CEST\n")


def test_oncall_for_a_service_answers_for_its_policy_rota_as_json(config: Path) -> None:
    code, out, _ = run("oncall", "shop", "--at", "2026-03-30T12:00+02:00", "--config",
                       str(config), "--format", "json")
    assert code == 0
    answer = json.loads(out)["rotas"][0]
    assert answer["rota"] == "web"
    assert answer["on_call"] == {"person": "cy", "start": "2026-03-30T07:00:00+00:00",
                                 "end": "2026-03-31T07:00:00+00:00", "layer": "override"}


def test_schedule_applies_dst_overrides_and_holiday_cover(config: Path) -> None:
    code, out, _ = run("schedule", "web", "--from", "2026-03-28T09:00", "--until",
                       "2026-04-04T09:00", "--config", str(config))
    assert code == 0
    assert out.splitlines() == [
        "2026-03-28 09:00 CET  2026-03-29 09:00 CEST  ben [daily]",  # 23 hours: DST
        "2026-03-29 09:00 CEST  2026-03-30 09:00 CEST  Ann Arbor (ann) [daily]",
        "2026-03-30 09:00 CEST  2026-03-31 09:00 CEST  cy [override]",
        "2026-03-31 09:00 CEST  2026-04-01 09:00 CEST  Ann Arbor (ann) [daily]",
        "2026-04-01 09:00 CEST  2026-04-02 09:00 CEST  ben [daily]",
        "2026-04-02 09:00 CEST  2026-04-03 09:00 CEST  Ann Arbor (ann) [daily]",
        "2026-04-03 09:00 CEST  2026-04-04 09:00 CEST  cy [holiday cover]",
    ]


def test_schedule_ics_is_a_calendar_with_stable_uids(config: Path) -> None:
    code, first, _ = run("schedule", "web", "--ics", "--config", str(config))
    assert code == 0
    calendar = icalendar.Calendar.from_ical(first)
    events = calendar.walk("VEVENT")
    assert len(events) > 50  # eight weeks ahead of daily shifts
    _, second, _ = run("schedule", "web", "--ics", "--config", str(config))
    uids = [str(event["UID"]) for event in events]
    assert uids == [str(event["UID"]) for event in
                    icalendar.Calendar.from_ical(second).walk("VEVENT")]


def test_fatigue_counts_hours_and_flags_limits(config: Path) -> None:
    code, out, _ = run("fatigue", "--from", "2026-04-06T09:00", "--until", "2w", "--config",
                       str(config), "--format", "json")
    assert code == 0
    people = {item["person"]: item for item in json.loads(out)["people"]}
    assert people["ann"]["hours"] == 168.0 and people["ben"]["hours"] == 168.0
    assert people["cy"]["hours"] == 0.0
    assert people["ann"]["over_limits"] == []  # 168 h in two weeks: under 2 x 90 h
    code, out, _ = run("fatigue", "--from", "2026-04-06T09:00", "--until", "1w", "--config",
                       str(config))
    assert code == 0
    assert out.splitlines()[1:] == [  # no store: pages unknown
        "ann                 96.0    36.0     24.0      -           -  hours_per_week",  # > 90 h
        "ben                 72.0    27.0     24.0      -           -  -",
        "cy                   0.0     0.0      0.0      -           -  -",
    ]


@pytest.mark.parametrize(("start", "end", "hours", "offsets"), [
    ("2026-03-29", "2026-03-30", 23.0, ("+01:00", "+02:00")),  # clocks go forward
    ("2026-10-25", "2026-10-26", 25.0, ("+02:00", "+01:00")),  # and back
    ("2026-10-25T01:00", "2026-10-25T04:00", 4.0, ("+02:00", "+01:00")),
])
def test_fatigue_reads_bare_dates_and_times_in_the_settings_timezone(
        config: Path, start: str, end: str, hours: float, offsets: tuple[str, str]) -> None:
    """As GET /v1/fatigue does (tests/server/test_api.py): a day is the local day."""
    code, out, err = run("fatigue", "--from", start, "--until", end, "--config", str(config),
                         "--format", "json")
    assert (code, err) == (0, "")
    answer = json.loads(out)
    assert (answer["from"], answer["until"]) == (f"{start}{'T00:00' if 'T' not in start else ''}"
                                                 f":00{offsets[0]}",
                                                 f"{end}{'T00:00' if 'T' not in end else ''}"
                                                 f":00{offsets[1]}")
    assert sum(person["hours"] for person in answer["people"]) == hours


@pytest.mark.parametrize(("argv", "code", "message"), [
    (["oncall", "nope"], 1, "router oncall: no rota or service with id 'nope'\n"),
    (["schedule", "web", "--from", "soon"], 2,
     "router schedule: expected a date and time such as 2026-12-24T09:00 or "
     "2026-12-24T09:00:00+01:00, got 'soon'\n"),
    (["schedule", "web", "--from", "2026-04-02", "--until", "2026-04-01"], 2,
     "router schedule: --until (2026-04-01T00:00:00+02:00) must be after --from "
     "(2026-04-02T00:00:00+02:00)\n"),
    (["oncall", "web", "--at", "2026-03-29T02:30"], 2,
     "router oncall: 2026-03-29T02:30:00 does not exist in Europe/Berlin: the clocks skip "
     "it when they go from UTC+01:00 to UTC+02:00\n"),
    (["oncall", "web", "--at", "2026-10-25T02:30"], 2,
     "router oncall: 2026-10-25T02:30:00 happens twice in Europe/Berlin: "
     "2026-10-25T02:30:00+02:00 or 2026-10-25T02:30:00+01:00; give the offset\n"),
])
def test_bad_arguments_get_a_clear_message(config: Path, argv: list[str], code: int,
                                           message: str) -> None:
    assert run(*argv, "--config", str(config)) == (code, "", message)


def test_validate_warns_about_every_gap_in_cover(tmp_path: Path) -> None:
    (tmp_path / "rota.yaml").write_text(textwrap.dedent("""
        people: [{id: ann}]
        rotas:
          - id: office
            layers:
              - members: [ann]
                every: 1w
                start: 2026-01-05
                restrictions: [{from: "09:00", until: "17:00"}]
        """))
    code, out, err = run("validate", "--at", "2026-03-02T12:00:00Z", "--horizon", "1w",
                         str(tmp_path))
    assert code == 0
    assert out.startswith("config valid:")
    lines = err.splitlines()
    assert lines[0] == (f"{tmp_path / 'rota.yaml'}:4:5: warning: rotas.office: nobody is on "
                        "call from 2026-03-02T17:00+00:00 until 2026-03-03T09:00+00:00 (UTC)")
    assert len(lines) == 7
