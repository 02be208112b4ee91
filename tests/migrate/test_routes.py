"""migrate.alertmanager.routes: a routing tree becomes rules with the same receivers for
every label set (checked here against a transcription of Alertmanager's Route.Match; the
proof against the real amtool is tests/migrate/test_amtool.py)."""

from __future__ import annotations

import random
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from router.alerts.model import Alert
from router.config.model import Route
from router.config.values import parse_matcher
from router.core.routing import RouteTable, route
from router.errors import Where
from router.migrate.alertmanager.report import Refused, Report, load
from router.migrate.alertmanager.routes import Rule, flatten
from tests.migrate.support import DATA, alertmanager_answer, label_sets, receivers_of

CASES: dict[str, str] = {
    "multi-matcher siblings with continue": """
        receiver: default
        routes:
          - matchers: [team=db, env=prod]
            receiver: db-prod
            continue: true
          - matchers: [team=db, 'severity=~"critical|page"']
            receiver: db-critical
          - matchers: [env=prod]
            receiver: prod
            routes:
              - matchers: ['severity="page"']
                receiver: prod-page
              - matchers: [team!=db]
                receiver: prod-others
                continue: true
              - matchers: ['service=~"api|web"']
                receiver: prod-frontends
        """,
    "continue under a non-continue parent": """
        receiver: default
        routes:
          - match: {team: web}
            receiver: web
            routes:
              - match: {env: prod}
                receiver: web-prod
                continue: true
              - match_re: {instance: "web-.*"}
                receiver: web-instances
          - match: {team: web, env: staging}
            receiver: never-reached-for-web
          - match_re: {team: "web|db"}
            receiver: web-or-db
        """,
    "a matcherless child and an unreachable sibling": """
        receiver: default
        routes:
          - match: {team: a}
            receiver: a
            routes:
              - receiver: a-everything
                continue: true
              - match: {env: prod}
                receiver: a-prod
          - receiver: catch
          - match: {team: b}
            receiver: b-unreachable
        """,
    "empty values and quoting": """
        receiver: default
        routes:
          - matchers: ['env=""', 'team!=""']
            receiver: no-env
          - matchers: ['{alertname="Disk, full", source=~"a|"}']
            receiver: disk
            continue: true
          - match: {service: ""}
            receiver: no-service
        """,
    "escapes, every operator and spaces": r"""
        receiver: default
        routes:
          - matchers: ['msg="say \"hi\""', 'path=~"C:\\\\tmp|/tmp"']
            receiver: quoted
            continue: true
          - matchers: ['  team != "a b" ', 'zone!~"eu-.*|us-.*"', "rack=~'x'"]
            receiver: spaced
            continue: true
          - matchers: ['{kind="disk, full", level=~"(warn|crit)ical"}']
            receiver: braces
          - match_re: {job: 'node|(black)?box', instance: '.+:9100'}
            receiver: anchored
        """,
}

TREES = {**{name: textwrap.dedent(text) for name, text in CASES.items()},
         **{path.stem: path.read_text() for path in sorted((DATA / "route_test").glob("*.yml"))}}


def rules_of(tree: dict[str, Any], tmp_path: Path) -> list[Rule]:
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump({"route": tree}))
    loaded = load(path)
    channels = {name: (name,) for name in receivers_of(tree) | {"default"}}
    return flatten(loaded.data["route"], loaded.source.at("route"), channels,
                   Report(str(path)))


def table_of(rules: list[Rule]) -> RouteTable:
    where = Where("test")
    return RouteTable.compile([Route(
        name=rule.name, channels=rule.channels, continue_matching=rule.continue_matching,
        matchers=tuple(parse_matcher(text, where) for text in rule.match),
        unless=tuple(tuple(parse_matcher(text, where) for text in group)
                     for group in rule.unless)) for rule in rules])


@pytest.mark.parametrize("name", sorted(TREES))
def test_every_label_set_reaches_the_receivers_alertmanager_names(
        name: str, tmp_path: Path) -> None:
    tree = yaml.safe_load(TREES[name])
    tree.setdefault("receiver", "default")
    table = table_of(rules_of(tree, tmp_path))
    differences = []
    for labels in label_sets(tree, 2000):
        expected = set(alertmanager_answer(tree, labels) or ())
        alert = Alert(summary="x", source="alertmanager_v2", labels=labels)
        got = set(route(alert, table).channels)
        if got != expected:
            differences.append((labels, expected, got))
    assert differences == []


def test_a_tree_without_continue_reads_as_a_plain_first_match_list(tmp_path: Path) -> None:
    tree = yaml.safe_load(textwrap.dedent("""
        receiver: default
        routes:
          - {match: {team: db}, receiver: db}
          - matchers: ['severity=~"critical|page"']
            receiver: pager
            routes:
              - {matchers: [env=staging], receiver: staging}
        """))
    rules = rules_of(tree, tmp_path)
    assert [(rule.name, rule.match, rule.unless, rule.continue_matching) for rule in rules] == [
        ("db: route.routes[0]", ("team=db",), (), False),
        ("staging: route.routes[1].routes[0]",
         ('labels.severity=~critical|page', "env=staging"), (), False),
        ("pager: route.routes[1]", ('labels.severity=~critical|page',), (), False),
        ("default: route", (), (), False),
    ]


def test_continue_needs_unless_for_the_siblings_it_does_not_stop(tmp_path: Path) -> None:
    tree = yaml.safe_load(textwrap.dedent("""
        receiver: default
        routes:
          - {match: {team: db}, receiver: db, continue: true}
          - {match: {env: prod}, receiver: prod}
        """))
    assert [(rule.match, rule.unless, rule.continue_matching)
            for rule in rules_of(tree, tmp_path)] == [
        (("team=db",), (), True),
        (("env=prod",), (), False),
        ((), (("team=db",),), False),
    ]


