"""router/migrate/alertmanager/inhibit.py: Alertmanager's inhibit rules become router's, each
with a finding at its line; the output loads in router and inhibits as Alertmanager does."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from router.alerts.model import Alert, Severity
from router.config import load_config
from router.config.model import InhibitRule
from router.core.inhibition import InhibitionIndex, SourceKey
from router.migrate.alertmanager.inhibit import convert_inhibit_rules
from router.migrate.alertmanager.matchers import MatcherError, parse_line
from router.migrate.alertmanager.report import Report, load

TESTDATA = Path("/usr/share/gocode/src/github.com/prometheus/alertmanager/config/testdata")
needs_testdata = pytest.mark.skipif(
    not TESTDATA.is_dir(), reason="Debian's golang-github-prometheus-alertmanager-dev is not "
                                  "installed")


def convert(tmp_path: Path, text: str) -> tuple[list[dict[str, Any]], Report]:
    path = tmp_path / "alertmanager.yml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return convert_file(path)


def convert_file(path: Path) -> tuple[list[dict[str, Any]], Report]:
    loaded = load(path)
    report = Report(path.name)
    rules = convert_inhibit_rules(loaded.data.get("inhibit_rules") or [],
                                  loaded.source.at("inhibit_rules"), report)
    return rules, report


def loaded_rules(tmp_path: Path, rules: list[dict[str, Any]]) -> tuple[InhibitRule, ...]:
    """The converted rules as router loads them: any problem fails the test."""
    path = tmp_path / "router" / "inhibit.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump({"inhibit_rules": rules}, allow_unicode=True),
                    encoding="utf-8")
    config = load_config([path])
    assert config.warnings == ()
    return config.inhibit_rules


def lines(report: Report) -> list[str]:
    return [f"{finding.kind} {finding.describe(report.file)}" for finding in report.findings]


@needs_testdata
def test_alertmanagers_own_example_rule_converts_reading_the_labels(tmp_path: Path) -> None:
    """`severity` and `service` in Alertmanager are labels; router's matchers and `equal`
    name the labels themselves as `labels.severity`, `labels.service`."""
    rules, report = convert_file(TESTDATA / "conf.good.yml")
    assert rules == [{"source_matchers": ['labels.severity="critical"'],
                      "target_matchers": ['labels.severity="warning"'],
                      "equal": ["alertname", "cluster", "labels.service"]}]
    [finding] = report.findings
    assert (finding.kind, finding.line, finding.path) == ("converted", 79, "inhibit_rules[0]")
    assert finding.message == (
        'source {labels.severity="critical"} inhibits target {labels.severity="warning"} '
        "with equal alertname, cluster, labels.service")
    loaded_rules(tmp_path, rules)


@needs_testdata
@pytest.mark.parametrize(("name", "expected"), [
    ("conf.nil-source_match_re-inhibition.yml",
     "unsupported conf.nil-source_match_re-inhibition.yml:6: inhibit_rules[0]: inhibit rule "
     "left out: source_match_re.invalid_source_label: expected a regular expression, got "
     "nothing (Alertmanager refuses it too)"),
    ("conf.nil-target_match_re-inhibition.yml",
     "unsupported conf.nil-target_match_re-inhibition.yml:6: inhibit_rules[0]: inhibit rule "
     "left out: target_match_re.invalid_target_label: expected a regular expression, got "
     "nothing (Alertmanager refuses it too)"),
])
def test_rules_alertmanager_refuses_are_reported_at_their_line(name: str,
                                                                expected: str) -> None:
    rules, report = convert_file(TESTDATA / name)
    assert rules == []
    assert lines(report) == [expected]


def test_every_kind_of_condition_becomes_router_matchers(tmp_path: Path) -> None:
    rules, report = convert(tmp_path, r"""
        inhibit_rules:
          - source_match: {alertname: NodeDown}
            source_match_re: {cluster: 'eu-.*'}
            source_matchers: ['{dc="fra1", rack!~"r[0-9]+"}', 'note = "a, \"b\" \\ c"']
            target_matchers: [team=db, 'alertname=~"Disk.*|Load"']
            equal: [cluster, instance]
          - target_match: {alertname: Noisy}
    """)
    assert rules == [
        {"source_matchers": ['alertname="NodeDown"', 'cluster=~"eu-.*"', 'dc="fra1"',
                             'rack!~"r[0-9]+"', 'note="a, \\"b\\" \\\\ c"'],
         "target_matchers": ['team="db"', 'alertname=~"Disk.*|Load"'],
         "equal": ["cluster", "instance"]},
        {"source_matchers": [], "target_matchers": ['alertname="Noisy"']},
    ]
    assert lines(report) == [
        'converted alertmanager.yml:2: inhibit_rules[0]: source {alertname="NodeDown", '
        'cluster=~"eu-.*", dc="fra1", rack!~"r[0-9]+", note="a, \\"b\\" \\\\ c"} inhibits '
        'target {team="db", alertname=~"Disk.*|Load"} with equal cluster, instance',
        "converted alertmanager.yml:7: inhibit_rules[1]: source {} (every alert) inhibits "
        'target {alertname="Noisy"}',
    ]
    loaded = loaded_rules(tmp_path, rules)
    assert [matcher.value for matcher in loaded[0].source_matchers][-1] == 'a, "b" \\ c'


@pytest.mark.parametrize(("line", "expected"), [
    ('foo="bar"', [("foo", "=", "bar")]),
    ("{foo = bar, dings != bums, }", [("foo", "=", "bar"), ("dings", "!=", "bums")]),
    ('statuscode=~"5.."', [("statuscode", "=~", "5..")]),
    ('quote="She said: \\"Hi, ladies!\\""', [("quote", "=", 'She said: "Hi, ladies!"')]),
    ('path="a\\tb\\nc"', [("path", "=", "a\\tb\nc")]),
    ("empty=", [("empty", "=", "")]),
])
def test_matcher_lines_are_read_as_alertmanager_reads_them(
        line: str, expected: list[tuple[str, str, str]]) -> None:
    assert parse_line(line) == expected


@pytest.mark.parametrize(("line", "message"), [
    ("foo", "bad matcher format: foo"),
    ('foo="bar', 'matcher value contains unescaped double quote: foo="bar'),
    ('foo=b"ar', 'matcher value contains unescaped double quote: foo=b"ar'),
    ("a=b,,c=d", "bad matcher format: "),
])
def test_matcher_lines_alertmanager_refuses_are_refused(line: str, message: str) -> None:
    with pytest.raises(MatcherError) as refused:
        parse_line(line)
    assert str(refused.value) == message


def test_parts_router_cannot_hold_are_reported_unsupported(tmp_path: Path) -> None:
    rules, report = convert(tmp_path, """
        inhibit_rules:
          - source_matchers: ['alertname=~"(?P<x>a"']
            target_matchers: [a=b]
          - source_match: {alertname: A}
            target_match: {alertname: B}
            equal: ['bad-name']
          - source_match: {alertname: A}
            target_matchers: [a=b]
            sources: [x]
          - just text
    """)
    assert rules == []
    assert lines(report) == [
        "unsupported alertmanager.yml:2: inhibit_rules[0]: inhibit rule left out: "
        "source_matchers: regular expression '(?P<x>a' does not compile in Python: "
        "missing ), unterminated subpattern at position 0",
        "unsupported alertmanager.yml:4: inhibit_rules[1]: inhibit rule left out: equal: "
        "invalid label name 'bad-name'",
        "unsupported alertmanager.yml:7: inhibit_rules[2]: inhibit rule left out: unknown "
        "key 'sources' (Alertmanager refuses it too); expected one of source_match, "
        "source_match_re, source_matchers, target_match, target_match_re, target_matchers, "
        "equal",
        "unsupported alertmanager.yml:10: inhibit_rules[3]: inhibit rule left out: expected "
        "a mapping of source_match, source_match_re, source_matchers, target_match, "
        "target_match_re, target_matchers, equal, got str 'just text'",
    ]


def test_a_regular_expression_means_in_an_inhibit_rule_what_it_means_in_a_route(
        tmp_path: Path) -> None:
    """One reading of Alertmanager's matchers (matchers.py) for routes and inhibit rules:
    Go's `\\d` is ASCII (`(?a)`), and Go-only syntax is refused, not read otherwise."""
    rules, report = convert(tmp_path, r"""
        inhibit_rules:
          - source_matchers: ['instance=~"db\d+"']
            target_matchers: [severity=warning]
          - source_matchers: ['name=~"[[:alpha:]]+"']
            target_matchers: [a=b]
    """)
    assert rules == [{"source_matchers": ['instance=~"(?a)db\\\\d+"'],
                      "target_matchers": ['labels.severity="warning"']}]
    assert lines(report)[1] == (
        "unsupported alertmanager.yml:4: inhibit_rules[1]: inhibit rule left out: "
        "source_matchers: regular expression '[[:alpha:]]+' uses Go syntax (POSIX or "
        "Unicode classes, \\Q..\\E, \\z, \\C or the U flag) that router's Python regular "
        "expressions do not read the same way")
    [loaded] = loaded_rules(tmp_path, rules)
    assert loaded.source_matchers[0].pattern is not None
    assert loaded.source_matchers[0].pattern.fullmatch("db\u0661") is None  # Arabic one


