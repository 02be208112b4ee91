"""Requests/s of server/http.py for a trivial JSON POST endpoint, measured with wrk.

The server runs in a subprocess pinned to core 0 (`taskset -c 0`), wrk on core 1, so the
figure is one Python process on one core, as in issue 4 item 12. `--compare` also measures,
in the same run, the leanest h11 loop (no limits, no timeouts, no routing: the issue's
~9,000 req/s reference), so a figure on a busy machine can be read as a ratio.

    .venv/bin/python bench/bench_http.py [--duration 10] [--connections 50] [--compare]
                                         [--profile out.prof]

Needs `wrk` (Debian: apt-get install wrk) and `taskset` (util-linux).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import re
import signal
import subprocess
import sys
import tempfile
from datetime import timedelta
from functools import partial
from pathlib import Path

import h11
import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from router.server.http import Limits, Request, Response, Routes, serve_http

BODY = json.dumps({"labels": {"alertname": "HighLatency", "service": "api"}, "status": "firing"})
LUA = f"""
wrk.method = "POST"
wrk.body = '{BODY}'
wrk.headers["Content-Type"] = "application/json"
"""


async def accept_alert(request: Request) -> Response:
    alert = json.loads(request.body)
    return Response.json(202, {"status": "accepted", "labels": len(alert["labels"])})


async def serve() -> None:
    """Child: serve POST /v1/alerts on a free port, print it, stop on SIGTERM."""
    routes = Routes()
    routes.add("POST", "/v1/alerts", accept_alert)
    shutdown = trio.Event()
    async with trio.open_nursery() as nursery:
        port = await nursery.start(partial(
            serve_http, routes, host="127.0.0.1", port=0, shutdown=shutdown,
            limits=Limits(grace=timedelta(seconds=1))))
        print(port, flush=True)
        with trio.open_signal_receiver(signal.SIGTERM) as signals:
            async for _ in signals:
                shutdown.set()
                break


async def serve_minimal_connection(stream: trio.SocketStream) -> None:
    """The reference: h11's documented loop and nothing else."""
    conn = h11.Connection(h11.SERVER)
    while True:
        body = b""
        while type(event := conn.next_event()) is not h11.EndOfMessage:
            if event is h11.NEED_DATA:
                conn.receive_data(await stream.receive_some(65536))
            elif type(event) is h11.Data:
                body += event.data
            elif type(event) is h11.ConnectionClosed:
                return
        alert = json.loads(body)
        answer = json.dumps({"status": "accepted", "labels": len(alert["labels"])}).encode()
        headers = [("content-type", "application/json"), ("content-length", str(len(answer)))]
        data = conn.send(h11.Response(status_code=202, headers=headers)) or b""
        data += (conn.send(h11.Data(data=answer)) or b"") + (conn.send(h11.EndOfMessage()) or b"")
        await stream.send_all(data)
        conn.start_next_cycle()


async def serve_minimal() -> None:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    print(listeners[0].socket.getsockname()[1], flush=True)
    with trio.open_signal_receiver(signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(trio.serve_listeners, serve_minimal_connection, listeners)
            async for _ in signals:
                nursery.cancel_scope.cancel()


def run_child(profile: str | None, minimal: bool) -> None:
    if minimal:
        trio.run(serve_minimal)
        return
    if profile is None:
        trio.run(serve)
        return
    profiler = cProfile.Profile()
    profiler.runcall(trio.run, serve)
    profiler.dump_stats(profile)


def measure(duration: int, connections: int, profile: str | None, minimal: bool = False,
            ) -> float:
    command = ["taskset", "-c", "0", sys.executable, __file__, "--child"]
    if profile:
        command += ["--profile", profile]
    if minimal:
        command += ["--minimal"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
            script.write(LUA)
            script.flush()
            wrk = ["taskset", "-c", "1", "wrk", "-t2", f"-c{connections}", f"-d{duration}s",
                   "-s", script.name, f"http://127.0.0.1:{port}/v1/alerts"]
            print(" ".join(wrk))
            output = subprocess.run(wrk, capture_output=True, text=True, check=True).stdout
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    print(output)
    if "Non-2xx" in output or "Socket errors" in output:
        print("warning: wrk saw errors (above)")
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    assert match, output
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--profile", help="write cProfile stats of the server to this file")
    parser.add_argument("--compare", action="store_true",
                        help="also measure the minimal h11 loop, in the same run")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--minimal", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        run_child(arguments.profile, arguments.minimal)
        return
    rate = measure(arguments.duration, arguments.connections, arguments.profile)
    reference = 0.0
    if arguments.compare:
        reference = measure(arguments.duration, arguments.connections, None, minimal=True)
    print(f"router.server.http requests/s: {rate:,.0f}")
    if reference:
        print(f"minimal h11 loop   requests/s: {reference:,.0f} (ours: {rate / reference:.0%})")


if __name__ == "__main__":
    main()
