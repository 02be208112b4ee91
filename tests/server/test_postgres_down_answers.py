"""What ingest's 503 and /readyz say while PostgreSQL is down (issue 18): the pool's words,
"couldn't get a connection after 5.00 sec", said neither what nor where. They say "no
connection to PostgreSQL at HOST:PORT/DB (why)", never the password. Real loopback HTTP to
an in-process server, a PostgreSQL server of the test's own, stopped mid-test."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import httpx
import psycopg
import pytest
import trio

from router.clock import FixedClock
from router.config import load_config
from router.engine import Engine
from router.server.api import build_routes
from router.server.http import serve_http
from router.store.postgres import Store
from tests import postgres_server

CONFIG = """
channels:
  - {id: log, type: log}
services:
  - {id: api, channels: [log]}
routes:
  - service: api
"""
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
ALERT = {"summary": "Disk full", "severity": "critical", "labels": {"alertname": "DiskFull"}}


@pytest.fixture
def server() -> Iterator[postgres_server.Cluster]:
    cluster = postgres_server.start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(cluster.directory, ignore_errors=True)


async def test_the_503_names_the_server_that_cannot_be_reached_not_the_pool(
        server: postgres_server.Cluster, tmp_path: Path) -> None:
    url = server.create_database()
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("ALTER ROLE router PASSWORD 'hunter2'")
    parts = psycopg.conninfo.conninfo_to_dict(url)
    place = f"{parts['host']}:{parts['port']}/{parts['dbname']}"
    (tmp_path / "config.yaml").write_text(textwrap.dedent(CONFIG))
    store = await Store.open(psycopg.conninfo.make_conninfo(url, password="hunter2"),
                             wait=1.0)
    engine = Engine(load_config([tmp_path / "config.yaml"]), store, FixedClock(NOW))
    shutdown = trio.Event()
    try:
        async with trio.open_nursery() as nursery:
            port = await nursery.start(partial(serve_http, build_routes(engine), port=0,
                                               shutdown=shutdown))
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}",
                                         timeout=30) as http:
                assert (await http.post("/v1/alerts", json=ALERT)).status_code == 202
                await trio.to_thread.run_sync(partial(
                    server.run, "pg_ctl", "stop", "-D", str(server.directory / "data"),
                    "-m", "fast", "-w"))
                answers = [await http.post("/v1/alerts", json=ALERT) for _ in range(3)]
                await trio.sleep(1.1)  # past the store's probe interval: readyz tries
                answers.append(await http.get("/readyz"))
            shutdown.set()
    finally:
        await store.close()
    for answer in answers:
        assert answer.status_code == 503
        error = answer.json()["error"]
        assert error.startswith(f"the store cannot write: no connection to PostgreSQL at "
                                f"{place} ("), error
        assert "couldn't get a connection" not in error
        assert "hunter2" not in error
