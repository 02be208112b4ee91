"""`router test` with silences (issue 20 item 1): a case, or its file, gives the silences the
store would hold, inline or as the JSON `amtool silence query -o json` writes, and a case
expects `suppressed: {by: silence, id: ...}`; matched by `core.suppression` as the daemon
matches its own."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.cli.conftest import run, write_config
from tests.cli.test_casereport import CHECKOUT, CONFIG, cases_file

AMTOOL_JSON = [  # `amtool silence query -o json` against Alertmanager 0.27, as it wrote it
    {"id": "bae4f0ba-5f7d-4e60-8f9d-4937f4dd5ab2", "status": {"state": "active"},
     "updatedAt": "2026-03-04T09:17:48.262Z", "comment": "disk swap", "createdBy": "ann",
     "endsAt": "2026-03-04T11:17:48.258Z",
     "matchers": [{"isEqual": True, "isRegex": False, "name": "alertname", "value": "DiskFull"},
                  {"isEqual": True, "isRegex": True, "name": "instance", "value": "db.*"},
                  {"isEqual": False, "isRegex": False, "name": "severity", "value": "info"}],
     "startsAt": "2026-03-04T09:17:48.262Z"}]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path, CONFIG)


def outcome(config: Path, path: Path) -> tuple[int, list[str]]:
    """The exit code and each case's PASSED/FAILED, or the lines of a failure report."""
    code, out, err = run("test", "--config", str(config), str(path))
    assert err == ""
    lines = out.splitlines()
    if code == 0:
        return code, [line.rsplit(" ", 1)[1] for line in lines[:-1]]
    return code, lines


def test_an_inline_silence_holds_the_alerts_it_matches_while_in_force(
        config: Path, tmp_path: Path) -> None:
    path = cases_file(tmp_path, """
        cases:
          - name: silenced for two hours from the case's instant
            at: 2026-03-04T10:00:00+01:00
            silences:
              - {id: db-work, matchers: ['alertname="DiskFull"', 'instance=~"db.*"'],
                 duration: 2h, comment: swapping a disk}
            alert: {severity: critical, labels: {alertname: DiskFull, instance: db1}}
            expect:
              suppressed: {by: silence, id: db-work}
              suppressed_by: "silence:db-work"
              levels: []
          - name: another instance is not held
            at: 2026-03-04T10:00:00+01:00
            silences: [{id: db-work, matchers: ['instance=~"db.*"'], duration: 2h}]
            alert: {severity: critical, labels: {alertname: DiskFull, instance: web1}}
            expect: {suppressed: false, levels: [{level: 1, after: 0m, paged: [ben via mail]}]}
          - name: a silence that has ended holds nothing
            at: "2026-03-04T12:00:00"
            timezone: Europe/Berlin
            silences:
              - {id: db-work, matchers: [instance=db1], starts: "2026-03-04T09:00:00",
                 ends: "2026-03-04T11:00:00"}
            alert: {labels: {instance: db1}}
            expect: {suppressed: false, suppressed_by: null}
        """)
    assert outcome(config, path) == (0, ["PASSED"] * 3)


def test_inline_matchers_are_read_as_amtool_reads_them(config: Path, tmp_path: Path) -> None:
    """Alertmanager's syntax: a line may hold several matchers in braces, and `severity` is
    router's severity, as in a silence `amtool silence add severity=critical` makes."""
    path = cases_file(tmp_path, """
        cases:
          - name: every matcher of the line holds
            at: 2026-03-04T10:00:00Z
            silences: [{id: s, matchers: ['{team="web", severity=~"crit.*"}'], duration: 1h}]
            alert: {severity: critical, labels: {team: web}}
            expect: {suppressed: {by: silence, id: s}}
          - name: one that does not match lets the alert through
            at: 2026-03-04T10:00:00Z
            silences: [{id: s, matchers: ['{team="web", severity=~"crit.*"}'], duration: 1h}]
            alert: {severity: warning, labels: {team: web}}
            expect: {suppressed: false}
        """)
    assert outcome(config, path) == (0, ["PASSED"] * 2)


def test_a_file_s_silences_hold_in_every_case_before_the_case_s_own(
        config: Path, tmp_path: Path) -> None:
    path = cases_file(tmp_path, """
        silences:
          - matchers: [team=web]
            starts: 2026-03-04T00:00:00Z
            ends: 2026-03-05T00:00:00Z
        cases:
          - name: the file's silence, named by its place
            at: 2026-03-04T10:00:00+01:00
            alert: {labels: {team: web}}
            expect: {suppressed: {by: silence, id: "silences[0]"}}
          - name: the case's own, as well; the one that lasts longer is reported
            at: 2026-03-04T10:00:00+01:00
            silences: [{matchers: ['team=~"w.*"'], duration: 1w}]
            alert: {labels: {team: web}}
            expect: {suppressed: {by: silence, id: "cases[1].silences[0]"}}
          - name: a day later, nothing holds it
            at: 2026-03-05T10:00:00+01:00
            alert: {labels: {team: web}}
            expect: {suppressed: false}
        """)
    assert outcome(config, path) == (0, ["PASSED"] * 3)


