"""core.inhibition: Alertmanager's source/target/equal rules over the firing alerts, the
two-sided rule, and what `core.suppression.check` reports for an inhibited alert."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from router.alerts.model import Alert, Severity
from router.config import load_config
from router.config.model import InhibitRule
from router.core.inhibition import InhibitionIndex, SourceKey
from router.core.suppression import check

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
RULES = """
inhibit_rules:
  - name: node-down
    source_matchers: ['alertname="NodeDown"']
    target_matchers: ['severity=~"warning|info"']
    equal: [cluster, instance]
  - source_matchers: ['alertname = "Outage"', 'region!=""']
    target_matchers: ['alertname=~"Outage|Degraded"']
    equal: [region]
"""


@pytest.fixture
def rules(tmp_path: Path) -> tuple[InhibitRule, ...]:
    (tmp_path / "inhibit.yaml").write_text(textwrap.dedent(RULES))
    return load_config([tmp_path / "inhibit.yaml"]).inhibit_rules


def make(severity: str = "critical", **labels: str) -> Alert:
    return Alert(summary="x", source="native", severity=Severity(severity), labels=labels)


def test_rules_load_with_alertmanager_matchers_and_a_name_by_position(
        rules: tuple[InhibitRule, ...]) -> None:
    assert [rule.name for rule in rules] == ["node-down", "2"]
    assert [str(matcher) for matcher in rules[1].source_matchers] == [
        "alertname='Outage'", "region!=''"]
    assert rules[0].equal == ("cluster", "instance")


@pytest.mark.parametrize(("target", "inhibited"), [
    (make("warning", alertname="DiskFull", cluster="eu", instance="db1"), True),
    (make("info", alertname="DiskFull", cluster="eu", instance="db1"), True),
    # not a target: severity critical
    (make("critical", alertname="DiskFull", cluster="eu", instance="db1"), False),
    # an equal label differs
    (make("warning", alertname="DiskFull", cluster="eu", instance="db2"), False),
    # an equal label missing on one side only
    (make("warning", alertname="DiskFull", instance="db1"), False),
])
def test_a_target_is_inhibited_while_a_source_with_equal_labels_fires(
        rules: tuple[InhibitRule, ...], target: Alert, inhibited: bool) -> None:
    index = InhibitionIndex.of(rules, [(SourceKey(1, "a"), make(
        alertname="NodeDown", cluster="eu", instance="db1"))])
    found = index.check(target)
    assert (found is not None) is inhibited
    if found is not None:
        assert (found.label, found.source) == ("inhibition:node-down", SourceKey(1, "a"))


def test_missing_equals_missing(rules: tuple[InhibitRule, ...]) -> None:
    index = InhibitionIndex.of(rules, [(SourceKey(1, "a"), make(alertname="NodeDown"))])
    found = index.check(make("warning", alertname="DiskFull"))
    assert found is not None and found.rule.name == "node-down"
    assert index.check(make("warning", alertname="DiskFull", cluster="eu")) is None


def test_an_alert_matching_both_sides_does_not_inhibit_itself_or_its_kind(
        rules: tuple[InhibitRule, ...]) -> None:
    outage = make(alertname="Outage", region="eu")
    index = InhibitionIndex.of(rules, [(SourceKey(1, "outage"), outage)])
    assert index.check(outage) is None
    assert index.check(make(alertname="Outage", region="eu", job="other")) is None
    degraded = index.check(make(alertname="Degraded", region="eu"))  # one-sided target
    assert degraded is not None and degraded.source == SourceKey(1, "outage")


def test_resolved_sources_inhibit_no_more(rules: tuple[InhibitRule, ...]) -> None:
    source = make(alertname="NodeDown", cluster="eu", instance="db1")
    target = make("warning", alertname="DiskFull", cluster="eu", instance="db1")
    index = InhibitionIndex.of(rules, [(SourceKey(1, "a"), source), (SourceKey(2, "b"), source)])
    assert len(index) == 2
    index.discard(SourceKey(1, "a"))
    found = index.check(target)
    assert found is not None and found.source == SourceKey(2, "b")
    assert index.check(target, skip={SourceKey(2, "b")}) is None
    index.discard_incident(2)
    assert (index.check(target), len(index)) == (None, 0)
    index.discard(SourceKey(9, "never"))  # not a source: nothing to do


def test_an_alert_matching_no_source_side_is_not_kept(rules: tuple[InhibitRule, ...]) -> None:
    index = InhibitionIndex.of(rules, [(SourceKey(1, "a"), make(alertname="DiskFull"))])
    assert len(index) == 0


def test_the_suppression_verdict_names_the_rule_and_the_source(
        rules: tuple[InhibitRule, ...]) -> None:
    index = InhibitionIndex.of(rules, [(SourceKey(3, "f00"), make(
        alertname="NodeDown", cluster="eu", instance="db1"))])
    target = make("warning", alertname="DiskFull", cluster="eu", instance="db1")
    verdict = check(target, (), (), NOW, inhibition=index.check(target))
    assert (verdict.suppressed, verdict.label) == (True, "inhibition:node-down")
    assert verdict.describe() == ("suppressed by inhibition 'node-down': inhibited while "
                                  "alert f00 of INC3 fires")
    assert check(target, (), (), NOW).label is None
