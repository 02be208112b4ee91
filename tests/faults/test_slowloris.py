"""The fault suite: slowloris, against `router run` as a subprocess.

500 connections hold the daemon's slots the slow way: half send the start of a request head
and then one more header line every 2 s, never finishing it; half send nothing at all. Each
must be answered 408 once the head timeout (10 s) has passed, and read its answer (the
trickling ones get a lingering close, not a reset), while `/healthz` and ingest, polled on
fresh connections throughout, keep answering (`/healthz` within 1 s, ingest within 5 s:
each alert waits for its commit's fsync).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import httpx
import pytest
import trio

from tests.e2e.conftest import Daemon, Daemons

SLOW = 500
TRICKLE_EVERY = 2.0  # seconds between a slow client's header lines
HEALTH_PROMPT = 1.0  # seconds: the longest /healthz may take while they hang on
INGEST_PROMPT = 5.0  # an ingest also waits for its commit's fsync, on a disk others share


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    daemons = Daemons(tmp_path)
    try:
        yield daemons.start()
    finally:
        daemons.close()


async def read_until_eof(stream: trio.SocketStream) -> bytes:
    chunks = []
    while chunk := await stream.receive_some():
        chunks.append(chunk)
    return b"".join(chunks)


async def trickle(stream: trio.SocketStream) -> None:
    try:
        await stream.send_all(b"POST /v1/alerts HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        while True:
            await trio.sleep(TRICKLE_EVERY)
            await stream.send_all(b"X-Slow: 1\r\n")
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass  # the server closed its side for good


async def slow_client(port: int, trickling: bool, answers: list[bytes]) -> None:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream, trio.open_nursery() as nursery:
        if trickling:
            nursery.start_soon(trickle, stream)
        answers.append(await read_until_eof(stream))
        nursery.cancel_scope.cancel()


def poll(base_url: str, stop: threading.Event, latencies: dict[str, list[float]],
         problems: list[str]) -> None:
    """/healthz and one small alert, each on a fresh connection, every 200 ms, until `stop`.

    In a thread of its own with a blocking client: what it times is the daemon's answer. On
    the test's event loop it also timed the loop's own turns, crowded by the 500 slow
    clients (their connects at the start, their 408s at the end), which a busy machine
    stretches past the daemon's promise."""
    number = 0
    while not stop.is_set():
        number += 1
        with httpx.Client(base_url=base_url, timeout=10.0, trust_env=False) as http:
            start = time.monotonic()
            health = http.get("/healthz")
            latencies["health"].append(time.monotonic() - start)
            start = time.monotonic()
            alert = http.post("/v1/alerts", json={
                "summary": f"poll {number}", "labels": {"alertname": "Poll", "n": str(number)}})
            latencies["ingest"].append(time.monotonic() - start)
        if (health.status_code, alert.status_code) != (200, 202):
            problems.append(f"poll {number}: {health.status_code}, {alert.status_code}")
        stop.wait(0.2)


async def test_slow_connections_get_408_while_health_and_ingest_answer(
        daemon: Daemon) -> None:
    answers: list[bytes] = []
    latencies: dict[str, list[float]] = {"health": [], "ingest": []}
    problems: list[str] = []
    stop = threading.Event()
    started = time.monotonic()
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(partial(trio.to_thread.run_sync, poll, daemon.base_url, stop,
                                       latencies, problems))
            try:
                async with trio.open_nursery() as slow:
                    for number in range(SLOW):
                        slow.start_soon(slow_client, daemon.port, number % 2 == 0, answers)
            finally:
                stop.set()
    took = time.monotonic() - started
    statuses = sorted({answer.split(b"\r\n", 1)[0] for answer in answers})
    assert (len(answers), statuses) == (SLOW, [b"HTTP/1.1 408 Request Timeout"])
    assert all(answer.endswith(b'{"error":"request head not received in time"}')
               for answer in answers)
    assert 9 < took < 25, f"the slow connections were answered after {took:.1f} s"
    assert problems == []
    health, ingest = latencies["health"], latencies["ingest"]
    assert len(health) >= math.floor(9 / (0.2 + HEALTH_PROMPT)), "the poller hardly ran"
    assert max(health) < HEALTH_PROMPT, f"a /healthz took {max(health):.2f} s"
    assert max(ingest) < INGEST_PROMPT, f"an ingest took {max(ingest):.2f} s"
