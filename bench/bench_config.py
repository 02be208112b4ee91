"""How long loading, validating and building a large config takes, against PyYAML's C loader.

YAML parsing is the floor: the goal is load_config <= 2x the time `yaml.load(...,
Loader=yaml.CSafeLoader)` alone takes on the same files, measured in the same run. Prints a
table for docs/benchmarks.md. Run with `make bench` or `python bench/bench_config.py`.
"""

from __future__ import annotations

import argparse
import gc
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from router.config import load_config

TIMEZONES = ("Europe/Berlin", "America/New_York", "Asia/Kolkata", "UTC", "Australia/Sydney")
SEVERITIES = ("critical", "error", "warning", "info")


def write_config(directory: Path, *, routes: int, rotas: int, people: int) -> None:
    """A config shaped like a large organisation's, split over files as teams would."""
    rng = random.Random(7)
    services = max(1, routes // 20)
    (directory / "settings.yaml").write_text("settings:\n  timezone: Europe/Berlin\n")
    lines = ["channels:", "  - {id: log, type: log}",
             "  - {id: pager, type: pagerduty, routing_key: R0000000000000000000000000000000}",
             "  - {id: slack, type: slack, webhook_url: 'http://127.0.0.1:1/hook'}"]
    (directory / "channels.yaml").write_text("\n".join(lines) + "\n")
    lines = ["people:"]
    for index in range(people):
        lines += [f"  - id: person{index}", f"    name: Person Number {index}",
                  f"    timezone: {rng.choice(TIMEZONES)}", "    contact_methods:",
                  f"      - {{type: email, address: person{index}@example.com}}",
                  f"      - {{type: slack, address: U{index:08d}}}",
                  "    quiet_hours: {from: '22:00', until: '07:00'}"]
    (directory / "people.yaml").write_text("\n".join(lines) + "\n")
    lines = ["rotas:"]
    for index in range(rotas):
        members = ", ".join(f"person{rng.randrange(people)}" for _ in range(4))
        lines += [f"  - id: rota{index}", f"    timezone: {rng.choice(TIMEZONES)}",
                  "    layers:",
                  f"      - {{members: [{members}], every: 1w, handoff: '09:00', "
                  "handoff_day: mon, start: 2026-01-05}",
                  f"      - members: [person{rng.randrange(people)}]",
                  "        every: 1d", "        start: 2026-01-01",
                  "        restrictions: [{days: [mon, tue, wed, thu, fri], from: '09:00', "
                  "until: '17:00'}]",
                  "    overrides:",
                  f"      - {{person: person{rng.randrange(people)}, from: 2026-12-24T09:00, "
                  "until: 2026-12-27T09:00, reason: holiday cover}",
                  "    holidays: {dates: [2026-12-25, 2026-12-26], policy: skip}"]
    (directory / "rotas.yaml").write_text("\n".join(lines) + "\n")
    lines = ["escalation_policies:"]
    for index in range(services):
        lines += [f"  - id: policy{index}", "    repeat: 1", "    levels:",
                  f"      - {{targets: [{{rota: rota{index % rotas}}}], delay: 15m}}",
                  f"      - {{targets: [{{person: person{index % people}}}, "
                  "{channel: slack}], delay: 30m}"]
    lines.append("services:")
    for index in range(services):
        lines += [f"  - id: service{index}", f"    escalation_policy: policy{index}",
                  "    channels: [log, slack]",
                  "    dedup_key: '{{ labels.alertname }}/{{ labels.instance }}'"]
    (directory / "services.yaml").write_text("\n".join(lines) + "\n")
    lines = ["routes:"]
    for index in range(routes):
        matchers = [f"team=team{index}", f"severity={rng.choice(SEVERITIES)}"]
        if index % 10 == 0:
            matchers.append(f'alertname=~"Disk.*|Host{index}.*"')
        lines += [f"  - name: route {index}", f"    match: {matchers}",
                  f"    service: service{index % services}", "    channels: [pager]"]
    lines += ["  - name: catch all", "    service: service0"]
    (directory / "routes.yaml").write_text("\n".join(lines) + "\n")


def best_of(repeats: int, action: Callable[[], object]) -> float:
    """Fastest of several runs, with the collector paused as timeit does."""
    timings = []
    for _ in range(repeats):
        gc.collect()
        gc.disable()
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
        gc.enable()
    return min(timings)


def yaml_only(directory: Path) -> None:
    for path in sorted(directory.glob("*.yaml")):
        yaml.load(path.read_bytes(), Loader=yaml.CSafeLoader)


def measure(label: str, *, routes: int, rotas: int, people: int, repeats: int) -> None:
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        write_config(directory, routes=routes, rotas=rotas, people=people)
        size = sum(path.stat().st_size for path in directory.glob("*.yaml"))
        config = load_config([directory])
        assert len(config.routes) == routes + 1
        parse = best_of(repeats, lambda: yaml_only(directory))
        full = best_of(repeats, lambda: load_config([directory]))
    print(f"| {label} | {size / 1e6:.1f} MB | {parse * 1000:.0f} ms | {full * 1000:.0f} ms "
          f"| {full / parse:.2f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    arguments = parser.parse_args()
    print("| config | YAML size | CSafeLoader alone | load_config (parse + schema + build) "
          "| ratio |")
    print("| --- | --- | --- | --- | --- |")
    measure("10,000 routes, 1,000 rotas, 2,000 people", routes=10_000, rotas=1_000,
            people=2_000, repeats=arguments.repeats)
    measure("500 routes, 50 rotas, 100 people", routes=500, rotas=50, people=100,
            repeats=arguments.repeats)


if __name__ == "__main__":
    main()
