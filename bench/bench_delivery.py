"""CPU per webhook page of notify's plain-http client, beside httpx (issue 15 item 3).

A plain script (`python bench/bench_delivery.py`). The sink is a child process (asyncio,
answering each POST with 200 and a few headers over kept-alive connections), so its CPU is
not counted. Each measurement is another child process on the `router` package of a
checkout (this one, `--router-source CHECKOUT`, or `--before REV`: that revision's `router/`
exported with `git archive`), which sends PAGES webhook-shaped POSTs (a ~600-byte JSON body,
the headers the webhook channel sends) through `router.notify.transport.Transport`,
`--concurrency` at a time, and reports the process CPU time per page (user + system, from
`time.process_time`: the figure to read on a busy machine) and the pages per second.

Clients: `plain` is the transport as the daemon builds it (plain http goes over its own
client); `httpx` hands the transport an `httpx.AsyncClient`, which it then uses for all;
`parse` times the plain client's answer reader alone (no sockets: the sink's answer handed
to it from memory, best of 5 rounds of 20,000), `router.notify.http_client.read_response`,
or `router.notify.transport._read_response` in a revision before it moved there.
Rounds alternate between the sources and clients; medians of `--runs`.

    .venv/bin/python bench/bench_delivery.py [--pages 5000] [--concurrency 4] [--runs 3]
        [--clients plain httpx parse] [--router-source CHECKOUT] [--before REV]

The figures and how to read them are in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
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
ANSWER = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nServer: sink\r\n"
          b"Date: Sat, 05 Dec 2026 10:00:00 GMT\r\nContent-Length: 11\r\n\r\n{\"ok\":true}")
BODY = json.dumps({
    "version": "1", "event": "trigger", "notification": "n" * 32, "incident": {
        "id": "INC1234", "summary": "High error rate on checkout-api " + "x" * 200,
        "severity": "critical", "state": "triggered", "service": "checkout",
        "labels": {"alertname": "HighErrorRate", "job": "checkout", "instance": "10.0.0.7:9100",
                   "severity": "critical"},
        "opened_at": "2026-12-05T10:00:00+00:00"},
    "acknowledge_url": "https://router.example/ack/INC1234?token=" + "t" * 40,
}).encode()


async def _sink_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter
                           ) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            await reader.readexactly(length)
            writer.write(ANSWER)
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


async def _sink() -> None:
    server = await asyncio.start_server(_sink_connection, "127.0.0.1", 0, backlog=128)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


def child(client: str, port: int, pages: int, concurrency: int) -> dict[str, Any]:
    """One measurement, on whichever `router` package PYTHONPATH put first."""
    from datetime import timedelta

    import httpx
    import trio

    import router
    from router.notify.transport import Transport
    from router.notify.wire import HttpRequest

    request = HttpRequest(
        method="POST", url=f"http://127.0.0.1:{port}/hook", body=BODY, target="webhook:bench",
        headers={"Content-Type": "application/json", "User-Agent": "router/bench",
                 "X-Router-Signature": "sha256=" + "f" * 64,
                 "X-Router-Timestamp": "1796464800"},
        timeout=timedelta(seconds=10))

    async def main() -> dict[str, Any]:
        transport = Transport(httpx.AsyncClient() if client == "httpx" else None)
        failed = 0

        async def sender(count: int) -> None:
            nonlocal failed
            for _ in range(count):
                sent = await transport.send(request)
                failed += sent.status_code != 200
        for _ in range(concurrency):  # warm up: connections open, code paths hot
            await transport.send(request)
        cpu, wall = time.process_time(), time.perf_counter()
        async with trio.open_nursery() as nursery:
            for index in range(concurrency):
                nursery.start_soon(sender, pages // concurrency + (index < pages % concurrency))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        await transport.aclose()
        if failed:
            raise SystemExit(f"{failed} of {pages} pages were not answered 200")
        return {"router": str(Path(router.__file__).parent), "cpu_us_per_page":
                cpu / pages * 1e6, "pages_per_second": pages / wall}

    if client == "parse":
        return {"router": str(Path(router.__file__).parent), **trio.run(_parse)}
    return trio.run(main)


class _Canned:
    """A stream that answers every read with the sink's whole answer."""

    async def receive_some(self, size: int) -> bytes:
        return ANSWER


async def _parse() -> dict[str, float]:
    """CPU µs for the plain client to read one answer, best of 5 rounds."""
    import importlib
    import importlib.util

    if importlib.util.find_spec("router.notify.http_client") is not None:
        reader = importlib.import_module("router.notify.http_client").read_response

        async def read(stream: Any) -> Any:
            return await reader(stream, 16 * 1024 * 1024)
    else:  # before the client had a module of its own
        read = importlib.import_module("router.notify.transport")._read_response
    stream, rounds, best = _Canned(), 20_000, float("inf")
    for _ in range(1000):
        await read(stream)
    for _ in range(5):
        cpu = time.process_time()
        for _ in range(rounds):
            await read(stream)
        best = min(best, (time.process_time() - cpu) / rounds * 1e6)
    return {"cpu_us_per_page": best, "pages_per_second": 1e6 / best}


def measure(source: Path, client: str, port: int, pages: int, concurrency: int
            ) -> dict[str, Any]:
    return children.measure(__file__, source, client, port, pages, concurrency)


def main() -> None:
    if sys.argv[1:2] == ["--sink"]:
        asyncio.run(_sink())
        return
    if len(sys.argv) == 6 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], *map(int, sys.argv[3:]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clients", nargs="+", choices=("plain", "httpx", "parse"),
                        default=["plain", "httpx"])
    parser.add_argument("--router-source", type=Path, default=ROOT)
    parser.add_argument("--before", metavar="REV",
                        help="also measure this git revision's router/ (e.g. the commit "
                             "before a change to the client)")
    arguments = parser.parse_args()
    sink = subprocess.Popen([sys.executable, __file__, "--sink"], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert sink.stdout is not None
        port = int(sink.stdout.readline())
        with tempfile.TemporaryDirectory(prefix="bench-delivery-source-") as directory:
            sources = [("after" if arguments.before else "router",
                        arguments.router_source.resolve())]
            if arguments.before:
                sources.insert(0, ("before", children.exported(arguments.before, Path(directory))))
            report(arguments, sources, port)
    finally:
        sink.terminate()
        sink.wait()


def report(arguments: argparse.Namespace, sources: list[tuple[str, Path]], port: int) -> None:
    print(f"{arguments.pages:,} pages a run, {arguments.concurrency} at a time, "
          f"{arguments.runs} alternated runs; python {sys.version.split()[0]}", flush=True)
    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for _ in range(arguments.runs):
        for label, source in sources:
            for client in arguments.clients:
                results.setdefault((label, client), []).append(measure(
                    source, client, port, arguments.pages, arguments.concurrency))
    for (label, client), found in results.items():
        cpu = sorted(result["cpu_us_per_page"] for result in found)
        rate = statistics.median(result["pages_per_second"] for result in found)
        print(f"{label:>7} {client:>6}: CPU {statistics.median(cpu):7.1f} µs/page "
              f"(runs {', '.join(f'{value:.1f}' for value in cpu)}), {rate:7.0f} pages/s",
              flush=True)


if __name__ == "__main__":
    main()
