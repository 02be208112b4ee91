"""core.routing: ordered rules, continue, the default route, the index, and route-test output.

Table-driven with inline YAML, in the manner of Alertmanager's dispatch/route_test.go; a
hypothesis test checks the indexed table against a plain top-to-bottom scan.
"""

from __future__ import annotations

import re
import textwrap
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.alerts.formats import FORMATS
from router.alerts.model import OWN_SOURCES, Alert, Severity
from router.config import load_config
from router.config.model import (
    SEVERITIES,
    SOURCES,
    Matcher,
    MatchOperator,
    Route,
    frozen_mapping,
)
from router.config.model import Severity as SeverityName
from router.config.values import parse_matcher
from router.core import checks, heartbeats
from router.core.routing import Decision, RouteTable, compile_routes, explain, route
from router.engine import jobs
from router.errors import Where

BASE = """
channels:
  - {id: log, type: log}
  - {id: page, type: log}
  - {id: chat, type: log}
escalation_policies:
  - id: primary
    name: Primary
    levels: [{targets: [{channel: page}], delay: 5m}]
  - id: secondary
    name: Secondary
    levels: [{targets: [{channel: chat}], delay: 5m}]
services:
  - {id: api, name: API}
  - {id: database, name: Database}
  - {id: web, name: Web}
"""

FIRST_MATCH = """
routes:
  - name: database
    match: ['team=~"db|storage"', "env!=staging"]
    service: database
    channels: [page]
    escalation_policy: primary
  - name: staging is never urgent
    match: [env=staging]
    service: api
    severity: {critical: warning, error: warning}
  - name: critical api
    match: [severity=critical]
    service: api
    channels: [page, chat]
    continue: true
  - name: web frontends
    match: ['instance!~"db-.*"', service=web]
    channels: [chat, log]
    escalation_policy: secondary
  - name: from pagerduty
    match: [source=pagerduty]
    service: database
  - name: no owner
    match: ['team=""']
    channels: [log]
    severity: info
"""

CONTINUE = """
routes:
  - name: record everything
    channels: [log]
    continue: true
  - name: downgrade staging
    match: [env=staging]
    severity: {critical: error, error: warning}
    continue: true
  - name: staging criticals to chat
    match: [env=staging, severity=critical]
    channels: [chat, log]
    escalation_policy: secondary
    continue: true
  - name: catch-all
    service: api
    channels: [page]
    escalation_policy: primary
  - name: never reached
    match: [env=staging]
    service: web
"""


def load_table(directory: Path, routes: str) -> RouteTable:
    (directory / "base.yaml").write_text(BASE)
    (directory / "routes.yaml").write_text(textwrap.dedent(routes))
    return RouteTable.compile(load_config([directory]).routes)


def make_alert(labels: Mapping[str, str] | None = None, *, severity: str = "warning",
               source: str = "native", service: str | None = None) -> Alert:
    return Alert(summary="disk full", source=source, severity=Severity(severity),
                 labels=frozen_mapping(labels), service=service)


@pytest.fixture(scope="module")
def first_match(tmp_path_factory: pytest.TempPathFactory) -> RouteTable:
    return load_table(tmp_path_factory.mktemp("first-match"), FIRST_MATCH)


@pytest.fixture(scope="module")
def continued(tmp_path_factory: pytest.TempPathFactory) -> RouteTable:
    return load_table(tmp_path_factory.mktemp("continue"), CONTINUE)


