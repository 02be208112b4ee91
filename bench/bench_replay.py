"""How long `router replay` takes for a month of alerts against the example config in config/.

A plain script (`python bench/bench_replay.py [--alerts N] [--against]`): writes a history of
N received alerts (default 100,000) over November 2026 as `router export alerts` lines to a
temporary file, then times `router replay --config config FILE` as the CLI runs it (reading
and checking the file, replaying, printing the report), and prints a markdown table row:
wall seconds, the process's CPU seconds (the figure to trust on a busy machine) and the load
average. `--against` replays it against config/ a second time, side by side (two replays).
The goal is under a minute for 100,000 alerts.

The mix: episodes of 80 alert kinds (alertname x instance) of four teams, production and
staging, every severity, from Alertmanager's webhook, Prometheus (alertmanager_v2, which
goes stale after 5 minutes unless re-sent) and router's own JSON. An episode fires at a
random instant, is re-sent every 1 to 5 minutes (each re-send its own line, as a store
keeps them when the words change) for 2 minutes to 6 hours, and resolves (nine in ten; the
rest stop being sent, and go stale or stay open). Many escalate: nobody acknowledges.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from router.cli.main import main

CHECKOUT = Path(__file__).resolve().parent.parent
CONFIG = CHECKOUT / "config"
START = datetime(2026, 11, 1, tzinfo=UTC)
MONTH = timedelta(days=30)
TEAMS = ("db", "storage", "web", "batch")
SOURCES = ("alertmanager", "alertmanager_v2", "native")


def line(at: datetime, status: str, kind: dict[str, Any]) -> dict[str, Any]:
    return {"received_at": at.isoformat(), "last_received_at": at.isoformat(), "count": 1,
            "status": status, "source": kind["source"], "summary": kind["summary"],
            "severity": kind["severity"], "labels": kind["labels"],
            "annotations": {"summary": kind["summary"]}, "dedup_key": None,
            "starts_at": None, "ends_at": None, "incident": None, "suppressed_by": None}


def kinds(randomness: random.Random) -> list[dict[str, Any]]:
    found = []
    for number in range(80):
        labels = {"alertname": f"Alert{number % 20}", "instance": f"host{number % 13}",
                  "team": TEAMS[number % 4],
                  "env": "staging" if number % 5 == 0 else "production"}
        found.append({"labels": labels, "source": SOURCES[number % 3],
                      "severity": randomness.choice(("critical", "error", "warning", "info")),
                      "summary": f"{labels['alertname']} on {labels['instance']}"})
    return found


def history(count: int) -> list[dict[str, Any]]:
    """`count` lines, earliest first."""
    randomness = random.Random(20)
    known = kinds(randomness)
    lines: list[tuple[datetime, dict[str, Any]]] = []
    while len(lines) < count:
        kind = randomness.choice(known)
        at = START + timedelta(seconds=randomness.randrange(int(MONTH.total_seconds())))
        end = at + timedelta(minutes=randomness.randint(2, 360))
        every = timedelta(minutes=randomness.randint(1, 5))
        while at < end and len(lines) < count:
            lines.append((at, line(at, "firing", kind)))
            at += every
        if randomness.random() < 0.9 and len(lines) < count:
            lines.append((at, line(at, "resolved", kind)))
    lines.sort(key=lambda item: item[0])
    return [document for _, document in lines]


def main_bench() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--against", action="store_true",
                        help="also replay against config/, side by side")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "alerts.jsonl"
        with path.open("w", encoding="utf-8") as target:
            for document in history(arguments.alerts):
                target.write(json.dumps(document) + "\n")
        argv = ["replay", "--config", str(CONFIG), str(path), "--format", "json"]
        if arguments.against:
            argv += ["--against", str(CONFIG)]
        out, err = io.StringIO(), io.StringIO()
        wall, cpu = time.perf_counter(), time.process_time()
        code = main(argv, out, err)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if code != 0:
        raise SystemExit(f"router replay failed ({code}): {err.getvalue()}")
    report = json.loads(out.getvalue())
    incidents = report["config"]["incidents"]
    load = os.getloadavg()[0]
    print(f"{report['alerts']} arrivals, {incidents['opened']} incidents, "
          f"{report['config']['escalations_beyond_level_1']} escalations beyond level 1, "
          f"{sum(person['pages'] for person in report['config']['people'].values())} pages")
    print("| alerts | replays | wall | CPU | load average |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    print(f"| {arguments.alerts:,} | {2 if arguments.against else 1} | {wall:.1f} s | "
          f"{cpu:.1f} s | {load:.1f} |")


if __name__ == "__main__":
    main_bench()