def test_a_silence_is_reported_against_a_wrong_expectation(config: Path,
                                                           tmp_path: Path) -> None:
    path = cases_file(tmp_path, """
        cases:
          - name: wrong
            at: 2026-03-04T10:00:00+01:00
            silences: [{id: s1, matchers: [team=web], duration: 1h}]
            alert: {labels: {team: web}}
            expect: {suppressed: {by: inhibition, id: node-down}}
        """)
    code, lines = outcome(config, path)
    assert code == 1
    assert lines[3:6] == [f"{path}:3:5:",
                          '    - suppressed: {"by": "inhibition", "id": "node-down"}',
                          '    + suppressed: {"by": "silence", "id": "s1"}']


def test_a_silences_file_as_amtool_writes_it(config: Path, tmp_path: Path) -> None:
    (tmp_path / "silences").mkdir()
    (tmp_path / "silences" / "now.json").write_text(json.dumps(AMTOOL_JSON))
    path = cases_file(tmp_path, """
        cases:
          - name: amtool's silence holds the disk alert
            at: 2026-03-04T10:00:00Z
            silences_file: silences/now.json
            alert: {severity: critical, labels: {alertname: DiskFull, instance: db1}}
            expect:
              suppressed: {by: silence, id: bae4f0ba-5f7d-4e60-8f9d-4937f4dd5ab2}
          - name: its severity!="info" matcher lets an info alert through
            at: 2026-03-04T10:00:00Z
            silences_file: silences/now.json
            alert: {severity: info, labels: {alertname: DiskFull, instance: db1}}
            expect: {suppressed: false}
          - name: after its endsAt it holds nothing
            at: 2026-03-04T11:17:48.258Z
            silences_file: silences/now.json
            alert: {severity: critical, labels: {alertname: DiskFull, instance: db1}}
            expect: {suppressed: false}
        """)
    assert outcome(config, path) == (0, ["PASSED"] * 3)


BAD = [
    ("silences: [{matchers: ['team=~\"(\"'], duration: 1h}]",
     "7:28: cases[0].silences[0].matchers[0]: bad regex '(': missing ), unterminated "
     "subpattern at position 0"),
    ("silences: [{matchers: [team], duration: 1h}]",
     "7:28: cases[0].silences[0].matchers[0]: bad matcher format: team"),
    ("silences: [{matchers: [team=web]}]",
     "7:16: cases[0].silences[0]: give the silence's `ends` or its `duration`"),
    ("silences: [{matchers: [team=web], ends: '2026-03-04T11:00:00Z', duration: 1h}]",
     "7:16: cases[0].silences[0]: give the silence's `ends` or its `duration`, not both"),
    ("silences: [{matchers: [team=web], duration: soon}]",
     "7:49: cases[0].silences[0].duration: expected a duration like 30s, 15m, 1h30m or 2w, "
     "got 'soon'"),
    ("silences: [{matchers: [team=web], starts: '2026-03-04T12:00:00Z', "
     "ends: '2026-03-04T11:00:00Z'}]",
     "7:77: cases[0].silences[0].ends: must be after `starts`"),
    ("silences: [{matchers: []}]",
     "7:27: cases[0].silences[0].matchers: [] should be non-empty"),
    ("silences_file: missing.json",
     "7:20: cases[0].silences_file: cannot read {directory}/missing.json: No such file or "
     "directory"),
    ("silences_file: bad.json",
     "7:20: cases[0].silences_file: {directory}/bad.json: [0].matchers[0].isRegex: "
     "expected isRegex (and isEqual) true or false"),
]


@pytest.mark.parametrize(("line", "expected"), BAD)
def test_a_bad_silence_is_named_by_file_line_and_column(
        config: Path, tmp_path: Path, line: str, expected: str) -> None:
    bad = [{**AMTOOL_JSON[0], "matchers": [{"name": "team", "value": "web"}]}]
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    path = cases_file(tmp_path, f"""
        cases:
          - name: n
            at: 2026-03-04T10:00:00Z
            alert: {{labels: {{team: web}}}}
            expect: {{suppressed: true}}
            {line}
        """)
    code, out, err = run("test", "--config", str(config), str(path))
    assert (code, out) == (1, "")
    assert err.splitlines() == ["router test: invalid test files:",
                                f"{path}:{expected.format(directory=tmp_path)}"]


def test_a_file_s_silence_needs_an_offset(config: Path, tmp_path: Path) -> None:
    """No case's `timezone` reaches the file's own silences."""
    path = cases_file(tmp_path, """
        silences: [{matchers: [team=web], starts: "2026-03-04T09:00:00", duration: 1h}]
        cases:
          - {name: n, at: "2026-03-04T10:00:00Z", alert: {}, expect: {suppressed: false}}
        """)
    code, out, err = run("test", "--config", str(config), str(path))
    assert (code, out) == (1, "")
    assert err.splitlines()[1] == (f"{path}:2:43: silences[0].starts: expected an offset "
                                   "(2026-03-02T03:00:00+01:00)")