@pytest.mark.parametrize(
    ("alert", "names", "service", "channels", "policy", "severity"),
    [
        pytest.param(make_alert({"team": "db", "env": "prod"}), ["database"], "database",
                     ["page"], "primary", "warning", id="regex alternative"),
        pytest.param(make_alert({"team": "storage"}), ["database"], "database", ["page"],
                     "primary", "warning", id="!= matches a missing label"),
        pytest.param(make_alert({"team": "dbs", "env": "prod"}), [], None, [], None,
                     "warning", id="regex is anchored at the end"),
        pytest.param(make_alert({"team": "xdb", "env": "prod"}), [], None, [], None,
                     "warning", id="regex is anchored at the start"),
        pytest.param(make_alert({"team": "db", "env": "staging"}, severity="critical"),
                     ["staging is never urgent"], "api", [], None, "warning",
                     id="first match wins and maps severity"),
        pytest.param(make_alert({"team": "db", "env": "prod"}, severity="critical"),
                     ["database"], "database", ["page"], "primary", "critical",
                     id="an earlier route stops a later continue route"),
        pytest.param(make_alert({"team": "web"}, severity="critical", service="web"),
                     ["critical api", "web frontends"], "api", ["page", "chat", "log"],
                     "secondary", "critical", id="continue adds the next match"),
        pytest.param(make_alert({"team": "web", "instance": "db-1"}, service="web"), [],
                     "web", [], None, "warning", id="!~ excludes a matching value"),
        pytest.param(make_alert({"team": "web", "service": "web"}), ["web frontends"], None,
                     ["chat", "log"], "secondary", "warning",
                     id="service matcher reads a service label"),
        pytest.param(make_alert({"team": "web", "severity": "critical"}), [], None, [], None,
                     "warning", id="reserved severity shadows a severity label"),
        pytest.param(make_alert({"team": "web"}, source="pagerduty"), ["from pagerduty"],
                     "database", [], None, "warning", id="source matcher"),
        pytest.param(make_alert({"env": "prod"}), ["no owner"], None, ["log"], None, "info",
                     id="=\"\" matches a missing label and severity is set"),
        pytest.param(make_alert({"team": "", "env": "prod"}), ["no owner"], None, ["log"], None,
                     "info", id="=\"\" matches an empty label"),
    ],
)
def test_first_match_table(first_match: RouteTable, alert: Alert, names: list[str],
                           service: str | None, channels: list[str], policy: str | None,
                           severity: str) -> None:
    decision = route(alert, first_match)
    assert [rule.name for rule in decision.routes] == names
    assert decision.service == service
    assert decision.channels == tuple(channels)
    assert decision.escalation_policy == policy
    assert decision.severity == Severity(severity)
    assert explain(alert, first_match).decision == decision


@pytest.mark.parametrize(
    ("labels", "severity", "names", "channels", "policy", "result"),
    [
        ({"env": "staging"}, "critical",
         ["record everything", "downgrade staging", "staging criticals to chat", "catch-all"],
         ["log", "chat", "page"], "secondary", "error"),
        ({"env": "staging"}, "error",
         ["record everything", "downgrade staging", "catch-all"], ["log", "page"], "primary",
         "warning"),
        ({"env": "prod"}, "critical", ["record everything", "catch-all"], ["log", "page"],
         "primary", "critical"),
    ],
)
def test_continue_and_catch_all(continued: RouteTable, labels: dict[str, str], severity: str,
                                names: list[str], channels: list[str], policy: str,
                                result: str) -> None:
    decision = route(make_alert(labels, severity=severity), continued)
    assert [rule.name for rule in decision.routes] == names
    assert decision.service == "api"
    assert decision.channels == tuple(channels)
    assert decision.escalation_policy == policy
    assert decision.severity == Severity(result)


def test_no_match_is_the_default_route(first_match: RouteTable) -> None:
    alert = make_alert({"team": "web", "instance": "db-1"}, severity="error", service="web")
    assert route(alert, first_match) == Decision(
        routes=(), service="web", channels=(), escalation_policy=None,
        severity=Severity.ERROR)
    assert route(alert, first_match).default
    assert route(make_alert({"team": "web"}), first_match).service is None


def test_empty_table_is_the_default_route() -> None:
    decision = route(make_alert({"team": "db"}, service="api"), compile_routes([]))
    assert decision.default
    assert decision.service == "api"


