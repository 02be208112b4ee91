"""CPU per page of the deliverer's own work: render and send one notification (issue 15 item 3).

A plain script (`python bench/bench_pages.py`). Each measurement is a child process on the
`router` package of a checkout (this one, `--router-source CHECKOUT`, or `--before REV`: that
revision's `router/` exported with `git archive`) that calls `router.notify.deliver.ship`,
what the deliverer runs for every page (the message built from the templates, the channel's
request, the send), then `router.notify.recorder.log_attempt`, the delivery's log line the
recorder writes for it, PAGES times through one channel, and reports the process CPU time
per page (user + system, from `time.process_time`: the figure to read on a busy machine).
The daemon's JSON log is configured as `router run` does, written to /dev/null.

Channels:
- `log`: the log channel with the default templates (a page is one JSON log line);
- `webhook`: the webhook channel with its default body, POSTed to a sink child process
  (bench_delivery.py's, answering 200 over kept-alive connections; its CPU is not counted);
- `custom`: a log channel with its own title and text templates (Jinja2, in the sandbox).
Scenarios: `new`, a new incident for every page (case a of bench_ingest.py), and `same`,
every page about one incident that did not change (retries, the people of one level).
Rounds alternate between the sources; medians of `--runs`.

    .venv/bin/python bench/bench_pages.py [--pages 3000] [--runs 3] [--before REV]
        [--router-source CHECKOUT] [--channels log webhook custom] [--scenarios new same]

The figures are in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import children  # the sibling module: children on a checkout, exported revisions

ROOT = Path(__file__).resolve().parent.parent
CONFIG = """
channels:
  - {id: log, type: log, level: info}
  - {id: webhook, type: webhook, url: "http://127.0.0.1:PORT/hook"}
  - id: custom
    type: log
    templates:
      title: "{{ incident.id }} {{ incident.severity | upper }}: {{ incident.summary }}"
      text: |
        {{ incident.summary }} ({{ incident.alert_count }} alerts, level {{ incident.level }})
        {% for name, value in incident.labels | dictsort %}{{ name }}={{ value }} {% endfor %}
        {{ incident_url }}
services:
  - {id: checkout, name: Checkout, description: the shop's checkout API,
     channels: [log, webhook, custom]}
routes:
  - service: checkout
