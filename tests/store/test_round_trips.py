"""Round trips to PostgreSQL of an alert and of a page (issue 18 item 6): what the store on
PostgreSQL costs per alert is mostly its round trips (each one a wait and psycopg's work
for a statement), so their number is held here.

The store talks to the server through `Relay`, a TCP relay on loopback that counts round
trips as the server sees them: a message from the client after an answer (or the first
on a connection) starts one; statements sent together (a pipeline, several statements in one
query) are one. The engine is the real one, on a config with a channel and a rota, so a new
alert writes what it writes in production: its incident, alert row, timeline, notifications
and timers.
"""

from __future__ import annotations

import itertools
import socket
import textwrap
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from router.alerts.model import Alert, Severity
from router.clock import FixedClock
from router.config import load_config
from router.engine import Engine
from router.store import interface, postgres
from router.store.values import Attempt

NOW = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)
CONFIG = """
settings: {timezone: Europe/Berlin}
people:
  - id: alice
    contact_methods: [{type: email, address: alice@example.com}]
channels:
  - {id: log, type: log}
  - {id: mail, type: email, host: localhost, from: router@example.com}
rotas:
  - id: primary
    timezone: Europe/Berlin
    layers: [{members: [alice], every: 1w, handoff: "09:00", start: 2026-01-05}]
escalation_policies:
  - id: default
    levels: [{targets: [{rota: primary}], delay: 15m}]
services:
  - {id: api, escalation_policy: default, channels: [log]}
routes:
  - {name: everything, service: api}
"""
FLUSH = b"H\x00\x00\x00\x04"
"""The protocol's Flush message alone: psycopg sends it after a pipeline's Sync, without
waiting for an answer first, so it continues the round trip the Sync began."""


class Relay:
    """A TCP relay to the server that counts round trips (see the module) and connections."""

    def __init__(self, host: str, port: int) -> None:
        self._server = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self.round_trips = 0
        self.connections = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:  # closed
                return
            server = socket.create_connection(self._server)
            with self._lock:
                self.connections += 1
            answered = [True]
            threading.Thread(target=self._forward, args=(client, server, answered, True),
                             daemon=True).start()
            threading.Thread(target=self._forward, args=(server, client, answered, False),
                             daemon=True).start()

    def _forward(self, source: socket.socket, target: socket.socket, answered: list[bool],
                 asking: bool) -> None:
        with source, target:
            while data := _receive(source):
                if not asking:
                    answered[0] = True  # before the client can see the answer
                elif answered[0] and data != FLUSH:
                    answered[0] = False
                    with self._lock:
                        self.round_trips += 1
                try:
                    target.sendall(data)
                except OSError:
                    return


def _receive(source: socket.socket) -> bytes:
    try:
        return source.recv(65536)
    except OSError:
        return b""


@pytest.fixture
def relay(postgres_url: str) -> Iterator[Relay]:
    parts = urlsplit(postgres_url)
    assert parts.hostname is not None and parts.port is not None
    relayed = Relay(parts.hostname, parts.port)
    yield relayed
    relayed.close()


@pytest.fixture
async def engine(relay: Relay, postgres_url: str, tmp_path: Path) -> AsyncIterator[Engine]:
    parts = urlsplit(postgres_url)
    url = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{relay.port}"))
    store = await postgres.Store.open(url)
    (tmp_path / "config.yaml").write_text(textwrap.dedent(CONFIG))
    counter = itertools.count(1)
    yield Engine(load_config([tmp_path / "config.yaml"]), store, FixedClock(NOW),
                 new_id=lambda: f"n{next(counter)}")
    await store.close()


def alert(instance: str) -> Alert:
    return Alert(summary="p99 latency over 500ms", source="alertmanager",
                 severity=Severity.WARNING, dedup_key=f"fp-{instance}",
                 labels={"alertname": "HighLatency", "job": "api", "instance": instance})


async def page(store: interface.Store) -> None:
    """What the deliverer does for a page: read what is due, claim it in a unit, send it
    (to the log: no round trip), record the attempt in a unit."""
    [due] = await store.read(lambda reader: reader.outbox.due("log", NOW, 10, node="one"))
    [claimed] = await store.write(lambda transaction: transaction.outbox.claim(
        "log", NOW, 10, "one", LEASE))
    notification = claimed.notification
    assert notification.id == due.notification.id
    attempt = Attempt(notification_id=notification.id,
                      incident_number=notification.incident_number, channel="log",
                      target=notification.target, event=notification.event, attempt=1,
                      attempted_at=NOW, outcome="delivered")
    await store.write(lambda transaction: transaction.outbox.record(attempt))


async def counted(relay: Relay, action: Callable[[], object]) -> int:
    """The round trips `action` (a coroutine function) made; it must open no connection
    (the counts are of steady work, not of a connection's start)."""
    connections, before = relay.connections, relay.round_trips
    await action()  # type: ignore[misc]
    assert relay.connections == connections
    return relay.round_trips - before


async def test_round_trips_of_an_alert_and_a_page(engine: Engine, relay: Relay) -> None:
    """One new alert (a unit alone in its commit), one repeat of it, one page's claim and
    record. Warmed up first: psycopg prepares a statement at its fifth use, which is one
    more round trip, once per connection."""
    for index in range(8):
        await engine.ingest([alert(f"warm-{index}")])
        await engine.ingest([alert(f"warm-{index}")])
        await page(engine.store)
    new = await counted(relay, lambda: engine.ingest([alert("new")]))
    repeat = await counted(relay, lambda: engine.ingest([alert("new")]))
    paged = await counted(relay, lambda: page(engine.store))
    print(f"round trips: new alert {new}, repeat {repeat}, claim+send+record {paged}")
    assert (new, repeat, paged) == (6, 4, 10)