def rule(name: str, *matchers: str, **values: object) -> Route:
    return Route(name=name, matchers=tuple(parse_matcher(text, Where("")) for text in matchers),
                 **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("routes", "expected"),
    [
        ([rule("set", severity="error", continue_matching=True),
          rule("map", severity_map=frozen_mapping({"error": "info"}))], "info"),
        ([rule("map", severity_map=frozen_mapping({"error": "info"}), continue_matching=True),
          rule("set", severity="error")], "error"),
        ([rule("map", severity_map=frozen_mapping({"critical": "info"}))], "warning"),
    ],
    ids=["override then map", "map then override", "map leaves other severities"],
)
def test_severity_changes_apply_in_order(routes: list[Route], expected: str) -> None:
    assert route(make_alert(), compile_routes(routes)).severity == Severity(expected)


@pytest.mark.parametrize("source", ["heartbeat", "job", "check"])
def test_router_s_own_alerts_keep_the_service_their_config_declares(source: str) -> None:
    """A heartbeat's, job's or check's `service` is declared in the config as where its
    incident opens: a route naming another service does not move it (a sender's it does)."""
    table = compile_routes([
        rule("db", "team=db", service="database", channels=("db-chat",),
             continue_matching=True),
        rule("everything else", service="api"),
    ])
    decision = route(make_alert({"team": "db"}, source=source, service="backups"), table)
    assert (decision.service, [item.name for item in decision.routes], decision.channels) == (
        "backups", ["db", "everything else"], ("db-chat",))
    assert explain(make_alert(source=source, service="backups"), table).decision.service \
        == "backups"
    assert route(make_alert(source=source), table).service == "api"  # declares none
    assert route(make_alert(service="backups"), table).service == "api"  # a sender's


def test_own_sources_are_those_router_makes_and_no_format_s() -> None:
    assert {heartbeats.SOURCE, checks.SOURCE, jobs.SOURCE} == OWN_SOURCES
    assert not OWN_SOURCES & {*FORMATS, *SOURCES}


def test_matchers_read_the_severity_as_it_arrived() -> None:
    table = compile_routes([
        rule("lower", severity="info", continue_matching=True),
        rule("critical only", "severity=critical", channels=("page",)),
    ])
    decision = route(make_alert(severity="critical"), table)
    assert [item.name for item in decision.routes] == ["lower", "critical only"]
    assert decision.severity == Severity.INFO


def test_explain_says_why_each_route_matched_or_not(first_match: RouteTable) -> None:
    alert = make_alert({"team": "web"}, severity="critical", service="web")
    steps = explain(alert, first_match).steps
    lines = [step.describe().replace(str(step.route.where), "WHERE") for step in steps]
    assert lines == [
        "1. database (WHERE): no match: team=~'db|storage' (alert has 'web')",
        "2. staging is never urgent (WHERE): no match: env='staging' (alert has '')",
        "3. critical api (WHERE): matches, continue",
        "4. web frontends (WHERE): matches",
        "5. from pagerduty (WHERE): no match: source='pagerduty' (alert has 'native')",
        "6. no owner (WHERE): no match: team='' (alert has 'web')",
    ]
    assert str(steps[0].route.where).endswith("routes.yaml:3:5")


def test_explain_shows_routes_that_are_not_reached(continued: RouteTable) -> None:
    steps = explain(make_alert({"env": "staging"}), continued).steps
    assert [step.taken for step in steps] == [True, True, False, True, False]
    assert steps[4].matched and not steps[4].reached
    assert steps[4].describe().endswith(
        ": would match, but an earlier route stopped matching")


UNLESS = """
routes:
  - name: database
    match: [team=db]
    channels: [page]
    continue: true
  - name: web unless database or quiet staging
    match: [team=~"web|db"]
    unless: [[team=db], [env=staging, 'severity!=critical']]
    channels: [chat]
    continue: true
  - name: paged by the sender's own word
    match: [labels.severity=page]
    channels: [log]
"""


