"""The PostgreSQL store while its server is down (issue 18 items 3 and 5): once it knows, it
answers StoreUnavailable at once instead of waiting for a connection the pool cannot make (a
sender such as Prometheus gives up after 10 s), tries the server at most every PROBE_EVERY
seconds, and notices its return within about a second. On a server of its own, since the test
stops it."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator

import pytest
import trio

from router.errors import StoreUnavailable
from router.store import interface
from router.store.postgres import Store
from router.store.sqlite import PROBE_EVERY
from tests import postgres_server

WAIT = 2.0
"""Seconds the store waits for a connection (`wait`), far more than an answer may take."""
AT_ONCE = 0.5
"""Seconds within which a store that knows the server is down answers."""


@pytest.fixture
def server() -> Iterator[postgres_server.Cluster]:
    cluster = postgres_server.start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(cluster.directory, ignore_errors=True)


def nothing(transaction: interface.Transaction) -> None:
    """A unit that writes nothing: the transaction still needs a connection."""


async def timed_failure(call: object) -> float:
    """Seconds `call` (an awaitable) took to raise StoreUnavailable."""
    began = time.monotonic()
    with pytest.raises(StoreUnavailable):
        await call  # type: ignore[misc]
    return time.monotonic() - began


async def test_a_store_that_knows_the_server_is_down_answers_at_once(
        server: postgres_server.Cluster) -> None:
    store = await Store.open(server.create_database(), wait=WAIT)
    try:
        await store.write(nothing)
        await store.read(lambda reader: reader.incidents())
        server.run("pg_ctl", "stop", "-D", str(server.directory / "data"), "-m", "fast", "-w")

        # The first call finds out (it may wait for the connection); every later one is
        # answered at once, reads and writes alike, with a probe every PROBE_EVERY seconds.
        assert await timed_failure(store.write(nothing)) <= 2 * WAIT + 1.0
        took = []
        for _ in range(8):
            took.append(await timed_failure(store.write(nothing)))
            took.append(await timed_failure(store.read(lambda reader: reader.incidents())))
            await trio.sleep(PROBE_EVERY / 2)
        assert max(took) < AT_ONCE, took
        assert await store.check_writable() is not None

        server.run("pg_ctl", "restart", "-D", str(server.directory / "data"), "-w", "-t",
                   "60", "-l", str(server.directory / "server.log"))
        started = time.monotonic()
        while await store.check_writable() is not None:
            assert time.monotonic() - started < 3 * PROBE_EVERY, "not back"
            await trio.sleep(0.1)
        print(f"writable again {time.monotonic() - started:.2f} s after the start; "
              f"while down, calls took at most {max(took):.3f} s")
        await store.write(nothing)
        await store.read(lambda reader: reader.incidents())
    finally:
        await store.close()
