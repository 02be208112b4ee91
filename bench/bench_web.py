"""How long the web interface's incidents page takes with 10,000 open incidents (issue 22),
and the responder pages over the same store: its 10,000 pages (one per incident, to the
rota's person), DEAD_LETTERS of them failed for good, a month of fatigue.

The goal: the first page (50 rows, paginated) renders in under 200 ms, and a page with its
stylesheet and script weighs under 100 KB. The script opens a real SQLite store in a
temporary directory, opens INCIDENTS incidents through the engine (one ingest batch each of
BATCH alerts), serves the routes over real loopback HTTP and times GET requests, each a
full round trip: the store's query, the template, the socket. Prints a table for
docs/benchmarks.md. Run with `python bench/bench_web.py` (about a minute).
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import httpx
import trio

from router.alerts.model import Alert, Severity, Status
from router.clock import FixedClock
from router.config import load_config
from router.engine import Engine
from router.server.api import build_routes
from router.server.http import serve_http
from router.store import Store, Transaction
from router.store.values import Attempt
from router.web.pages import page_routes

CONFIG = """
settings: {timezone: UTC}
people:
  - {id: ann, contact_methods: [{type: email, address: ann@example.com}]}
  - {id: ben, contact_methods: [{type: email, address: ben@example.com}]}
channels:
  - {id: log, type: log}
  - {id: mail, type: email, host: localhost, from: router@example.com}
rotas:
  - {id: web, layers: [{members: [ann, ben], every: 1d, handoff: "09:00", start: 2026-11-01}]}
escalation_policies: [{id: default, levels: [{targets: [{rota: web}], delay: 15m}]}]
services: [{id: api, escalation_policy: default, channels: [log]}]
routes: [{service: api}]
jobs: [{id: backup, service: api, timeout: 2h}]
"""
TOKEN = "bench"
SEVERITIES = tuple(Severity)
PATHS = ("/ui/incidents", "/ui/incidents?page=20", "/ui/incidents/rows",
         "/ui/incidents?service=api&since=2026-01-01", "/ui/incidents?severity=info",
         "/ui/incidents/INC5000", "/ui/oncall", "/ui/oncall/web", "/ui/overrides",
         "/ui/dead-letters", "/ui/jobs", "/ui/jobs/backup", "/ui/health",
         "/ui/fatigue?from=2026-11-06&to=2026-12-05")
DEAD_LETTERS = 1_000


async def fill(engine: Engine, incidents: int, batch: int) -> None:
    for start in range(0, incidents, batch):
        await engine.ingest([Alert(
            summary=f"Disk full on host-{number:05} in the eu-west-2 cluster",
            source="native", severity=SEVERITIES[number % 4], status=Status.FIRING,
            labels={"alertname": "DiskFull", "host": f"host-{number:05}", "team": "storage"})
            for number in range(start, min(incidents, start + batch))])
    dues = await engine.store.read(lambda reader: reader.outbox.due(
        "mail", engine.now(), DEAD_LETTERS))

    def fail(transaction: Transaction) -> None:
        for due in dues:
            transaction.outbox.record(Attempt(
                notification_id=due.notification.id,
                incident_number=due.notification.incident_number, channel="mail",
                target=due.notification.target, event=due.notification.event, attempt=9,
                attempted_at=engine.now(), outcome="failed", error="SMTP 451 try later"))
    await engine.store.write(fail)


async def measure(incidents: int, batch: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        (directory / "config.yaml").write_text(CONFIG)
        store = await Store.open(directory / "router.db")
        engine = Engine(load_config([directory / "config.yaml"]), store,
                        FixedClock(datetime(2026, 12, 5, 12, 0, tzinfo=UTC)))
        began = time.perf_counter()
        await fill(engine, incidents, batch)
        print(f"opened {incidents} incidents in {time.perf_counter() - began:.1f} s\n")
        routes = build_routes(engine, admin_token=TOKEN, pages=page_routes(engine))
        shutdown = trio.Event()
        async with trio.open_nursery() as nursery:
            port = await nursery.start(partial(serve_http, routes, port=0, shutdown=shutdown))
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers={
                    "authorization": f"Bearer {TOKEN}"}) as http:
                await report(http, rounds)
            shutdown.set()
        await store.close()


async def report(http: httpx.AsyncClient, rounds: int) -> None:
    print("| page | median ms | p95 ms | bytes |")
    print("| --- | --- | --- | --- |")
    for path in PATHS:
        timings = []
        for _ in range(rounds):
            began = time.perf_counter()
            answer = await http.get(path)
            timings.append((time.perf_counter() - began) * 1000)
            assert answer.status_code == 200, (path, answer.status_code, answer.text[:200])
        timings.sort()
        p95 = timings[min(len(timings) - 1, int(len(timings) * 0.95))]
        print(f"| `{path}` | {statistics.median(timings):.1f} | {p95:.1f} | "
              f"{len(answer.content):,} |")
    page = await http.get("/ui/incidents")
    static = [await http.get(url) for url in _static_urls(page.text)]
    weight = len(page.content) + sum(len(answer.content) for answer in static)
    print(f"\nfirst page with its stylesheet and script: {weight:,} bytes "
          f"({'under' if weight < 100_000 else 'OVER'} 100 KB)")


def _static_urls(text: str) -> list[str]:
    return re.findall(r'(?:href|src)="(/ui/static/[^"]+)"', text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=30)
    options = parser.parse_args()
    trio.run(measure, options.incidents, options.batch, options.rounds)


if __name__ == "__main__":
    main()