@pytest.mark.parametrize(
    ("labels", "severity", "names"),
    [
        ({"team": "db"}, "warning", ["database"]),
        ({"team": "web"}, "warning", ["web unless database or quiet staging"]),
        ({"team": "web", "env": "staging"}, "warning", []),
        ({"team": "web", "env": "staging"}, "critical",
         ["web unless database or quiet staging"]),
        ({"team": "x", "severity": "page"}, "warning", ["paged by the sender's own word"]),
        ({"team": "x", "severity": "warning"}, "warning", []),
        ({"team": "x"}, "warning", []),
    ],
)
def test_unless_sets_exclude_and_labels_prefix_reads_the_label(
        tmp_path: Path, labels: dict[str, str], severity: str, names: list[str]) -> None:
    table = load_table(tmp_path, UNLESS)
    alert = make_alert(labels, severity=severity)
    assert [rule.name for rule in route(alert, table).routes] == names
    assert [rule.name for rule in explain(alert, table).decision.routes] == names


def test_explain_names_the_unless_set_that_excluded_a_route(tmp_path: Path) -> None:
    table = load_table(tmp_path, UNLESS)
    steps = explain(make_alert({"team": "web", "env": "staging"}), table).steps
    assert steps[1].describe() == (
        f"2. web unless database or quiet staging ({steps[1].route.where}): no match: "
        "unless [env='staging', severity!='critical'] matches")


def test_index_anchors_on_the_rarest_equality_and_literal_regexes() -> None:
    table = compile_routes([
        rule("a", "team=db", "env=prod"),
        rule("b", "team=db", "env=staging"),
        rule("c", 'team=~"(web|api)"'),
        rule("d", 'team=~"web.*"'),
        rule("e", 'team=""', "env!=prod"),
        rule("f"),
        rule("g", 'team=~"web|"'),
    ])
    assert table.index == {"env": {"prod": (0,), "staging": (1,)},
                           "team": {"web": (2,), "api": (2,)}}
    assert table.always == (3, 4, 5, 6)


def test_ten_thousand_rules_route_in_under_a_millisecond() -> None:
    routes = [rule(f"r{n}", f"team=t{n % 500}", f"alertname=a{n}", channels=("page",))
              for n in range(9_900)]
    routes += [rule(f"x{n}", f'instance=~"host-{n}-.*"') for n in range(100)]
    table = compile_routes(routes)
    alerts = [make_alert({"team": f"t{n % 500}", "alertname": f"a{n * 37 % 12_000}",
                          "instance": f"host-{n}-1"}) for n in range(500)]
    started = time.perf_counter()
    for alert in alerts:
        route(alert, table)
    assert (time.perf_counter() - started) / len(alerts) < 0.001


# The oracle: a plain top-to-bottom scan, written apart from core.matching on purpose.

def naive_matches(matcher: Matcher, alert: Alert) -> bool:
    value = alert.field_value(matcher.name) or ""
    if matcher.operator == "=":
        return value == matcher.value
    if matcher.operator == "!=":
        return value != matcher.value
    found = re.fullmatch(matcher.value, value) is not None
    return found if matcher.operator == "=~" else not found


def naive_route(alert: Alert, routes: Sequence[Route]) -> Decision:
    matched: list[Route] = []
    for candidate in routes:
        if all(naive_matches(matcher, alert) for matcher in candidate.matchers) and not any(
                all(naive_matches(matcher, alert) for matcher in group)
                for group in candidate.unless):
            matched.append(candidate)
            if not candidate.continue_matching:
                break
    service, policy = alert.service, None
    channels: list[str] = []
    severity: str = alert.severity.value
    for candidate in reversed(matched):
        if alert.source not in OWN_SOURCES or alert.service is None:
            service = candidate.service or service
        policy = candidate.escalation_policy or policy
    for candidate in matched:
        for channel in candidate.channels:
            if channel not in channels:
                channels.append(channel)
        mapped = candidate.severity_map.get(severity, severity)
        severity = mapped if candidate.severity is None else candidate.severity
    return Decision(routes=tuple(matched), service=service, channels=tuple(channels),
                    escalation_policy=policy, severity=Severity(severity))