"""


def child(channel_id: str, scenario: str, port: int, pages: int) -> dict[str, Any]:
    """One measurement, on whichever `router` package PYTHONPATH put first."""
    import inspect
    import os
    from datetime import UTC, datetime

    import trio

    import router
    from router.alerts.model import Incident, IncidentState, Notification, Severity
    from router.config import load_config
    from router.daemon import logs
    from router.notify import CHANNELS
    from router.notify.deliver import ship
    from router.notify.recorder import log_attempt
    from router.notify.transport import Transport
    from router.store.outbox import Attempt

    with tempfile.TemporaryDirectory(prefix="bench-pages-") as directory:
        (Path(directory) / "router.yaml").write_text(CONFIG.replace("PORT", str(port)))
        config = load_config([Path(directory)], environ={})
    logs.configure(form="json", stream=open(os.devnull, "w"))  # noqa: SIM115 (till exit)
    channel = config.channels[channel_id]
    module = CHANNELS[channel.type]
    extra: dict[str, Any] = {}
    if "rendered" in inspect.signature(ship).parameters:  # the deliverer's render cache
        extra["rendered"] = render_cache()
    now = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)

    def page(number: int) -> tuple[Notification, Incident]:
        incident = Incident(
            number=number, dedup_key=f"x{number:016x}", service="checkout",
            summary=f"High error rate on checkout-api instance {number}",
            severity=Severity.CRITICAL, state=IncidentState.TRIGGERED, opened_at=now,
            updated_at=now, source="alertmanager", level=1,
            labels={"alertname": "HighErrorRate", "job": "checkout",
                    "instance": f"10.0.{number // 250}.{number % 250}:9100",
                    "severity": "critical"})
        notification = Notification(
            id=f"01JBENCH{number:018d}", incident_number=number, channel=channel_id,
            target=f"channel:{channel_id}", address="", event="trigger", created_at=now)
        return notification, incident

    work = [page(number if scenario == "new" else 1) for number in range(1, pages + 1)]

    async def main() -> dict[str, Any]:
        transport = Transport()
        for notification, incident in [page(pages + index) for index in range(1, 201)]:
            await ship(transport, channel, module, config, notification, incident, now=now,
                       **extra)  # warm up: connections open, code paths hot
        cpu = time.process_time()
        for notification, incident in work:
            shipped = await ship(transport, channel, module, config, notification, incident,
                                 now=now, **extra)
            if shipped.outcome.kind != "ok" or shipped.sent is None:
                raise SystemExit(f"a page was not delivered: {shipped.outcome}")
            log_attempt(Attempt(
                notification_id=notification.id, incident_number=incident.number,
                channel=channel_id, target=shipped.target, event=notification.event,
                attempt=1, attempted_at=now, outcome="delivered",
                status_code=shipped.sent.status_code, latency_ms=shipped.sent.latency_ms),
                None, "4bf92f3577b34da6a3ce929d0e0e4736")
        cpu = time.process_time() - cpu
        await transport.aclose()
        return {"router": str(Path(router.__file__).parent),
                "cpu_us_per_page": cpu / pages * 1e6}

    return trio.run(main)


def render_cache() -> Any:
    from router.notify.rendering import RenderCache  # absent before issue 15 item 3

    return RenderCache()


def main() -> None:
    if len(sys.argv) == 6 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], sys.argv[3], *map(int, sys.argv[4:]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--channels", nargs="+", choices=("log", "webhook", "custom"),
                        default=["log", "webhook", "custom"])
    parser.add_argument("--scenarios", nargs="+", choices=("new", "same"),
                        default=["new", "same"])
    parser.add_argument("--router-source", type=Path, default=ROOT)
    parser.add_argument("--before", metavar="REV",
                        help="also measure this git revision's router/ (e.g. main's head)")
    arguments = parser.parse_args()
    sink = subprocess.Popen([sys.executable, str(Path(__file__).parent / "bench_delivery.py"),
                             "--sink"], stdout=subprocess.PIPE, text=True)
    try:
        assert sink.stdout is not None
        port = int(sink.stdout.readline())
        with tempfile.TemporaryDirectory(prefix="bench-pages-source-") as directory:
            sources = [("after" if arguments.before else "router",
                        arguments.router_source.resolve())]
            if arguments.before:
                sources.insert(0, ("before", children.exported(arguments.before,
                                                               Path(directory))))
            report(arguments, sources, port)
    finally:
        sink.terminate()
        sink.wait()


def report(arguments: argparse.Namespace, sources: list[tuple[str, Path]], port: int) -> None:
    print(f"{arguments.pages:,} pages a run, {arguments.runs} alternated runs; "
          f"python {sys.version.split()[0]}", flush=True)
    results: dict[tuple[str, str, str], list[float]] = {}
    for _ in range(arguments.runs):
        for channel in arguments.channels:
            for scenario in arguments.scenarios:
                for label, source in sources:
                    found = children.measure(__file__, source, channel, scenario, port,
                                             arguments.pages)
                    results.setdefault((channel, scenario, label), []).append(
                        found["cpu_us_per_page"])
    print("| channel | incidents | " + " | ".join(f"{label} CPU µs/page (runs)"
                                                 for label, _ in sources) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in sources) + " |")
    for channel in arguments.channels:
        for scenario in arguments.scenarios:
            cells = []
            for label, _ in sources:
                runs = results[(channel, scenario, label)]
                cells.append(f"{statistics.median(runs):,.0f} ("
                             + " / ".join(f"{run:,.0f}" for run in runs) + ")")
            print(f"| {channel} | {scenario} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
