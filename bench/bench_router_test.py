"""How long `router test` takes for 10,000 cases against the example config in config/.

A plain script (`python bench/bench_router_test.py [CASES]`): writes a test file of CASES
cases (default 10,000) to a temporary directory: two in five an alert in router's JSON, one
in five an Alertmanager webhook payload, each expecting service, routes, channels,
suppression and the first two escalation steps (who is paged, when, through which
channel); two in
five who is on call on one of the rotas; instants spread over a year in four timezones. The
expectations are what router answers (a first, untimed pass fills them in), so every case
passes. Then it times `router test --config config FILE` as the CLI runs it (reading and
checking the file, running, printing the report) and prints a markdown table row: wall
seconds, the process's CPU seconds (the figure to trust on a busy machine: wall time there
includes waiting for a core) and the load average. The goal is under 10 s for 10,000 cases.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from router.cli.casefile import read_cases
from router.cli.cases import Runner
from router.cli.main import main
from router.config import load_config

CHECKOUT = Path(__file__).resolve().parent.parent
CONFIG = CHECKOUT / "config"
ZONES = ("Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC")
TEAMS = ("db", "storage", "web", "batch", "")
START = datetime(2026, 1, 1, tzinfo=UTC)
LEVELS = 2
"""Escalation steps each alert case expects (a case lists the steps it cares about)."""
EXPECTED = ("service", "routes", "channels", "suppressed", "suppressed_by",
            "escalation_policy", "levels")


def make_case(number: int, randomness: random.Random) -> dict[str, Any]:
    instant = START + timedelta(minutes=randomness.randrange(365 * 24 * 60))
    zone = randomness.choice(ZONES)
    # with its offset: a wall-clock time alone may fall in a DST change, which is an error
    case: dict[str, Any] = {"name": f"case {number}", "timezone": zone,
                            "at": instant.astimezone(ZoneInfo(zone)).isoformat()}
    labels = {"alertname": f"Alert{number % 50}", "instance": f"host{number % 30}",
              "env": randomness.choice(("production", "staging")),
              "team": randomness.choice(TEAMS)}
    severity = randomness.choice(("critical", "error", "warning", "info"))
    kind = number % 5
    if kind in (0, 1):
        case["alert"] = {"severity": severity, "labels": labels,
                         "annotations": {"summary": f"summary {number}"}}
    elif kind == 2:
        case["format"] = "alertmanager"
        case["payload"] = {"version": "4", "status": "firing", "receiver": "router",
                           "alerts": [{"status": "firing",
                                       "labels": {**labels, "severity": severity},
                                       "annotations": {"summary": f"summary {number}"}}]}
    else:
        case["rota"] = randomness.choice(("platform-primary", "database"))
    case["expect"] = {"on_call": None} if "rota" in case else {"service": None}
    return case


def write_cases(path: Path, count: int) -> None:
    """The cases, their expectations filled in with router's answers."""
    randomness = random.Random(20)
    cases = [make_case(number, randomness) for number in range(count)]
    path.write_text(yaml.safe_dump({"cases": cases}, sort_keys=False), encoding="utf-8")
    config = load_config([CONFIG], resolve_secrets=False)
    runner = Runner(config)
    for case, read in zip(cases, read_cases([path], config.settings.alert_limits),
                          strict=True):
        if "service" in read.expect:
            read.expect.update(dict.fromkeys(EXPECTED))
            read.expect["levels"] = [{}] * LEVELS
        case["expect"] = runner.run(read).actual
    path.write_text(yaml.safe_dump({"cases": cases}, sort_keys=False), encoding="utf-8")


def main_bench() -> None:
    parser = argparse.ArgumentParser(description="How long `router test` takes for COUNT "
                                                 "generated cases on the example config.")
    parser.add_argument("count", nargs="?", type=int, default=10_000,
                        help="how many cases (default 10,000, issue 20's figure)")
    count = parser.parse_args().count
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "cases.yaml"
        write_cases(path, count)
        out, err = io.StringIO(), io.StringIO()
        began, cpu_began = time.perf_counter(), time.process_time()
        code = main(["test", "--config", str(CONFIG), str(path)], out, err)
        elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu_began
    summary = out.getvalue().splitlines()[-1].strip("= ")
    assert code == 0, err.getvalue() or summary
    load = os.getloadavg()[0]
    print("| cases | result | seconds | CPU seconds | cases per second | load average |")
    print("| --- | --- | --- | --- | --- | --- |")
    print(f"| {count:,} | {summary} | {elapsed:.2f} | {cpu:.2f} | {count / elapsed:,.0f} "
          f"| {load:.1f} |")


if __name__ == "__main__":
    main_bench()
