"""review/report.py: a Review as text, Markdown and the documented JSON, in exact words."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from router.core.coverage import Gap
from router.errors import Where
from router.review.model import (
    CaseChange,
    Changed,
    Moved,
    Review,
    RotaShifts,
    Section,
    ShiftMove,
)
from router.review.plain import FieldChange, duration
from router.review.report import as_json, dumps, markdown, text

BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2026, 3, 2, 8, tzinfo=UTC)


def sample() -> Review:
    def at(day: int, hour: int = 9) -> datetime:
        return datetime(2026, 3, day, hour, tzinfo=BERLIN).astimezone(UTC)
    return Review(
        start=START, end=START + timedelta(weeks=4),
        routes=Section(added=("api",), removed=("rest",),
                       changed=(Changed(name="web", changes=(
                           FieldChange("channels", [], ["chat"]),)),),
                       reordered=(Moved(name="web", before=1, after=0),)),
        cases=(CaseChange(name="db alert", where=Where(".tests/a.yaml", 3, 5),
                          changes=(FieldChange("routes", ["db"], ["web"]),)),),
        rotas=(RotaShifts(rota="week", timezone=BERLIN, moves=(
            ShiftMove(person="bob", start=at(9), end=at(16), side="before"),
            ShiftMove(person="cat", start=at(9), end=at(16), side="after"))),),
        escalation_policies=Section(changed=(Changed(name="ops", changes=(
            FieldChange("levels[1].delay", "30m", "15m"),)),)),
        channels=Section(added=("pager",)), people=Section(removed=("dan",)),
        services=Section(),
        new_gaps=(Gap(policy="ops", level=1, rotas=("week",), start=at(7, 0), end=at(9, 0),
                      timezone=BERLIN),))


def test_text() -> None:
    assert text(sample()).splitlines() == [
        "router diff: OLD -> NEW",
        "shifts and coverage from 2026-03-02T08:00+00:00 until "
        "2026-03-30T08:00+00:00",
        "",
        "routes:",
        "  + api",
        "  - rest",
        '  ~ web: channels: [] -> ["chat"]',
        "  ~ web: moved from position 2 to 1",
        "",
        "test cases that route differently:",
        '  .tests/a.yaml:3:5: db alert: routes: ["db"] -> ["web"]',
        "",
        "rota week: shifts that move (Europe/Berlin):",
        "  - bob 2026-03-09T09:00+01:00 until 2026-03-16T09:00+01:00 (before)",
        "  + cat 2026-03-09T09:00+01:00 until 2026-03-16T09:00+01:00 (after)",
        "",
        "escalation policies:",
        '  ~ ops: levels[1].delay: "30m" -> "15m"',
        "",
        "channels:",
        "  + pager",
        "",
        "people:",
        "  - dan",
        "",
        "new coverage gaps:",
        "  policy ops level 1 (rota week) reaches nobody from 2026-03-07T00:00+01:00 until "
        "2026-03-09T00:00+01:00 (Europe/Berlin)",
    ]


def test_no_change_says_so() -> None:
    empty = Review(start=START, end=START, routes=Section(), cases=(), rotas=(),
                   escalation_policies=Section(), channels=Section(), people=Section(),
                   services=Section(), new_gaps=())
    assert text(empty).splitlines()[-1] == (
        "no change to routing, rotas, escalation, channels, people or services")
    assert as_json(empty)["changed"] is False


def test_markdown_for_a_pull_request_comment() -> None:
    lines = markdown(sample()).splitlines()
    assert lines[:4] == ["### router diff", "",
                         "Compares `OLD` (OLD) with `NEW` (NEW).",
                         "Shifts and coverage from 2026-03-02T08:00+00:00 until "
                         "2026-03-30T08:00+00:00."]
    assert "#### Routes" in lines
    assert '- `~ web: channels: [] -> ["chat"]`' in lines
    assert lines[-4:] == [
        "| person | start | end | |", "| --- | --- | --- | --- |",
        "| bob | 2026-03-09T09:00+01:00 | 2026-03-16T09:00+01:00 | before |",
        "| cat | 2026-03-09T09:00+01:00 | 2026-03-16T09:00+01:00 | after |"]


def test_json_is_the_documented_document() -> None:
    document = json.loads(dumps(sample()))
    assert list(document) == ["version", "start", "end", "old", "new", "changed", "routes",
                              "cases", "rotas",
                              "escalation_policies", "channels", "people", "services",
                              "other", "new_gaps"]
    assert document["version"] == 1
    assert document["routes"]["reordered"] == [{"name": "web", "before": 1, "after": 0}]
    assert document["cases"] == [{"name": "db alert", "file": ".tests/a.yaml", "line": 3,
                                  "changes": [{"field": "routes", "before": ["db"],
                                               "after": ["web"]}]}]
    assert document["rotas"][0]["shifts"][1] == {
        "person": "cat", "start": "2026-03-09T09:00+01:00", "end": "2026-03-16T09:00+01:00",
        "side": "after"}
    assert document["new_gaps"] == [{"policy": "ops", "level": 1, "rotas": ["week"],
                                     "start": "2026-03-07T00:00+01:00",
                                     "end": "2026-03-09T00:00+01:00",
                                     "timezone": "Europe/Berlin"}]
    assert document["people"] == {"added": [], "removed": ["dan"], "changed": []}


def test_durations_read_as_the_config_writes_them() -> None:
    assert [duration(timedelta(seconds=seconds)) for seconds in (0, 90, 5400, 86400 * 15)] == [
        "0s", "1m30s", "1h30m", "2w1d"]


def test_markdown_lists_at_most_50_shifts_per_rota() -> None:
    moment = datetime(2026, 3, 2, tzinfo=UTC)
    moves = tuple(ShiftMove(person="ann", start=moment + timedelta(hours=hour),
                            end=moment + timedelta(hours=hour + 1), side="after")
                  for hour in range(60))
    many = Review(start=START, end=START, routes=Section(), cases=(),
                  rotas=(RotaShifts(rota="week", timezone=BERLIN, moves=moves),),
                  escalation_policies=Section(), channels=Section(), people=Section(),
                  services=Section(), new_gaps=())
    lines = markdown(many).splitlines()
    assert sum(line.startswith("| ann |") for line in lines) == 50
    assert lines[-1] == "... and 10 more shifts (`router diff --format text` lists them all)."
    assert len(text(many).splitlines()) == 64  # two header lines, a blank, a title and 60 shifts


def test_markdown_lists_show_a_regex_pipe_as_written() -> None:
    # GitHub reads `\|` as a pipe only inside a table; in a list item's code span the
    # backslash shows, and `db\|storage` reads as a regex for a literal pipe
    change = FieldChange("matchers", ["team=~db|storage"], ["taem=~db|storage"])
    found = Review(start=START, end=START, routes=Section(changed=(
                       Changed(name="database alerts", changes=(change,)),)),
                   cases=(), rotas=(), escalation_policies=Section(), channels=Section(),
                   people=Section(), services=Section(), new_gaps=())
    assert '- `~ database alerts: matchers: ["team=~db|storage"] -> ["taem=~db|storage"]`' \
        in markdown(found).splitlines()


def test_other_config_by_section_and_id() -> None:
    found = Review(start=START, end=START, routes=Section(), cases=(), rotas=(),
                   escalation_policies=Section(), channels=Section(), people=Section(),
                   services=Section(), new_gaps=(), other=Section(
                       added=("time_intervals.nights",), changed=(Changed(
                           name="suppressions.upkeep", changes=(FieldChange(
                               "weekly", ["sun 02:00-04:00"], ["sat,sun 00:00-04:00"]),)),)))
    assert text(found).splitlines()[2:] == [
        "", "other config:", "  + time_intervals.nights",
        '  ~ suppressions.upkeep: weekly: ["sun 02:00-04:00"] -> ["sat,sun 00:00-04:00"]']
    assert "#### Other config" in markdown(found).splitlines()
    document = as_json(found)
    assert document["changed"] is True
    assert document["other"]["added"] == ["time_intervals.nights"]


def test_markdown_fits_a_github_comment() -> None:
    # a matcher typo on 200 routes: 600 case lines and 200 route lines made 73 kB, and
    # GitHub refuses a comment over 65,536 characters (the CI step failed, no comment)
    change = FieldChange("matchers", ["severity=~critical|error"], ["severity=~critcal|error"])
    cases = tuple(CaseChange(name=f"team{index} critical pages its service",
                             where=Where("config/.tests/cases.yaml", 3 + 4 * index, 5),
                             changes=(FieldChange("service", f"svc{index}", "svc0"),))
                  for index in range(60))
    rotas = tuple(RotaShifts(rota=f"rota{number}", timezone=BERLIN, moves=tuple(
        ShiftMove(person="ann", start=START + timedelta(hours=hour),
                  end=START + timedelta(hours=hour + 1), side="after") for hour in range(60)))
        for number in range(40))
    found = Review(start=START, end=START, routes=Section(changed=tuple(
                       Changed(name=f"route {index}", changes=(change,)) for index in range(200))),
                   cases=cases, rotas=rotas, escalation_policies=Section(), channels=Section(),
                   people=Section(), services=Section(), new_gaps=())
    shown = markdown(found)
    assert len(shown) <= 65_536
    lines = shown.splitlines()
    assert sum(line.startswith("- `~ route ") for line in lines) == 50
    assert "... and 150 more (`router diff --format text` lists them all)." in lines
    assert sum(line.startswith("- `config/.tests/cases.yaml:") for line in lines) == 50
    assert lines[-1] == ("... cut here to fit a pull-request comment "
                         "(`router diff --format text` lists everything).")
