"""CPU per alert of each inbound format's parse and of the HTTP ingest path before the store.

A plain script (`python bench/bench_parse.py`), in-process, no sockets: for each format in
router/alerts/formats/ it parses a typical body (a Prometheus-like alert: six labels, two
annotations; each format's own shape of it) `--iterations` times per round, the bodies
cycling through a pool of distinct alerts larger than the parsers' caches (every alert is
new, as in bench_ingest.py's cases a and b, with a fresh `startsAt`), and prints the median
over `--rounds` rounds of µs per alert. Then the whole ingest path from the request's bytes
to the engine call and the answer, excluding the store: `server/api.py`'s handler with the
access gate (no token from a local client, and a bearer token from a remote one), the
format's parse, `Engine.ingest` with its log lines (JSON, INFO, to /dev/null, as `router
run` logs) over a store stand-in that answers at once, and the answer's encoding.

Figures come from `time.perf_counter_ns`; the script refuses to report when the machine was
busy before the run (another job skews every figure), unless `--busy-ok`.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_ingest import machine_busy  # the sibling script's /proc helper

from router.alerts.formats import FORMATS, Format, generic
from router.clock import FixedClock
from router.config import load_config
from router.config.model import AlertLimits, Config, GenericWebhook, IngestToken, Secret
from router.daemon import logs
from router.engine import Accepted, Engine
from router.server.api import build_routes
from router.server.routes import Request, Response
from router.store.values import Peek

ROOT = Path(__file__).resolve().parent.parent
POOL = 8192
"""Distinct bodies per case: more than the fingerprint cache (4096 label sets) holds."""
LIMITS = AlertLimits()
NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
ROUTING_KEY = "R0123456789abcdef0123456789abcde"
TOKEN = "bench-ingest-token-0123456789abcdef"
GENERIC = GenericWebhook(
    name="tool", summary="message", severity="priority", status="state",
    dedup_key="id", service="team", labels="tags",
    annotations={"description": "text", "runbook": "runbook"},
    severity_map={"P1": "critical", "P2": "error", "P3": "warning"},  # type: ignore[dict-item]
    status_map={"open": "firing", "closed": "resolved"},  # type: ignore[dict-item]
)


def _labels(number: int) -> dict[str, str]:
    return {"alertname": "HighLatency", "instance": f"web-{number}.example.com:9100",
            "job": "node", "severity": "critical", "service": "web", "team": "sre"}


def _annotations(number: int) -> dict[str, str]:
    return {"summary": f"p99 latency over 500 ms on web-{number}",
            "description": "The 99th percentile of request latency has been over 500 ms "
                           "for 5 minutes."}


def _instant(number: int) -> str:
    return (NOW - timedelta(milliseconds=number)).isoformat().replace("+00:00", "Z")


def _postable(number: int) -> dict[str, Any]:
    return {"labels": _labels(number), "annotations": _annotations(number),
            "startsAt": _instant(number), "endsAt": "2026-12-05T09:05:00Z",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=latency"}


def _webhook_alert(number: int) -> dict[str, Any]:
    return {"status": "firing", "labels": _labels(number), "annotations": _annotations(number),
            "startsAt": _instant(number), "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=latency",
            "fingerprint": f"{number:016x}"}


def _webhook(alerts: list[dict[str, Any]]) -> dict[str, Any]:
    return {"version": "4", "groupKey": "{}:{alertname=\"HighLatency\"}", "truncatedAlerts": 0,
            "status": "firing", "receiver": "router", "groupLabels": {"alertname": "HighLatency"},
            "commonLabels": {"alertname": "HighLatency"}, "commonAnnotations": {},
            "externalURL": "http://alertmanager:9093", "alerts": alerts}


def _native(number: int) -> dict[str, Any]:
    return {"summary": f"p99 latency over 500 ms on web-{number}", "severity": "critical",
            "labels": _labels(number), "annotations": _annotations(number),
            "service": "web", "starts_at": _instant(number)}


def _pagerduty(number: int) -> dict[str, Any]:
    return {"routing_key": ROUTING_KEY, "event_action": "trigger",
            "dedup_key": f"web-{number}/latency",
            "payload": {"summary": f"p99 latency over 500 ms on web-{number}",
                        "source": f"web-{number}.example.com", "severity": "critical",
                        "timestamp": _instant(number), "component": "nginx", "group": "web",
                        "class": "latency", "custom_details": {"p99_ms": 612, "region": "eu"}},
            "client": "Prometheus", "client_url": "http://prometheus:9090"}


def _grafana(number: int) -> dict[str, Any]:
    alert = _webhook_alert(number)
    alert.update(silenceURL="http://grafana/silence", dashboardURL="http://grafana/d/1",
                 panelURL="http://grafana/d/1?viewPanel=2", values={"B": 612.5})
    document = _webhook([alert])
    document.update(orgId=1, title="[FIRING:1] HighLatency", state="alerting",
                    message="p99 latency")
    return document


def _datadog(number: int) -> dict[str, Any]:
    return {"id": f"{number}", "alert_id": "12345", "title": f"[Triggered] latency web-{number}",
            "body": "p99 latency over 500 ms", "alert_transition": "Triggered",
            "priority": "P1", "aggregate": f"web-{number}", "tags": "env:prod,service:web",
            "hostname": f"web-{number}", "link": "https://app.datadoghq.com/event/1",
            "alert_scope": f"host:web-{number}", "date": 1733389200000}


def _generic(number: int) -> dict[str, Any]:
    return {"id": f"web-{number}/latency", "message": f"p99 latency over 500 ms on web-{number}",
            "priority": "P1", "state": "open", "team": "web", "tags": _labels(number),
            "text": "The 99th percentile is over 500 ms.", "runbook": "http://wiki/latency"}


Case = tuple[str, Format, Callable[[int], Any], int]
"""Name, format, the document of alert `number`, alerts per body."""

CASES: tuple[Case, ...] = (
    ("alertmanager_v2 (1 alert)", FORMATS["alertmanager_v2"], lambda n: [_postable(n)], 1),
    ("alertmanager_v2 (100 alerts)", FORMATS["alertmanager_v2"],
     lambda n: [_postable(n * 100 + i) for i in range(100)], 100),
    ("alertmanager webhook (1 alert)", FORMATS["alertmanager"],
     lambda n: _webhook([_webhook_alert(n)]), 1),
    ("native (1 alert)", FORMATS["native"], _native, 1),
    ("native (100 alerts)", FORMATS["native"],
     lambda n: [_native(n * 100 + i) for i in range(100)], 100),
    ("pagerduty v2 trigger", FORMATS["pagerduty"], _pagerduty, 1),
    ("grafana (1 alert)", FORMATS["grafana"], _grafana, 1),
    ("datadog", FORMATS["datadog"], _datadog, 1),
    ("generic (1 alert)", generic.GenericFormat(GENERIC), _generic, 1),
)


def _bodies(make: Callable[[int], Any], count: int) -> list[bytes]:
    return [json.dumps(make(number)).encode() for number in range(count)]


Figure = tuple[float, float]
"""Median µs per alert: elapsed (perf_counter_ns) and this process's CPU (process_time_ns)."""


