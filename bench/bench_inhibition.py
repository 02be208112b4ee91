"""How long checking one alert against the inhibition rules takes, as open alerts grow.

A plain script (`python bench/bench_inhibition.py`): 20 rules in Alertmanager's usual
shape (a source alertname, a severity target, `equal` on cluster and instance), then for
10, 1,000 and 100,000 firing source alerts (of 2 rules, then of all 20) prints a markdown
table row: the time to build
the index from them, and mean microseconds per `InhibitionIndex.check` for targets that
are inhibited and for targets that are not; and, for comparison, the same answer by a scan
of every source per rule (what checking without the index costs). The index should keep a
check flat as sources grow (O(rules)); the scan grows with them.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from router.alerts.model import Alert, Severity
from router.config.model import InhibitRule, frozen_mapping
from router.config.values import parse_matcher
from router.core.inhibition import InhibitionIndex, SourceKey
from router.core.matching import fields_of, first_mismatch
from router.errors import Where

RULES = 20
TARGETS = 2_000
SCANNED_CHECKS = 200_000
"""Source comparisons the scan column may spend per row (fewer targets as sources grow)."""
CLUSTERS = 40
NOWHERE = Where("bench")


def make_rules() -> list[InhibitRule]:
    return [InhibitRule(
        name=f"rule-{position}",
        source_matchers=(parse_matcher(f'alertname="Down{position}"', NOWHERE),),
        target_matchers=(parse_matcher('severity=~"warning|info"', NOWHERE),),
        equal=("cluster", "instance")) for position in range(RULES)]


def make_alert(alertname: str, cluster: int, instance: int, severity: str) -> Alert:
    return Alert(summary="bench", source="native", severity=Severity(severity),
                 labels=frozen_mapping({"alertname": alertname, "cluster": f"c{cluster}",
                                        "instance": f"i{instance}"}))


def scan(rules: Sequence[InhibitRule], sources: Sequence[Alert], alert: Alert) -> bool:
    """The answer without an index: every source, for every rule the target matches."""
    fields = fields_of(alert)
    for rule in rules:
        if first_mismatch(rule.target_matchers, fields) is not None:
            continue
        for source in sources:
            source_fields = fields_of(source)
            if first_mismatch(rule.source_matchers, source_fields) is None and all(
                    source_fields.get(name, "") == fields.get(name, "") for name in rule.equal):
                return True
    return False


def mean_microseconds(work: Callable[[Alert], object], alerts: Sequence[Alert]) -> float:
    start = time.perf_counter()
    for alert in alerts:
        work(alert)
    return (time.perf_counter() - start) / len(alerts) * 1e6


def row(count: int, randomness: random.Random, *, firing_rules: int = RULES) -> str:
    rules = make_rules()
    sources = [make_alert(f"Down{randomness.randrange(firing_rules)}",
                          randomness.randrange(CLUSTERS), number, "critical")
               for number in range(count)]
    start = time.perf_counter()
    index = InhibitionIndex.of(rules, ((SourceKey(number, "x"), alert)
                                       for number, alert in enumerate(sources)))
    build_ms = (time.perf_counter() - start) * 1e3
    hits = [make_alert("DiskFull", int(source.labels["cluster"][1:]),
                       int(source.labels["instance"][1:]), "warning")
            for source in randomness.choices(sources, k=TARGETS)]
    misses = [make_alert("DiskFull", randomness.randrange(CLUSTERS), count + number,
                         "warning") for number in range(TARGETS)]
    assert all(index.check(alert) is not None for alert in hits)
    assert all(index.check(alert) is None for alert in misses)
    scanned = mean_microseconds(lambda alert: scan(rules, sources, alert),
                                misses[:max(1, SCANNED_CHECKS // count)])
    inhibited = mean_microseconds(index.check, hits)
    free = mean_microseconds(index.check, misses)
    return (f"| {count:,} | {firing_rules} | {build_ms:.1f} | {inhibited:.1f} | {free:.1f} | "
            f"{scanned:,.0f} |")


def main() -> None:
    randomness = random.Random(16)
    print(f"{RULES} rules; microseconds per check (mean)\n")
    print("| firing sources | rules they are sources of | build index (ms) | check, "
          "inhibited | check, not inhibited | scan without index, not inhibited |")
    print("| --- | --- | --- | --- | --- | --- |")
    for count in (10, 1_000, 100_000):
        print(row(count, randomness, firing_rules=2))
        print(row(count, randomness))


if __name__ == "__main__":
    main()
