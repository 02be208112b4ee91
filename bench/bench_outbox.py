"""A healthy channel's delivery rate beside a slow channel's backlog (issue 13 item 5).

A plain script (`python bench/bench_outbox.py`, or `make bench`). Each measurement runs in a
child process on the `router` package of a checkout (this one, `--router-source CHECKOUT`, or
`--before REV`: that revision's `router/` exported with `git archive` into a temporary
directory), so the due query before and after the per-channel index run the same bench:

- a real store in a temporary directory on disk (WAL, synchronous=FULL, as the daemon runs);
- BACKLOG notifications (0 and 100,000 by default) due now on the channel `slow`, whose
  receiver never answers: its 4 sends hang, so every row of its backlog stays due;
- PAGES notifications (default 3,000) on the channel `fast`, whose receiver answers 200 at
  once (a stand-in transport: no HTTP, so the figure is the deliverer and the store alone);
- the real Deliverer (its dispatcher, lanes, `outbox.due` and `outbox.record`), timed from
  the first pass until the last `fast` page is recorded as delivered.

The figure is `fast` pages delivered per second; `pass_ms` is what one `outbox.due` for
`fast` costs with the backlog in place (the median of 200 calls on the read connection).

    .venv/bin/python bench/bench_outbox.py [--backlog 0 100000] [--pages 3000] [--runs 3]
        [--router-source CHECKOUT] [--before REV]

The figures and how to read them are in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import children  # the sibling module: children on a checkout, exported revisions

ROOT = Path(__file__).resolve().parent.parent

CONFIG = """
channels:
  - {id: fast, type: webhook, url: "http://fast.invalid/", retry_for: 1h}
  - {id: slow, type: webhook, url: "http://slow.invalid/", retry_for: 1h, timeout: 10m}
services:
  - {id: api, channels: [fast]}
routes:
  - service: api
"""


def child(backlog: int, pages: int) -> dict[str, Any]:
    """One measurement, on whichever `router` package PYTHONPATH put first."""
    import trio

    import router
    from router.alerts.model import Notification
    from router.clock import SystemClock
    from router.config import load_config
    from router.notify.deliver import Deliverer
    from router.notify.transport import Sent, Transport
    from router.notify.wire import HttpResponse
    from router.store import Store, Transaction

    class Receivers(Transport):
        """`fast` answers 200 at once; `slow` never answers."""

        async def send(self, request: Any) -> Sent:
            if "slow" in request.url:
                await trio.sleep_forever()
            return Sent(HttpResponse(status=200, headers={}, body=b""), None, 0.1)

    async def main(directory: Path) -> dict[str, Any]:
        (directory / "config").mkdir()
        (directory / "config" / "router.yaml").write_text(CONFIG)
        config = load_config([directory / "config"])
        store = await Store.open(directory / "router.db")
        clock = SystemClock()
        now = clock.now()

        def notifications(channel: str, count: int, start: int) -> list[Notification]:
            return [Notification(id=f"{channel}-{index:07d}", incident_number=start + index,
                                 channel=channel, target=f"channel:{channel}", address="",
                                 event="trigger", created_at=now)
                    for index in range(count)]

        def fill(transaction: Transaction) -> None:
            transaction.add_notifications(notifications("slow", backlog, 1))
        await store.write(fill)

        def one_pass(reader: Any) -> float:
            timings = []
            for _ in range(200):
                started = time.perf_counter()
                reader.outbox.due("fast", clock.now(), 4)
                timings.append(time.perf_counter() - started)
            return statistics.median(timings) * 1000
        pass_ms = await store.read(one_pass)

        transport = Receivers()
        deliverer = Deliverer(store, clock, lambda: config, transport)
        delivered = 0
        finished = trio.Event()

        def on_attempt(attempt: Any) -> None:
            nonlocal delivered
            if attempt.channel == "fast" and attempt.outcome == "delivered":
                delivered += 1
                if delivered == pages:
                    finished.set()
        deliverer.on_attempt = on_attempt

        def add_pages(transaction: Transaction) -> None:
            transaction.add_notifications(notifications("fast", pages, backlog + 1))
        await store.write(add_pages)
        async with trio.open_nursery() as nursery:
            started = time.perf_counter()
            await nursery.start(deliverer.run)
            with trio.fail_after(600):
                await finished.wait()
            seconds = time.perf_counter() - started
            nursery.cancel_scope.cancel()
        await store.close()
        return {"router": str(Path(router.__file__).parent), "backlog": backlog,
                "pages": pages, "seconds": round(seconds, 3),
                "pages_per_second": round(pages / seconds, 1), "pass_ms": round(pass_ms, 3)}

    with tempfile.TemporaryDirectory(prefix="bench-outbox-") as directory:
        return trio.run(main, Path(directory))


def measure(source: Path, backlog: int, pages: int) -> dict[str, Any]:
    return children.measure(__file__, source, backlog, pages)


def report(label: str, source: Path, backlogs: list[int], pages: int, runs: int) -> None:
    for backlog in backlogs:
        results = [measure(source, backlog, pages) for _ in range(runs)]
        rates = sorted(result["pages_per_second"] for result in results)
        passes = sorted(result["pass_ms"] for result in results)
        median = statistics.median(rates)
        print(f"{label:>7}  backlog {backlog:>7,}  fast pages/s median {median:7.1f}"
              f" (runs {', '.join(f'{rate:.1f}' for rate in rates)})"
              f"  one due pass {statistics.median(passes):7.3f} ms", flush=True)


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        print(json.dumps(child(int(sys.argv[2]), int(sys.argv[3]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, nargs="+", default=[0, 100_000])
    parser.add_argument("--pages", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--router-source", type=Path, default=ROOT)
    parser.add_argument("--before", metavar="REV",
                        help="also measure this git revision's router/ (e.g. the commit "
                             "before the index)")
    arguments = parser.parse_args()
    print(f"{arguments.pages:,} pages on `fast`; `slow` never answers; "
          f"{arguments.runs} runs each; python {sys.version.split()[0]}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-outbox-source-") as directory:
        if arguments.before:
            report("before", children.exported(arguments.before, Path(directory)),
                   arguments.backlog, arguments.pages, arguments.runs)
        report("after" if arguments.before else "router", arguments.router_source.resolve(),
               arguments.backlog, arguments.pages, arguments.runs)


if __name__ == "__main__":
    main()
