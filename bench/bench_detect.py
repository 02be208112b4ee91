"""What auto-detection (`POST /v1/ingest`) costs over naming the format, by body size.

Detection decodes the body once to read its top-level keys, then the chosen format reads
that decoded body (`parse_decoded`): the cost should stay the parse's plus a few key lookups,
linear in the body, never a parse per format nor a second decode. Prints a table of
microseconds per body: the named format's parse, detection plus parse, and their ratio, for
a Zabbix body with 1 to 10,000 tags and an Alertmanager webhook with 1 to 1,000 alerts. Run
`python bench/bench_detect.py` (`--cpu` counts this process's CPU time only, for a machine
others load too).
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from router.alerts.formats import FORMATS, detect
from router.config.model import AlertLimits

PAYLOADS = Path(__file__).resolve().parents[1] / "tests" / "alerts" / "formats" / "payloads"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
LIMITS = AlertLimits(labels_per_alert=20_000)


def zabbix(tags: int) -> bytes:
    document = json.loads((PAYLOADS / "zabbix_problem.json").read_text())
    document["event_tags"] = ", ".join(f"tag{number}:{number}" for number in range(tags))
    return json.dumps(document).encode()


def alertmanager(alerts: int) -> bytes:
    document = json.loads((PAYLOADS / "alertmanager_firing.json").read_text())
    entry = document["alerts"][0]
    document["alerts"] = [{**entry, "labels": {**entry["labels"], "instance": f"host{number}"}}
                          for number in range(alerts)]
    return json.dumps(document).encode()


def per_call(work: Callable[[], object], budget: float,
             clock: Callable[[], float] = time.perf_counter) -> float:
    """Microseconds per call, the best of five rounds of about `budget` seconds each, by
    `clock` (`time.process_time` counts this process's CPU only, for a shared machine)."""
    calls, started = 0, clock()
    while clock() - started < budget / 10:
        work()
        calls += 1
    best = float("inf")
    for _ in range(5):
        started = clock()
        for _ in range(calls):
            work()
        best = min(best, (clock() - started) / calls)
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=0.5, help="seconds per measurement")
    parser.add_argument("--cpu", action="store_true",
                        help="count CPU time of this process (a machine others load too)")
    arguments = parser.parse_args()
    budget = arguments.budget
    clock = time.process_time if arguments.cpu else time.perf_counter
    print("| body | bytes | named (µs) | detected (µs) | ratio |")
    print("| --- | ---: | ---: | ---: | ---: |")
    cases = [(f"zabbix, {count} tags", "zabbix", zabbix(count)) for count in (1, 100, 10_000)]
    cases += [(f"alertmanager, {count} alerts", "alertmanager", alertmanager(count))
              for count in (1, 100, 1000)]
    for name, chosen, body in cases:
        named = per_call(functools.partial(FORMATS[chosen].parse, body, {}, limits=LIMITS,
                                           now=NOW), budget, clock)
        found = per_call(functools.partial(detect.parse, body, {}, limits=LIMITS, now=NOW),
                         budget, clock)
        assert detect.parse(body, {}, limits=LIMITS, now=NOW)[0] == chosen
        print(f"| {name} | {len(body):,} | {named:,.1f} | {found:,.1f} | {found / named:.2f} |")


if __name__ == "__main__":
    main()
