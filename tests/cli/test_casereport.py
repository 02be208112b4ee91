"""`router test`: test files' cases run against a config with no daemon and no store,
reported as pytest does, with a diff and the file's line for each failure, exit 1 on any
failure, and JUnit XML for CI."""

from __future__ import annotations

import json
import re
import textwrap
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from router.cli.casefile import read_cases
from router.config.model import AlertLimits
from tests.cli.conftest import run, write_config

CHECKOUT = Path(__file__).resolve().parents[2]

CONFIG = """
settings: {timezone: Europe/Berlin}
channels:
  - {id: log, type: log}
  - {id: mail, type: email, host: localhost, from: router@example.com}
people:
  - id: ann
    timezone: Europe/Berlin
    contact_methods: [{type: email, address: ann@example.com}]
  - id: ben
    timezone: Europe/Berlin
    contact_methods: [{type: email, address: ben@example.com}]
rotas:
  - id: ops
    timezone: Europe/Berlin
    layers:
      - {members: [ann, ben], every: 1d, handoff: "09:00", start: 2026-03-01}
escalation_policies:
  - id: ops
    levels:
      - {targets: [{rota: ops}], delay: 15m}
      - {targets: [{person: ben}], delay: 30m}
services:
  - {id: web, escalation_policy: ops, channels: [log], urgency: high}
  - {id: payments, routing_keys: [abcdefghijabcdefghijabcdefghij12]}
time_intervals:
  - name: weekends
    time_intervals: [{weekdays: ['saturday:sunday']}]
routes:
  - name: payments
    match: [service=payments]
    service: payments
  - name: batch
    match: [team=batch]
    service: web
    mute_time_intervals: [weekends]
  - name: web
    service: web
suppressions:
  - id: maintenance
    reason: monday maintenance
    match: [team=web]
    weekly: [{days: [mon], from: "10:00", until: "11:00"}]
inhibit_rules:
  - name: node-down
    source_matchers: ['alertname="NodeDown"']
    target_matchers: ['severity="warning"']
    equal: [instance]
"""

