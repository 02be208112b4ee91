"""How the time `core.coverage.coverage_gaps` takes grows with the horizon: linearly in the
shifts over it (each rota's shifts listed once, levels intersected side by side).

A config of 20 rotas on call 08:00-20:00 on weekdays (a gap every night and weekend), each
the first level of its own policy and, two by two, the second level of another; horizons of
13, 52 and 104 weeks. Prints the gaps found, the best time of three and the time per gap,
which stays about the same when the cost is linear. Run with `python bench/bench_coverage.py`.
"""

from __future__ import annotations

import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from router.config import load_config
from router.config.model import Config
from router.core.coverage import coverage_gaps

ROTAS = 20
HORIZONS = (13, 52, 104)
REPEATS = 3


def build(directory: Path) -> Config:
    lines = ["people: [{id: ann}, {id: bob}]", "rotas:"]
    for index in range(ROTAS):
        lines += [f"  - id: rota{index}", "    timezone: Europe/Berlin", "    layers:",
                  "      - members: [ann, bob]", "        every: 1d", "        start: 2026-01-05",
                  "        restrictions: [{days: [mon, tue, wed, thu, fri], from: \"08:00\", "
                  "until: \"20:00\"}]"]
    lines.append("escalation_policies:")
    for index in range(ROTAS):
        other = (index + 1) % ROTAS
        lines += [f"  - id: policy{index}", "    fallback: {person: ann}", "    levels:",
                  f"      - targets: [{{rota: rota{index}}}]", "        delay: 10m",
                  f"      - targets: [{{rota: rota{index}}}, {{rota: rota{other}}}]",
                  "        delay: 10m"]
    (directory / "config.yaml").write_text("\n".join(lines) + "\n")
    return load_config([directory], resolve_secrets=False)


def main() -> None:
    with tempfile.TemporaryDirectory() as temporary:
        config = build(Path(temporary))
    start = datetime(2026, 3, 2, 9, tzinfo=ZoneInfo("Europe/Berlin"))
    print("| horizon | gaps | seconds | microseconds per gap |")
    print("| --- | --- | --- | --- |")
    for weeks in HORIZONS:
        took, found = float("inf"), 0
        for _ in range(REPEATS):  # the best of a few: the machine may be shared
            began = time.perf_counter()
            found = sum(1 for _ in coverage_gaps(config, start, timedelta(weeks=weeks)))
            took = min(took, time.perf_counter() - began)
        print(f"| {weeks}w | {found} | {took:.3f} | {took / found * 1e6:.0f} |")


if __name__ == "__main__":
    main()