OPERATORS: tuple[MatchOperator, ...] = ("=", "!=", "=~", "!~")
NAMES = ("team", "env", "alertname", "severity", "service", "source")
VALUES = ("", "a", "b", "ab", "db", "api", "critical", "warning", "pagerduty")
SEVERITY_NAMES: tuple[SeverityName, ...] = ("critical", "error", "warning", "info")
REGEXES = ("a|b", "(a|ab)", "(?:db|api)", "a.*", ".*", "", "a?", "critical|warning", "x")


def regex_matcher(name: str, operator: MatchOperator, value: str) -> Matcher:
    return Matcher(name=name, operator=operator, value=value, pattern=re.compile(value))


# Strategies are built once here: building them inside a composite costs more than the test.
SEVERITY_STRATEGY: st.SearchStrategy[SeverityName] = st.sampled_from(SEVERITY_NAMES)
MATCHER_NAMES = (*NAMES, "labels.severity", "labels.source")
MATCHERS = st.one_of(
    st.builds(Matcher, name=st.sampled_from(MATCHER_NAMES),
              operator=st.sampled_from(OPERATORS[:2]),
              value=st.sampled_from(VALUES)),
    st.builds(regex_matcher, st.sampled_from(NAMES), st.sampled_from(OPERATORS[2:]),
              st.sampled_from(REGEXES)),
)
ROUTES = st.lists(st.builds(
    Route,
    name=st.just("route"),
    matchers=st.lists(MATCHERS, max_size=3).map(tuple),
    service=st.sampled_from((None, "api", "db")),
    channels=st.lists(st.sampled_from(("x", "y", "z")), max_size=2).map(tuple),
    escalation_policy=st.sampled_from((None, "p", "q")),
    severity=st.one_of(st.none(), SEVERITY_STRATEGY),
    severity_map=st.dictionaries(st.sampled_from(SEVERITIES), SEVERITY_STRATEGY,
                                 max_size=2).map(frozen_mapping),
    continue_matching=st.booleans(),
    unless=st.lists(st.lists(MATCHERS, min_size=1, max_size=2).map(tuple),
                    max_size=2).map(tuple),
), max_size=30).map(lambda rules: [replace(rule, name=f"route {position + 1}")
                                   for position, rule in enumerate(rules)])

ALERTS = st.builds(
    make_alert,
    st.dictionaries(st.sampled_from((*NAMES, "instance", "labels.severity")),
                    st.sampled_from(VALUES), max_size=5),
    severity=st.sampled_from(SEVERITIES),
    source=st.sampled_from(("native", "pagerduty", "a", "heartbeat", "check")),
    service=st.sampled_from((None, "api", "db", "a", "")),
)


@settings(max_examples=400, deadline=None)
@given(ROUTES, st.lists(ALERTS, min_size=1, max_size=8))
def test_index_agrees_with_a_top_to_bottom_scan(rules: list[Route], batch: list[Alert]
                                                ) -> None:
    table = compile_routes(rules)
    for alert in batch:
        expected = naive_route(alert, rules)
        assert route(alert, table) == expected
        assert explain(alert, table).decision == expected


@settings(max_examples=200, deadline=None)
@given(ROUTES, st.lists(ALERTS, min_size=2, max_size=8))
def test_remembered_decisions_agree_with_a_fresh_scan(rules: list[Route], batch: list[Alert]
                                                      ) -> None:
    """`route` remembers decisions by matched routes, severity and service: alerts that share
    the routes but not the severity or service, routed in any order, still get their own."""
    table = compile_routes(rules)
    for alert in [*batch, *reversed(batch), *batch]:
        assert route(alert, table) == naive_route(alert, rules)


def test_remembered_decisions_are_bounded(first_match: RouteTable) -> None:
    for number in range(5000):
        route(make_alert({"team": "db"}, service=f"service-{number}"), first_match)
    assert 0 < len(first_match.decisions) <= 4096
    assert route(make_alert({"team": "db"}, service="other"), first_match).service == "database"