CASES = """
cases:
  - name: web pages the rota then ben
    at: 2026-03-04T10:00:00+01:00
    alert:
      severity: critical
      labels: {team: web}
    expect:
      service: web
      routes: [web]
      channels: [log]
      suppressed: false
      escalation_policy: ops
      levels:
        - {level: 1, after: 0m, paged: [ben via mail]}
        - {level: 2, after: 15m, paged: [ben via mail]}
  - name: batch is muted at weekends
    at: "2026-03-07T12:00:00"
    timezone: Europe/Berlin
    alert: {labels: {team: batch}}
    expect: {suppressed_by: "time_interval:weekends", levels: []}
  - name: the maintenance window holds web
    at: 2026-03-02T10:30:00+01:00
    alert: {labels: {team: web}}
    expect: {suppressed_by: "suppression:maintenance"}
  - name: a node down inhibits its warnings
    at: 2026-03-04T10:00:00+01:00
    firing: [{severity: critical, labels: {alertname: NodeDown, instance: db1}}]
    alert: {severity: warning, labels: {alertname: DiskFull, instance: db1}}
    expect: {suppressed_by: "inhibition:node-down"}
  - name: an Alertmanager webhook payload
    at: 2026-03-04T10:00:00Z
    format: alertmanager
    payload:
      version: "4"
      status: firing
      receiver: router
      alerts:
        - {status: firing, labels: {alertname: X, team: batch}, annotations: {}}
    expect: {routes: [batch]}
  - name: a PagerDuty event's routing key picks its service, as on ingest
    at: 2026-03-04T10:00:00Z
    format: pagerduty
    payload:
      routing_key: abcdefghijabcdefghijabcdefghij12
      event_action: trigger
      payload: {summary: Card declines, source: pay1, severity: critical}
    expect: {service: payments, routes: [payments]}
  - name: ann is on call on the 5th after nine
    at: 2026-03-05T09:30:00+01:00
    rota: ops
    expect: {on_call: ann}
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path, CONFIG)


def cases_file(directory: Path, text: str, name: str = "cases.yaml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_passing_cases_print_a_line_each_and_a_summary(config: Path, tmp_path: Path) -> None:
    path = cases_file(tmp_path, CASES)
    code, out, err = run("test", "--config", str(config), str(path))
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == f"{path}:3:5: web pages the rota then ben PASSED"
    assert [line.rsplit(" ", 1)[1] for line in lines[:7]] == ["PASSED"] * 7
    assert lines[7] == " 7 passed ".center(72, "=")


def test_a_failure_shows_its_line_and_a_diff_and_exits_1(config: Path, tmp_path: Path) -> None:
    path = cases_file(tmp_path, """
        cases:
          - name: right
            at: 2026-03-05T09:30:00+01:00
            rota: ops
            expect: {on_call: ann}
          - name: wrong
            at: 2026-03-04T10:00:00+01:00
            alert: {severity: critical, labels: {team: web}}
            expect:
              channels: [log, mail]
              levels:
                - {level: 1, after: 0m, paged: [ann via mail]}
        """)
    code, out, _ = run("test", "--config", str(config), str(path))
    assert code == 1
    assert out.splitlines() == [
        f"{path}:3:5: right PASSED",
        f"{path}:7:5: wrong FAILED",
        " FAILURES ".center(72, "="),
        " wrong ".center(72, "_"),
        f"{path}:7:5:",
        "      channels:",
        "        - \"log\"",
        "    -   - \"mail\"",
        "      levels:",
        "    -   - {\"level\": 1, \"after\": \"0m\", \"paged\": [\"ann via mail\"]}",
        "    +   - {\"level\": 1, \"after\": \"0m\", \"paged\": [\"ben via mail\"]}",
        " 1 failed, 1 passed ".center(72, "="),
    ]


def test_junit_xml_names_each_case_and_its_failure(config: Path, tmp_path: Path) -> None:
    path = cases_file(tmp_path, """
        cases:
          - name: wrong person
            at: 2026-03-05T09:30:00+01:00
            rota: ops
            expect: {on_call: ben}
        """)
    report = tmp_path / "junit.xml"
    code, _, _ = run("test", "--config", str(config), "--junit-xml", str(report), str(path))
    assert code == 1
    suite = ElementTree.parse(report).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures")) == ("1", "1")
    case = suite.find("testcase")
    assert case is not None
    assert (case.get("name"), case.get("file"), case.get("line")) == (
        "wrong person", str(path), "3")
    failure = case.find("failure")
    assert failure is not None
    assert failure.text == f'{path}:3:5:\n- on_call: "ben"\n+ on_call: "ann"'


def test_an_unknown_rota_fails_the_case_saying_which_exist(config: Path,
                                                           tmp_path: Path) -> None:
    path = cases_file(tmp_path, """
        cases:
          - {name: typo, at: "2026-03-05T09:30:00+01:00", rota: opps, expect: {on_call: ann}}
        """)
    code, out, _ = run("test", "--config", str(config), str(path))
    assert code == 1
    assert "    no rota 'opps' in the config (known: ops)" in out.splitlines()


@pytest.mark.parametrize(("case", "expected"), [
    ("at: '2026-03-05T09:30:00'\n    rota: ops",
     "4:9: cases[0].at: expected an offset (2026-03-02T03:00:00+01:00) or a `timezone`"),
    ("at: tuesday\n    rota: ops",
     "4:9: cases[0].at: expected an ISO 8601 instant, got 'tuesday'"),
    ("at: '2026-03-05T09:30:00'\n    timezone: Europe/Berln\n    rota: ops",
     "5:15: cases[0].timezone: 'Europe/Berln' is not a known timezone"),
    ("at: '2026-03-05T09:30:00Z'\n    rota: ops\n    expect: {on_cal: ann}",
     "6:14: cases[0].expect.on_cal: unknown key 'on_cal'; expected one of: channels, "
     "escalation_policy, levels, on_call, routes, service, suppressed, suppressed_by"),
    ("at: '2026-03-05T09:30:00Z'\n    format: nagios\n    payload: {}",
     "5:13: cases[0].format: expected one of alertmanager, alertmanager_v2, datadog, "
     "grafana, native, new_relic, opsgenie, pagerduty, pagerduty_webhook, zabbix, got "
     "'nagios'"),
    ("at: '2026-03-05T09:30:00Z'\n    rota: ops\n    alert: {}",
     "3:5: cases[0]: give exactly one of `alert`, `payload` (with its `format`) or `rota`"),
    ("at: '2026-03-05T09:30:00Z'\n    alert: {severity: loud}",
     "5:23: cases[0].alert.severity: 'loud' is not one of ['critical', 'error', "
     "'warning', 'info']"),
    # a stray copy of the silence schema sat among a level's keys (254094c)
    ("at: '2026-03-05T09:30:00Z'\n    alert: {}\n"
     "    expect: {levels: [{level: 1, silence: {matchers: [a=b]}}]}",
     "6:34: cases[0].expect.levels[0].silence: unknown key 'silence'; expected one of: "
     "after, level, paged"),
])
def test_a_bad_test_file_is_named_by_file_line_and_column(
        config: Path, tmp_path: Path, case: str, expected: str) -> None:
    path = cases_file(tmp_path, f"\ncases:\n  - name: n\n    {case}\n")
    code, out, err = run("test", "--config", str(config), str(path))
    assert (code, out) == (1, "")
    assert err.splitlines() == ["router test: invalid test files:", f"{path}:{expected}"]


def test_the_example_cases_pass_on_the_example_config(monkeypatch: pytest.MonkeyPatch
                                                      ) -> None:
    """With no arguments: config/.tests/*.yaml against config/."""
    monkeypatch.chdir(CHECKOUT)
    code, out, err = run("test")
    assert (code, err) == (0, "")
    assert out.splitlines()[-1] == " 4 passed ".center(72, "=")


def test_no_test_files_is_an_error(config: Path) -> None:
    code, out, err = run("test", "--config", str(config))
    assert (code, out) == (1, "")
    assert err == f"router test: {config}/.tests: no such file or directory\n"
    (config / ".tests").mkdir()
    code, out, err = run("test", "--config", str(config))
    assert (code, out) == (1, "")
    assert err == f"router test: no test files (.yaml) in {config}/.tests\n"


def test_the_example_in_the_docs_fits_the_schema(tmp_path: Path) -> None:
    """docs/testing.md's test file is read without a problem, every case with its place."""
    text = (CHECKOUT / "docs" / "testing.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(.*?)```", text, re.DOTALL)
    assert block is not None
    path = cases_file(tmp_path, block[1])
    cases = read_cases([path], AlertLimits())
    assert [(case.name, case.where.line) for case in cases] == [
        ("a critical database alert pages the database rota, then platform primary", 2),
        ("Alertmanager's webhook, as Alertmanager would send it", 18),
        ("a node down inhibits its warnings", 28),
        ("dave covers Carol over Christmas Eve", 34)]


def test_json_gives_each_case_expected_and_actual(config: Path, tmp_path: Path) -> None:
    path = cases_file(tmp_path, """
        cases:
          - {name: wrong, at: "2026-03-05T09:30:00+01:00", rota: ops, expect: {on_call: ben}}
        """)
    code, out, _ = run("test", "--config", str(config), "--format", "json", str(path))
    assert code == 1
    assert json.loads(out) == {"passed": 0, "failed": 1, "cases": [
        {"name": "wrong", "file": str(path), "line": 3, "passed": False,
         "expected": {"on_call": "ben"}, "actual": {"on_call": "ann"}, "error": None}]}


def test_junit_xml_stays_xml_when_a_name_holds_a_control_character(
        config: Path, tmp_path: Path) -> None:
    """YAML's "\\x01" is a character XML 1.0 cannot hold: written as it was, the report
    was a file no CI system could parse. It is shown as U+FFFD instead."""
    path = cases_file(tmp_path, r"""
        cases:
          - name: "wrong\x01person"
            at: 2026-03-05T09:30:00+01:00
            rota: ops
            expect: {on_call: ben}
        """)
    report = tmp_path / "junit.xml"
    code, _, _ = run("test", "--config", str(config), "--junit-xml", str(report), str(path))
    assert code == 1
    case = ElementTree.parse(report).getroot().find("testsuite/testcase")
    assert case is not None and case.get("name") == "wrong\ufffdperson"


def test_junit_failure_message_names_the_keys_that_differ(config: Path, tmp_path: Path) -> None:
    # CI systems show `message` as the failure's headline; it was the diff's first line,
    # here "  channels:" (a line the two sides share)
    path = cases_file(tmp_path, """
        cases:
          - name: wrong
            at: 2026-03-04T10:00:00+01:00
            alert: {severity: critical, labels: {team: web}}
            expect:
              service: web
              channels: [log, mail]
              levels:
                - {level: 1, after: 0m, paged: [ann via mail]}
          - name: no such rota
            at: 2026-03-04T10:00:00+01:00
            rota: nope
            expect: {on_call: ann}
        """)
    report = tmp_path / "junit.xml"
    run("test", "--config", str(config), "--junit-xml", str(report), str(path))
    failures = [case.find("failure") for case in ElementTree.parse(report).iter("testcase")]
    assert [failure.get("message") for failure in failures if failure is not None] == [
        "not as expected: channels, levels",
        "no rota 'nope' in the config (known: ops)"]


def test_who_is_paged_at_a_level_is_compared_in_any_order(tmp_path: Path) -> None:
    # ann and ben are paged at the same instant; the order router lists them in (targets,
    # then contact methods) is no promise, and a case that named them the other way failed
    config = write_config(tmp_path, CONFIG.replace(
        "- {targets: [{rota: ops}], delay: 15m}", "- {targets: [{rota: ops}, {person: ben}], "
        "delay: 15m}"))
    path = cases_file(tmp_path, """
        cases:
          - name: both
            at: 2026-03-05T09:30:00+01:00
            alert: {severity: critical, labels: {team: web}}
            expect:
              levels: [{level: 1, after: 0m, paged: [ben via mail, ann via mail]}]
          - name: one wrong
            at: 2026-03-05T09:30:00+01:00
            alert: {severity: critical, labels: {team: web}}
            expect:
              levels: [{level: 1, after: 0m, paged: [ben via mail, cat via mail]}]
        """)
    code, out, _ = run("test", "--config", str(config), str(path))
    assert code == 1
    assert f"{path}:3:5: both PASSED" in out.splitlines()
    assert out.splitlines()[-4:-1] == [
        "      levels:",
        '    -   - {"level": 1, "after": "0m", "paged": ["ben via mail", "cat via mail"]}',
        '    +   - {"level": 1, "after": "0m", "paged": ["ben via mail", "ann via mail"]}']


def test_a_case_s_alert_may_name_its_source(config: Path, tmp_path: Path) -> None:
    """docs/testing.md: `source` routes as the daemon's own sources do (a heartbeat keeps
    the service its config declares; a sender's is the routes' to change)."""
    path = cases_file(tmp_path, """
        cases:
          - name: a heartbeat's alert keeps its service
            at: 2026-03-04T10:00:00Z
            alert: {source: heartbeat, service: backups, labels: {alertname: HeartbeatMissed}}
            expect: {service: backups, routes: [web]}
          - name: a sender's service goes where the routes say
            at: 2026-03-04T10:00:00Z
            alert: {service: backups, labels: {alertname: HeartbeatMissed}}
            expect: {service: web, routes: [web]}
        """)
    code, out, err = run("test", "--config", str(config), str(path))
    assert (code, err) == (0, ""), out


def test_someone_paged_twice_at_a_level_is_compared_in_any_order(tmp_path: Path) -> None:
    # ann on call and named too is paged twice at once; a case listing her pages apart
    # (as router test itself printed them) failed: duplicates were sorted together
    config = write_config(tmp_path, CONFIG.replace(
        "- {targets: [{rota: ops}], delay: 15m}", "- {targets: [{rota: ops}, {person: ben}, "
        "{person: ann}], delay: 15m}"))
    path = cases_file(tmp_path, """
        cases:
          - name: ann twice
            at: 2026-03-05T09:30:00+01:00
            alert: {severity: critical, labels: {team: web}}
            expect:
              levels: [{level: 1, after: 0m, paged: [ann via mail, ben via mail, ann via mail]}]
        """)
    code, out, _ = run("test", "--config", str(config), str(path))
    assert (code, out.splitlines()[0]) == (0, f"{path}:3:5: ann twice PASSED")


def test_every_problem_of_every_case_is_reported_at_once(config: Path, tmp_path: Path) -> None:
    # they came in rounds: shape first, then at/timezone/format, then payloads one at a time
    path = cases_file(tmp_path, """
        cases:
          - name: shape and instant
            at: tuesday
            rota: ops
            expect: {on_cal: ann}
          - name: timezone and payload
            at: "2026-03-05T09:30:00"
            timezone: Europe/Berln
            format: alertmanager
            payload: {status: firing, alerts: []}
          - name: another payload
            at: soon
            format: pagerduty
            payload: {event_action: trigger}
          - name: firing
            at: "2026-03-05T09:30:00Z"
            alert: {labels: {team: web}}
            firing: [{labels: {a: b}}, {severity: loud}]
        """)
    code, out, err = run("test", "--config", str(config), str(path))
    assert (code, out) == (1, "")
    lines = err.splitlines()
    assert lines[0] == "router test: invalid test files:"
    assert lines[1:] == [f"{path}:{line}" for line in (
        "4:9: cases[0].at: expected an ISO 8601 instant, got 'tuesday'",
        "6:14: cases[0].expect.on_cal: unknown key 'on_cal'; expected one of: channels, "
        "escalation_policy, levels, on_call, routes, service, suppressed, suppressed_by",
        "9:15: cases[1].timezone: 'Europe/Berln' is not a known timezone",
        "11:14: cases[1].payload: expected a payload of exactly one alert, it holds 0",
        "13:9: cases[2].at: expected an ISO 8601 instant, got 'soon'",
        "15:14: cases[2].payload: routing_key: is required",
        "19:43: cases[3].firing[1].severity: 'loud' is not one of ['critical', 'error', "
        "'warning', 'info']")]


def test_a_case_that_is_not_a_mapping_is_a_problem_not_a_traceback(
        config: Path, tmp_path: Path) -> None:
    # "patterns" holds "at": read as a case's keys, it was a TypeError
    path = cases_file(tmp_path, """
        cases:
          - patterns
          - {name: x, at: soon, rota: ops}
        """)
    code, out, err = run("test", "--config", str(config), str(path))
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        "router test: invalid test files:",
        f"{path}:3:5: cases[0]: 'patterns' is not of type 'object'",
        f"{path}:4:19: cases[1].at: expected an ISO 8601 instant, got 'soon'"]


@pytest.mark.parametrize("text", ["cases: []\n", "# nothing yet\n"])
def test_no_case_at_all_exits_5_as_pytest_does(config: Path, tmp_path: Path,
                                                text: str) -> None:
    empty = cases_file(tmp_path, text, "empty.yaml")
    code, out, err = run("test", "--config", str(config), str(empty))
    assert (code, err) == (5, "")
    assert out.splitlines()[-1] == " no cases ".center(72, "=")
    code, _, _ = run("test", "--config", str(config), str(empty), "--format", "json")
    assert code == 5
    # another file has cases: the run is judged by them
    some = cases_file(tmp_path, CASES)
    assert run("test", "--config", str(config), str(empty), str(some))[0] == 0


@pytest.mark.parametrize(("at", "expected"), [
    ("2026-03-29T02:30:00", "4:9: cases[0].at: 2026-03-29T02:30:00 does not exist in "
     "Europe/Berlin: the clocks skip it when they go from UTC+01:00 to UTC+02:00"),
    ("2026-10-25T02:30:00", "4:9: cases[0].at: 2026-10-25T02:30:00 happens twice in "
     "Europe/Berlin: 2026-10-25T02:30:00+02:00 or 2026-10-25T02:30:00+01:00; give the "
     "offset, or `fold: 0` for the first and `fold: 1` for the second"),
])
def test_an_at_the_dst_change_skips_or_repeats_is_an_error(
        config: Path, tmp_path: Path, at: str, expected: str) -> None:
    path = cases_file(tmp_path, f"\ncases:\n  - name: n\n    at: '{at}'\n"
                                "    timezone: Europe/Berlin\n    rota: ops\n"
                                "    expect: {on_call: ann}\n")
    code, out, err = run("test", "--config", str(config), str(path))
    assert (code, out) == (1, "")
    assert err.splitlines() == ["router test: invalid test files:", f"{path}:{expected}"]
    # an offset says which of the two readings is meant
    path.write_text(path.read_text().replace(f"'{at}'", f"'{at}+01:00'"))
    assert run("test", "--config", str(config), str(path))[2] == ""


def test_fold_picks_one_reading_of_an_ambiguous_at(config: Path, tmp_path: Path) -> None:
    # both readings fall in ben's shift (from 09:00 on the 24th), each an instant of its own
    path = cases_file(tmp_path, """
        cases:
          - {name: first, at: "2026-10-25T02:30:00", timezone: Europe/Berlin, fold: 0,
             rota: ops, expect: {on_call: ben}}
          - {name: second, at: "2026-10-25T02:30:00", timezone: Europe/Berlin, fold: 1,
             rota: ops, expect: {on_call: ben}}
        """)
    code, out, err = run("test", "--config", str(config), str(path), "--format", "json")
    assert (code, err, json.loads(out)["passed"]) == (0, "", 2)
    cases = read_cases([path], AlertLimits())
    assert [case.at.isoformat() for case in cases] == [
        "2026-10-25T02:30:00+02:00", "2026-10-25T02:30:00+01:00"]
    # fold does not make a time the clocks skip exist
    path.write_text(path.read_text().replace("2026-10-25T02:30", "2026-03-29T02:30"))
    code, _, err = run("test", "--config", str(config), str(path))
    assert code == 1
    assert "does not exist in Europe/Berlin" in err