def make(**labels: str) -> Alert:
    return Alert(summary="x", source="alertmanager", severity=Severity.WARNING, labels=labels)


@pytest.mark.parametrize(("target", "inhibited"), [
    (make(alertname="DiskFull", cluster="eu-1", instance="db1", team="db"), True),
    # an equal label differs, or is missing on one side only
    (make(alertname="DiskFull", cluster="eu-1", instance="db2", team="db"), False),
    (make(alertname="DiskFull", cluster="eu-1", team="db"), False),
    # not a target: the regular expression must match the whole value, as Alertmanager's
    (make(alertname="NoDiskFull", cluster="eu-1", instance="db1", team="db"), False),
    (make(alertname="Load", cluster="eu-1", instance="db1", team="db"), True),
])
def test_converted_rules_inhibit_as_alertmanager_does(tmp_path: Path, target: Alert,
                                                      inhibited: bool) -> None:
    rules, _ = convert(tmp_path, """
        inhibit_rules:
          - source_match: {alertname: NodeDown}
            source_match_re: {cluster: 'eu-.*'}
            target_matchers: [team=db, 'alertname=~"Disk.*|Load"']
            equal: [cluster, instance]
    """)
    index = InhibitionIndex.of(loaded_rules(tmp_path, rules), [(SourceKey(1, "a"), make(
        alertname="NodeDown", cluster="eu-1", instance="db1"))])
    assert (index.check(target) is not None) is inhibited


@pytest.mark.parametrize(("target", "inhibited"), [
    (make(alertname="DiskFull", severity="warn", service="db", source="db1"), True),
    # router reads `warn` as its severity warning, but the rule names the label's text
    (make(alertname="DiskFull", severity="warning", service="db", source="db1"), False),
    # `equal` compares the labels: another service or source label, or none
    (make(alertname="DiskFull", severity="warn", service="web", source="db1"), False),
    (make(alertname="DiskFull", severity="warn", source="db1"), False),
    (make(alertname="DiskFull", severity="warn", service="db", source="db2"), False),
])
def test_reserved_names_in_converted_rules_read_the_labels(tmp_path: Path, target: Alert,
                                                           inhibited: bool) -> None:
    rules, report = convert(tmp_path, """
        inhibit_rules:
          - source_match: {severity: page}
            target_matchers: ['severity="warn"']
            equal: [service, source]
    """)
    assert [finding.kind for finding in report.findings] == ["converted"]
    # router's own severity of the source is critical, its source `alertmanager`
    index = InhibitionIndex.of(loaded_rules(tmp_path, rules), [(SourceKey(1, "a"), make(
        alertname="NodeDown", severity="page", service="db", source="db1"))])
    assert (index.check(target) is not None) is inhibited
