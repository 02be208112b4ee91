"""Requests/s and CPU per request of server/http.py for a trivial JSON POST endpoint, beside
the leanest trio + httptools loop doing the same work, measured with wrk in the same run.

Each server runs in a subprocess pinned to core 0 (`taskset -c 0`), wrk on core 1 (keep-alive,
50 connections by default), so a figure is one Python process on one core. Rounds alternate
(router, minimal, router, minimal, ...) and the table shows the median of each; CPU µs per
request is the server process's utime + stime over the round (/proc/PID/stat) divided by the
requests wrk counted. The minimal loop (no limits, no deadlines, no routing) is the ceiling
issue 15 holds router to: within 80% of it. The load average before the run is printed, since
on a shared machine both figures fall, and their ratio less.

    .venv/bin/python bench/bench_http.py [--duration 10] [--connections 50] [--rounds 3]
                                         [--profile out.prof]

Needs `wrk` (Debian: apt-get install wrk) and `taskset` (util-linux).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path

import httptools
import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from router.server.http import Limits, Request, Response, Routes, serve_http

BODY = json.dumps({"labels": {"alertname": "HighLatency", "service": "api"}, "status": "firing"})
LUA = f"""
wrk.method = "POST"
wrk.body = '{BODY}'
wrk.headers["Content-Type"] = "application/json"
"""
TICKS = os.sysconf("SC_CLK_TCK")


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


class MinimalRequest:
    """The reference's parser callbacks: the body, and whether a request is complete."""

    def __init__(self) -> None:
        self.body: list[bytes] = []
        self.complete: list[bytes] = []

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete.append(b"".join(self.body))
        self.body = []


async def serve_minimal_connection(stream: trio.SocketStream) -> None:
    """The reference: httptools' parser on trio and nothing else (no limits, no deadlines,
    no routing, no Date), answering the same JSON as router's handler."""
    state = MinimalRequest()
    parser = httptools.HttpRequestParser(state)
    try:
        while data := await stream.receive_some(65536):
            parser.feed_data(data)
            answers = []
            for body in state.complete:
                alert = json.loads(body)
                answer = json.dumps({"status": "accepted", "labels": len(alert["labels"])},
                                    separators=(",", ":")).encode()
                answers.append(b"HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\n"
                               b"content-length: %d\r\n\r\n%s" % (len(answer), answer))
            state.complete.clear()
            if answers:
                await stream.send_all(b"".join(answers))
    except (trio.BrokenResourceError, httptools.HttpParserError):
        pass


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


@dataclass(frozen=True)
class Round:
    rate: float  # requests/s, as wrk reports it
    cpu_us: float  # server CPU (user + system) per request


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (fields 14 and 15 of /proc/PID/stat, after the name)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def measure(duration: int, connections: int, profile: str | None, minimal: bool) -> Round:
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
            before = cpu_seconds(server.pid)
            output = subprocess.run(wrk, capture_output=True, text=True, check=True).stdout
            used = cpu_seconds(server.pid) - before
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    if "Non-2xx" in output or "Socket errors" in output:
        print(output)
        print("warning: wrk saw errors (above)")
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    count = re.search(r"(\d+) requests in", output)
    assert rate and count, output
    return Round(float(rate.group(1)), used * 1e6 / int(count.group(1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", help="write cProfile stats of router's server (first "
                        "round only) to this file")
    parser.add_argument("--compare", action="store_true",
                        help="accepted for `make bench`: the minimal loop is always measured")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--minimal", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        run_child(arguments.profile, arguments.minimal)
        return
    print("load average before the run: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    results: dict[str, list[Round]] = {"router.server.http": [], "minimal trio + httptools": []}
    for number in range(arguments.rounds):
        for name in results:
            profile = arguments.profile if number == 0 and name.startswith("router") else None
            result = measure(arguments.duration, arguments.connections, profile,
                             minimal=name.startswith("minimal"))
            print(f"round {number + 1}: {name}: {result.rate:,.0f} requests/s, "
                  f"{result.cpu_us:.1f} µs CPU a request", flush=True)
            results[name].append(result)
    print("load average after the run: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    medians = {name: (statistics.median(r.rate for r in rounds),
                      statistics.median(r.cpu_us for r in rounds))
               for name, rounds in results.items()}
    reference = medians["minimal trio + httptools"][0]
    print(f"\n| HTTP layer on trio (median of {arguments.rounds}) | requests/s | "
          "CPU µs/request | of the minimal loop |\n| --- | --- | --- | --- |")
    for name, (rate, cpu) in medians.items():
        print(f"| {name} | {rate:,.0f} | {cpu:.1f} | {rate / reference:.0%} |")


if __name__ == "__main__":
    main()