def test_the_docs_example_passes(config: Path, tmp_path: Path) -> None:
    """docs/testing.md's silences example, with an empty silences file beside it."""
    text = (CHECKOUT / "docs" / "testing.md").read_text(encoding="utf-8")
    block = re.search(r"## Silences\n.*?```yaml\n(.*?)```", text, re.DOTALL)
    assert block is not None
    (tmp_path / "silences.json").write_text("[]")
    path = cases_file(tmp_path, block[1])
    assert outcome(config, path) == (0, ["PASSED"] * 2)


def test_every_problem_of_the_silences_is_reported_with_the_case_s_own(
        config: Path, tmp_path: Path) -> None:
    """The merge of mends (silences) and polish20 (every problem in one round): a silence's
    problems, and each silence's, come with the case's own and the file's, in line order;
    a file's silence that does not fit the schema does not hide its cases' problems."""
    path = cases_file(tmp_path, """
        silences: [{matchers: [team=web], duration: 1h, color: red}]
        cases:
          - name: n
            at: soon
            alert: {severity: loud}
            silences_file: missing.json
            silences:
              - {matchers: [team, 'a=~"("'], starts: later, duration: soon}
              - {matchers: [team=web], starts: '2026-03-04T12:00:00Z', ends: then}
        """)
    code, out, err = run("test", "--config", str(config), str(path))
    assert (code, out) == (1, "")
    assert err.splitlines()[1:] == [f"{path}:{line}" for line in (
        "2:49: silences[0].color: unknown key 'color'; expected one of: comment, duration, "
        "ends, id, matchers, starts",
        "5:9: cases[0].at: expected an ISO 8601 instant, got 'soon'",
        "6:23: cases[0].alert.severity: 'loud' is not one of ['critical', 'error', "
        "'warning', 'info']",
        f"7:20: cases[0].silences_file: cannot read {tmp_path}/missing.json: No such file or "
        "directory",
        "9:21: cases[0].silences[0].matchers[0]: bad matcher format: team",
        "9:27: cases[0].silences[0].matchers[1]: bad regex '(': missing ), unterminated "
        "subpattern at position 0",
        "9:46: cases[0].silences[0].starts: expected an ISO 8601 instant, got 'later'",
        "9:63: cases[0].silences[0].duration: expected a duration like 30s, 15m, 1h30m or 2w, "
        "got 'soon'",
        "10:70: cases[0].silences[1].ends: expected an ISO 8601 instant, got 'then'")]


@pytest.mark.parametrize(("time", "expected"), [
    ("2026-03-29T02:30:00", "2026-03-29T02:30:00 does not exist in Europe/Berlin: the clocks "
     "skip it when they go from UTC+01:00 to UTC+02:00"),
    ("2026-10-25T02:30:00", "2026-10-25T02:30:00 happens twice in Europe/Berlin: "
     "2026-10-25T02:30:00+02:00 or 2026-10-25T02:30:00+01:00; give the offset"),
])
def test_a_silence_s_time_in_the_case_s_zone_is_as_strict_as_at(
        config: Path, tmp_path: Path, time: str, expected: str) -> None:
    """A silence's wall-clock time is read in the case's `timezone` (mends), refusing a time
    a DST change skips or repeats as `at` does (polish20); the case's `fold` is `at`'s only,
    so the message asks for the offset."""
    path = cases_file(tmp_path, f"""
        cases:
          - name: n
            at: "2026-10-25T02:30:00"
            timezone: Europe/Berlin
            fold: 1
            silences: [{{matchers: [team=web], starts: "{time}", duration: 2h}}]
            alert: {{labels: {{team: web}}}}
            expect: {{suppressed: {{by: silence, id: "cases[0].silences[0]"}}}}
        """)
    code, out, err = run("test", "--config", str(config), str(path))
    assert (code, out) == (1, "")
    assert err.splitlines()[1:] == [f"{path}:7:47: cases[0].silences[0].starts: {expected}"]
    # with its offset the time is read (outcome: nothing on stderr); October's second 02:30
    # is the case's `at` with `fold: 1`, so that silence holds the alert from then
    path.write_text(path.read_text().replace(f'"{time}"', f'"{time}+01:00"'))
    assert outcome(config, path)[0] == (0 if time.startswith("2026-10") else 1)


@pytest.mark.parametrize("time", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00"])
def test_an_instant_past_the_calendar_s_ends_is_a_line_error(
        config: Path, tmp_path: Path, time: str) -> None:
    """Year 1 with an offset overflowed turning it into the case's zone (a traceback); near
    year 9999 the time math that follows (escalation waits) overflows the same way."""
    path = cases_file(tmp_path, f"""
        cases:
          - name: n
            at: "{time}"
            timezone: Pacific/Kiritimati
            alert: {{labels: {{team: web}}}}
            expect: {{suppressed: false}}
        """)
    code, out, err = run("test", "--config", str(config), str(path))
    assert (code, out) == (1, "")
    assert err.splitlines()[1:] == [
        f"{path}:4:9: cases[0].at: expected an instant between the years 1000 and 9000, "
        f"got {time!r}"]
