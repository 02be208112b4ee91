"""`router heartbeats`, run through the CLI's `main` against an inline config and a real
SQLite store seeded by the engine: each heartbeat's state, expectation, last ping and
deadline, as a table and as JSON, never its token."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import trio

from router.clock import FixedClock
from router.config import load_config
from router.core.heartbeats import Ping, Signal
from router.engine import Engine
from router.store import DATABASE_NAME, Store
from tests.cli.conftest import run, write_config

TOKEN = "0123456789abcdef0123"
CONFIG = f"""
services: [{{id: backups}}]
heartbeats:
  - {{id: backup, service: backups, period: 1h30m, grace: 10m, token: {TOKEN}}}
  - {{id: nightly, service: backups, schedule: '30 2 * * *', token: {TOKEN}}}
"""
NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def seed(config: Path, state: Path) -> None:
    async def work() -> None:
        store = await Store.open(state / DATABASE_NAME)
        try:
            engine = Engine(load_config([config]), store, FixedClock(NOW))
            await engine.schedule_heartbeats()
            heartbeat = engine.heartbeats.identify("backup", TOKEN)
            await engine.heartbeats.ping(heartbeat, Ping(signal=Signal.FAILURE, exit_code=2))
        finally:
            await store.close()

    trio.run(work)


def test_the_list_shows_state_last_ping_and_deadline(tmp_path: Path, state: Path) -> None:
    config = write_config(tmp_path, CONFIG)
    seed(config, state)
    code, out, err = run("heartbeats", "--config", str(config), "--state", str(state))
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "HEARTBEAT  SERVICE  STATE   EXPECTED     LAST PING             SAID     DEADLINE",
        "backup     backups  failed  every 1h30m  2026-12-05T09:00:00Z  failure  -",
        "nightly    backups  new     30 2 * * *   -                     -        "
        "2026-12-06T02:35:00Z",
    ]
    code, out, _ = run("heartbeats", "--config", str(config), "--state", str(state),
                       "--format", "json")
    listed = json.loads(out)["heartbeats"]
    assert code == 0 and TOKEN not in out
    assert [(item["id"], item["state"], item["last_exit_code"], item["deadline"])
            for item in listed] == [("backup", "failed", 2, None),
                                    ("nightly", "new", None, "2026-12-06T02:35:00+00:00")]


def test_no_state_directory_is_a_clear_error(tmp_path: Path) -> None:
    config = write_config(tmp_path, CONFIG)
    code, out, err = run("heartbeats", "--config", str(config), "--state",
                         str(tmp_path / "nowhere"))
    assert code == 1 and out == ""
    assert "no state directory" in err
