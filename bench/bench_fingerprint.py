"""The Alertmanager fingerprint of one alert with a long label, before and after issue 13.

A plain script (`python bench/bench_fingerprint.py`): for label values of 1 KB, 10 KB,
30 KB, 100 KB and 1 MB it times `alertmanager.fingerprint` as it is now (the digest masked to
64 bits at every byte) and the code it replaced (masked once per label part, so the digest
grew by 40 bits a byte and each multiplication cost as much as the bytes before it), best of
`--repeat`, and prints a markdown table. Up to `--before-max` bytes the old code is run; above
that its time is extrapolated from the largest size run (it is quadratic: 1 MB took about an
hour), and the table says so. The last column is what the daemon does with such an alert
now: `alertmanager.parse` of a webhook body holding it, with the default `settings.alert_limits`
(a label over 16 KB is refused before the fingerprint is computed).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_ingest import machine_busy  # the sibling script's /proc helper

from router.alerts.formats import alertmanager
from router.config.model import AlertLimits
from router.errors import BadRequest

SIZES = (1_000, 10_000, 30_000, 100_000, 1_000_000)
_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211


def fingerprint_before(labels: dict[str, str]) -> str:
    """alertmanager._fingerprint as it was before issue 13 (commit 8370bb2)."""
    digest = _FNV_OFFSET
    for name, value in sorted(labels.items()):
        for part in (name, value):
            for byte in part.encode("utf-8"):
                digest = (digest ^ byte) * _FNV_PRIME
            digest = ((digest ^ 0xFF) * _FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return f"{digest:016x}"


def labels_of(size: int) -> dict[str, str]:
    value = "".join("0123456789abcdef"[(position * 7) % 16] for position in range(size))
    return {"alertname": "Huge", "instance": value, "job": "api"}


def best_seconds(work: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def parse_seconds(labels: dict[str, str], repeat: int) -> tuple[float, str]:
    """How long the webhook parse takes for an alert with `labels`, and what it answers."""
    body = json.dumps({"alerts": [{"status": "firing", "labels": labels}]}).encode()
    limits = AlertLimits()
    arrived = datetime.now(UTC)  # the webhook format does not read it

    def parse() -> str:
        try:
            alertmanager.parse(body, {}, limits=limits, now=arrived)
        except BadRequest:
            return "400"
        return "accepted"

    return best_seconds(parse, repeat), parse()


def shown(seconds: float) -> str:
    return f"{seconds * 1000:,.2f} ms" if seconds < 10 else f"{seconds:,.0f} s"


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    options.add_argument("--repeat", type=int, default=3)
    options.add_argument("--before-max", type=int, default=100_000,
                         help="largest label to run the old code on (bytes)")
    arguments = options.parse_args()
    busy = machine_busy()
    print(f"machine busy before the run: {busy:.0%} of its CPU time"
          + (" (other work is running: figures will be high and noisy)" if busy > 0.1 else ""))
    print("\n| label value | before | after | parse with default limits |")
    print("| ---: | ---: | ---: | ---: |")
    measured: tuple[int, float] | None = None
    for size in SIZES:
        labels = labels_of(size)
        if size <= 10_000:  # the same answer, where the old code is quick
            assert alertmanager.fingerprint(labels) == fingerprint_before(labels)
        after = best_seconds(partial(alertmanager.fingerprint, labels), arguments.repeat)
        if size <= arguments.before_max:
            before = best_seconds(partial(fingerprint_before, labels),
                                  1 if size >= 30_000 else arguments.repeat)
            before_text = shown(before)
            measured = (size, before)
        elif measured is not None:
            before_text = f"~{shown(measured[1] * (size / measured[0]) ** 2)} (extrapolated)"
        else:
            before_text = "not run"
        parse, answer = parse_seconds(labels, arguments.repeat)
        print(f"| {size:,} B | {before_text} | {shown(after)} | {shown(parse)} ({answer}) |")


if __name__ == "__main__":
    main()
