"""`router store stats` and `router store prune` through the CLI's `main`, on a real SQLite
store filled through the engine (issue 13 item 7)."""

from __future__ import annotations

import json
import re
import sqlite3
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trio

from router.alerts.model import Alert, Severity, Status
from router.clock import FixedClock
from router.config import load_config
from router.engine import Engine
from router.store import DATABASE_NAME, Store, Transaction
from router.store.migrations import MIGRATIONS
from tests.cli.conftest import run

CONFIG = """
settings: {retention: 30d}
channels: [{id: log, type: log}]
services: [{id: api, channels: [log]}]
routes: [{service: api}]
"""
NOW = datetime.now(UTC)


def sizes(text: str) -> str:
    """File sizes vary with SQLite's page use: each becomes SIZE."""
    return re.sub(r"\d+(\.\d)? (B|KiB|MiB)\b", "SIZE", text)


def alert(name: str, status: Status = Status.FIRING) -> Alert:
    return Alert(summary=name, source="native", severity=Severity.CRITICAL, status=status,
                 labels={"alertname": name}, dedup_key=name)


@pytest.fixture
def state(tmp_path: Path) -> Path:
    """INC1 resolved 100 days ago, INC2 resolved 50 days ago, INC3 open for 200 days; every
    notification delivered, each attempt logged; a silence that ended 100 days ago."""
    (tmp_path / "config.yaml").write_text(textwrap.dedent(CONFIG))
    directory = tmp_path / "state"
    directory.mkdir()

    async def fill() -> None:
        store = await Store.open(directory / DATABASE_NAME)
        clock = FixedClock(NOW - timedelta(days=200))
        engine = Engine(load_config([tmp_path / "config.yaml"]), store, clock)
        def deliver_all(transaction: Transaction) -> None:
            transaction.connection.execute(
                "UPDATE outbox SET state = 'delivered', finished_at = created_at")
        await engine.ingest([alert("one"), alert("two"), alert("three")])
        await store.write(deliver_all)  # the triggers went out, so the resolves go out too
        for days, name in ((100, "one"), (50, "two")):
            clock.moment = NOW - timedelta(days=days)
            await engine.ingest([alert(name, Status.RESOLVED)])
        await store.write(deliver_all)
        await store.write(lambda transaction: transaction.connection.execute(
            "INSERT INTO deliveries (notification_id, incident_number, channel, target, "
            "event, attempt, attempted_at, outcome) SELECT id, incident_number, channel, "
            "target, event, 1, created_at, 'delivered' FROM outbox"))
        await store.write(lambda transaction: transaction.connection.execute(
            "INSERT INTO silences (id, matchers, starts_at, ends_at, reason, created_by, "
            "created_at) VALUES ('SIL-1', '[]', ?, ?, 'test', 'ann', ?)",
            ((NOW - timedelta(days=101)).timestamp(), (NOW - timedelta(days=100)).timestamp(),
             (NOW - timedelta(days=101)).timestamp())))
        await store.close()
    trio.run(fill)
    return directory