@pytest.mark.parametrize(("tree", "expected"), [
    ({"receiver": "x", "matchers": ["a=b"]}, "route: the root route must not have matchers"),
    ({"routes": []}, "route: the root route needs a receiver"),
    ({"receiver": "x", "routes": [{"matchers": ['a="b']}]},
     "route.routes[0].matchers[0]: matcher value contains unescaped double quote: a=\"b"),
    ({"receiver": "x", "routes": [{"match_re": {"a": "[[:alpha:]]+"}}]},
     "route.routes[0].match_re.a: regular expression '[[:alpha:]]+' uses Go syntax (POSIX "
     "or Unicode classes, \\Q..\\E, \\z, \\C or the U flag) that router's Python regular "
     "expressions do not read the same way"),
])
def test_a_tree_router_cannot_keep_is_refused_with_its_place(
        tree: dict[str, Any], expected: str, tmp_path: Path) -> None:
    with pytest.raises(Refused) as refused:
        rules_of(tree, tmp_path)
    assert refused.value.describe("am.yml").split(": ", 1)[1] == expected


def test_a_route_alertmanager_never_reaches_is_reported_and_writes_no_rule(
        tmp_path: Path) -> None:
    path = tmp_path / "am.yml"
    path.write_text(textwrap.dedent("""\
        route:
          receiver: x
          routes:
            - receiver: y
            - match: {team: b}
              receiver: z
        """))
    loaded = load(path)
    report = Report(str(path))
    rules = flatten(loaded.data["route"], loaded.source.at("route"), {}, report)
    assert [rule.name for rule in rules] == ["y: route.routes[0]"]
    assert [finding.describe("am.yml") for finding in report.findings] == [
        "am.yml:5: route.routes[1]: never reached in Alertmanager either (an earlier sibling "
        "without matchers and without continue matches every alert): no rule"]


def test_go_ascii_classes_stay_ascii_and_scalars_read_as_written(tmp_path: Path) -> None:
    tree = yaml.safe_load(textwrap.dedent("""
        receiver: default
        routes:
          - match_re: {code: '\\d+'}
            receiver: numbered
          - match: {version: 1.50, flag: yes, empty: }
            receiver: versioned
        """))
    path = tmp_path / "alertmanager.yml"
    path.write_text(textwrap.dedent("""\
        route:
          receiver: default
          routes:
            - match_re: {code: '\\d+'}
              receiver: numbered
            - match: {version: 1.50, flag: yes, empty: }
              receiver: versioned
        """))
    loaded = load(path)
    rules = flatten(loaded.data["route"], loaded.source.at("route"),
                    {name: (name,) for name in receivers_of(tree) | {"default"}},
                    Report(str(path)))
    assert [rule.match for rule in rules] == [
        ("code=~(?a)\\d+",), ("version=1.50", "flag=yes", 'empty=""'), ()]
    table = table_of(rules)
    assert route(Alert(summary="x", source="s", labels={"code": "42"}), table).channels == (
        "numbered",)
    assert route(Alert(summary="x", source="s", labels={"code": "\u0664\u0662"}),
                 table).channels == ("default",)  # Arabic-Indic digits: not Go's \d


def test_a_value_that_would_read_as_a_typo_is_written_quoted(tmp_path: Path) -> None:
    # router validate warns on `env=!staging` and `q=x"` (config.values.matcher_slip)
    path = tmp_path / "alertmanager.yml"
    path.write_text(textwrap.dedent("""\
        route:
          receiver: default
          routes:
            - match: {env: "!staging", double: "=x", q: 'x"'}
              receiver: odd
        """))
    loaded = load(path)
    rules = flatten(loaded.data["route"], loaded.source.at("route"),
                    {"default": ("default",), "odd": ("odd",)}, Report(str(path)))
    assert rules[0].match == ('env="!staging"', 'double="=x"', 'q="x\\""')


def random_tree(chooser: random.Random, depth: int, counter: list[int]) -> dict[str, Any]:
    """A route with 0-3 matchers over two labels and, above the last level, 0-3 children;
    `continue` and receivers at random (a child without receiver inherits)."""
    counter[0] += 1
    node: dict[str, Any] = {"matchers": chooser.sample(MATCHER_POOL, chooser.randint(0, 2))}
    if chooser.random() < 0.7:
        node["receiver"] = f"r{counter[0]}"
    if chooser.random() < 0.4:
        node["continue"] = True
    if depth < 3 and chooser.random() < 0.6:
        node["routes"] = [random_tree(chooser, depth + 1, counter)
                          for _ in range(chooser.randint(1, 3))]
    return node


MATCHER_POOL = ["a=x", "a!=x", 'a=~"x|y"', 'a!~"y"', 'a=""', "b=x", "b!=y", 'b=~"x|"',
                'b!~"x|y"', 'b=""']
ALL_LABELS = [{name: value for name, value in (("a", a), ("b", b)) if value is not None}
              for a in ("x", "y", "z", "", None) for b in ("x", "y", "z", "", None)]


@pytest.mark.parametrize("seed", range(40))
def test_random_trees_route_as_alertmanager_for_every_label_set(
        seed: int, tmp_path: Path) -> None:
    chooser = random.Random(seed)
    tree = random_tree(chooser, 0, [0])
    tree["matchers"] = []
    tree["receiver"] = "root"
    tree.pop("continue", None)
    table = table_of(rules_of(tree, tmp_path))
    for labels in ALL_LABELS:
        expected = set(alertmanager_answer(tree, labels) or ())
        got = set(route(Alert(summary="x", source="s", labels=labels), table).channels)
        assert got == expected, (labels, yaml.safe_dump(tree))