def _median_per_alert(run: Callable[[int], None], iterations: int, alerts: int,
                      rounds: int) -> Figure:
    """Median over `rounds` of µs per alert of `run(iterations)`, elapsed and CPU: on a
    shared machine the CPU figure is the steadier one."""
    elapsed, cpu = [], []
    for _ in range(rounds):
        start, start_cpu = time.perf_counter_ns(), time.process_time_ns()
        run(iterations)
        cpu.append((time.process_time_ns() - start_cpu) / 1000 / iterations / alerts)
        elapsed.append((time.perf_counter_ns() - start) / 1000 / iterations / alerts)
    return statistics.median(elapsed), statistics.median(cpu)


def parse_case(case: Case, iterations: int, rounds: int) -> Figure:
    _, inbound, make, alerts = case
    pool = _bodies(make, max(16, min(POOL, POOL * 4 // alerts)))
    headers: dict[str, str] = {"content-type": "application/json"}

    def run(count: int) -> None:
        bodies = itertools.cycle(pool)
        for _ in range(count):
            inbound.parse(next(bodies), headers, limits=LIMITS, now=NOW)
    iterations = max(1, iterations // alerts)
    run(min(iterations, 200))  # warm up
    return _median_per_alert(run, iterations, alerts, rounds)


class _Store:
    """Stands in for the store: a write runs nothing and answers one `Accepted` per alert,
    so what remains is the handler's and the engine's own work around the store. It holds
    nothing in memory (`peek`, `peek_absent`: None), so every alert takes the ordinary way,
    whose decisions run inside the unit: as the store's, they are left out of the figures
    (the trio thread's plans need the run-time overrides a unit reads, which this one
    does not run)."""

    def __init__(self) -> None:
        self.alerts = 0

    async def write(self, work: Any) -> list[Accepted]:
        return [Accepted("INC1", f"key{number}", "opened", None)
                for number in range(self.alerts)]

    def peek(self, dedup_key: str, now: datetime) -> Peek | None:
        return None

    def peek_absent(self, dedup_key: str, now: datetime) -> Peek | None:
        return None


def _config(token: bool) -> Config:
    config = load_config([ROOT / "config"])
    if not token:
        return config
    ingest = IngestToken(name="prometheus", token=Secret(TOKEN), scopes=frozenset({"ingest"}))
    return replace(config, settings=replace(config.settings, ingest_tokens=(ingest,)))


HTTP_CASES: tuple[tuple[str, str, Callable[[int], Any], int], ...] = (
    ("POST /api/v2/alerts (1 alert)", "/api/v2/alerts", lambda n: [_postable(n)], 1),
    ("POST /api/v2/alerts (100 alerts)", "/api/v2/alerts",
     lambda n: [_postable(n * 100 + i) for i in range(100)], 100),
    ("POST /v1/alerts (1 alert)", "/v1/alerts", _native, 1),
    ("POST /v2/enqueue (1 event)", "/v2/enqueue", _pagerduty, 1),
)


def http_case(path: str, make: Callable[[int], Any], alerts: int, *, token: bool,
              iterations: int, rounds: int) -> Figure:
    store = _Store()
    store.alerts = alerts
    # The bodies' times are fixed (NOW and an endsAt five minutes on): a clock past them
    # would take every alertmanager_v2 alert for resolved.
    engine = Engine(_config(token), store, FixedClock(NOW))  # type: ignore[arg-type]
    if token:  # the PagerDuty event's key is one a service declares
        first = next(iter(engine.config.services))
        services = dict(engine.config.services)
        services[first] = replace(services[first], routing_keys=(Secret(ROUTING_KEY),))
        engine.use_config(replace(engine.config, services=services))
    routes = build_routes(engine)
    found = routes.find("POST", path)
    assert not isinstance(found, Response), found
    handler = found[0]
    headers = {"host": "127.0.0.1:9080", "content-type": "application/json",
               "user-agent": "Prometheus/2.53.0", "content-length": "600"}
    client = ("127.0.0.1", 40000)
    if token:
        headers = {**headers, "host": "router.example.com", "authorization": f"Bearer {TOKEN}"}
        client = ("10.0.0.7", 40000)
        engine.use_config(replace(engine.config, settings=replace(
            engine.config.settings, allowed_hosts=("router.example.com",))))
    requests = [Request(method="POST", path=path, query={}, headers=headers, body=body,
                        params={}, client=client)
                for body in _bodies(make, max(16, min(POOL, POOL * 4 // alerts)))]

    async def run_async(count: int) -> None:
        pool = itertools.cycle(requests)
        for _ in range(count):
            response = await handler(next(pool))
            if response.status >= 300:
                raise SystemExit(f"{path}: {response.status} {response.body!r}")

    def run(count: int) -> None:
        trio.run(run_async, count)
    iterations = max(1, iterations // alerts)
    run(min(iterations, 200))
    return _median_per_alert(run, iterations, alerts, rounds)


class _Null(io.TextIOBase):
    """A stream that drops what it is given: the formatting is measured, not the pipe."""

    def write(self, text: str) -> int:
        return len(text)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20000,
                        help="alerts parsed per round and case")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--busy-ok", action="store_true",
                        help="report even when the machine was busy before the run")
    options = parser.parse_args(argv)
    busy = machine_busy()
    if busy > 0.5 and not options.busy_ok:
        raise SystemExit(f"the machine was {busy:.0%} busy before the run; figures would be "
                         "skewed (--busy-ok reports anyway)")
    logs.configure(form="json", level="info", stream=_Null())  # as `router run` logs
    print(f"Python {sys.version.split()[0]}; machine {busy:.0%} busy before the run; median "
          f"of {options.rounds} rounds of {options.iterations} alerts\n")
    print("| inbound format, parse only | µs per alert | CPU µs per alert |\n"
          "| --- | ---: | ---: |")
    for case in CASES:
        elapsed, cpu = parse_case(case, options.iterations, options.rounds)
        print(f"| {case[0]} | {elapsed:.1f} | {cpu:.1f} |", flush=True)
    print("\n| ingest path before the store (gate, parse, engine call, log, answer) "
          "| µs per alert | CPU µs per alert |\n| --- | ---: | ---: |")
    for name, path, make, alerts in HTTP_CASES:
        for token in (False, True):
            elapsed, cpu = http_case(path, make, alerts, token=token,
                                     iterations=options.iterations // 2, rounds=options.rounds)
            who = "bearer token, remote client" if token else "no token, local client"
            print(f"| {name}, {who} | {elapsed:.1f} | {cpu:.1f} |", flush=True)


if __name__ == "__main__":
    main()