def test_stats_counts_rows_and_says_what_prune_would_remove(state: Path) -> None:
    code, out, err = run("store", "stats", "--state", str(state))
    assert (code, err) == (0, "")
    resolved = (NOW - timedelta(days=100)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert sizes(out) == textwrap.dedent(f"""\
        store {state}/router.db
          database         SIZE (SIZE free)
          wal              SIZE
          vacuum           incremental
          oldest resolved  {resolved}
        rows:
          incidents   3
          alerts      5
          timeline    8
          outbox      5
          deliveries  5
          timers      0
          silences    1
          overrides   0
        prune (older than 90d) would remove: 1 incident, 2 alerts, 3 timeline entries, \
2 notifications, 2 delivery attempts, 1 silence
        """)


def test_stats_as_json(state: Path) -> None:
    code, out, _ = run("store", "stats", "--state", str(state), "--older-than", "30d",
                       "--format", "json")
    document = json.loads(out)
    assert code == 0
    assert sorted(document) == ["database_bytes", "free_bytes", "incremental_vacuum",
                                "older_than", "oldest_resolved", "prunable", "rows", "store",
                                "wal_bytes"]
    assert document["prunable"] == {"incidents": 2, "alerts": 4, "timeline": 6,
                                    "notifications": 4, "deliveries": 4, "silences": 1}
    assert document["rows"]["incidents"] == 3


def test_prune_dry_run_removes_nothing(state: Path) -> None:
    code, out, err = run("store", "prune", "--state", str(state), "--dry-run")
    assert (code, err) == (0, "")
    assert out == ("would remove (older than 90d): 1 incident, 2 alerts, 3 timeline entries, "
                   "2 notifications, 2 delivery attempts, 1 silence\n"
                   "dry run: nothing removed\n")
    assert '"incidents": 3' in run("store", "stats", "--state", str(state), "--format",
                                   "json")[1]


def test_prune_takes_the_configs_retention_and_never_an_open_incident(
        state: Path, tmp_path: Path) -> None:
    code, out, err = run("store", "prune", "--state", str(state), "--config",
                         str(tmp_path / "config.yaml"))
    assert (code, err) == (0, "")
    assert sizes(out) == (
        "removed (older than 30d): 2 incidents, 4 alerts, 6 timeline entries, "
        "4 notifications, 4 delivery attempts, 1 silence\n"
        f"store {state}/router.db: SIZE -> SIZE (database and WAL)\n")
    document = json.loads(run("store", "stats", "--state", str(state), "--format", "json")[1])
    assert document["rows"] == {"incidents": 1, "alerts": 1, "timeline": 2, "outbox": 1,
                                "deliveries": 1, "timers": 0, "silences": 0, "overrides": 0}
    assert document["oldest_resolved"] is None
    code, out, _ = run("store", "prune", "--state", str(state), "--older-than", "1s")
    assert out.startswith("removed (older than 1s): nothing\n")  # INC3 is open


def test_prune_vacuum_turns_on_incremental_vacuum_in_an_old_store(tmp_path: Path) -> None:
    directory = tmp_path / "state"
    directory.mkdir()
    old = sqlite3.connect(directory / DATABASE_NAME)  # as stores were made before
    old.execute("PRAGMA journal_mode = WAL")
    old.execute("CREATE TABLE filler (x)")
    old.close()
    code, out, _ = run("store", "prune", "--state", str(directory))
    assert code == 0
    assert sizes(out) == (
        "removed (older than 90d): nothing\n"
        f"store {directory}/router.db: SIZE -> SIZE (database and WAL)\n"
        "the file keeps its free pages for new rows; `router store prune --vacuum` once "
        "gives them back (and turns on incremental vacuum)\n")
    code, out, _ = run("store", "prune", "--state", str(directory), "--vacuum")
    assert (code, sizes(out)) == (0, "removed (older than 90d): nothing\n"
                                     f"store {directory}/router.db: SIZE -> SIZE "
                                     "(database and WAL)\n")


@pytest.mark.parametrize(("argv", "message"), [
    (("--older-than", "soon"), "router store prune: --older-than: expected a duration like "
                               "30s, 15m, 1h30m or 2w, got 'soon'\n"),
    (("--older-than", "0d"), "router store prune: --older-than: expected a duration longer "
                             "than zero, got '0d'\n"),
])
def test_prune_refuses_a_bad_duration(state: Path, argv: tuple[str, ...],
                                      message: str) -> None:
    assert run("store", "prune", "--state", str(state), *argv) == (1, "", message)


def test_a_directory_without_a_store(tmp_path: Path) -> None:
    assert run("store", "stats", "--state", str(tmp_path)) == (
        1, "", f"router store stats: no store in '{tmp_path}' (router run creates router.db)\n")
    assert run("store", "prune", "--state", str(tmp_path / "missing")) == (
        1, "", f"router store prune: no state directory '{tmp_path}/missing' (router run "
               "creates it; or pass --state DIR)\n")


def test_a_store_that_is_no_database_or_from_a_newer_router_is_a_clear_error(
        tmp_path: Path) -> None:
    """The store's own StoreError reaches the CLI for both, so it names them without a
    traceback and without knowing the database underneath."""
    (tmp_path / DATABASE_NAME).write_bytes(b"not a database, just some bytes" * 10)
    assert run("store", "stats", "--state", str(tmp_path)) == (
        1, "", "router store stats: the store failed: file is not a database\n")
    (tmp_path / DATABASE_NAME).unlink()
    newer = sqlite3.connect(tmp_path / DATABASE_NAME)
    newer.execute("PRAGMA user_version = 999")
    newer.close()
    code, out, err = run("store", "prune", "--state", str(tmp_path))
    assert (code, out) == (1, "")
    assert err == ("router store prune: the store failed: the state store is at schema "
                   f"version 999, newer than this router knows ({len(MIGRATIONS)}); "
                   "upgrade router\n")
