"""`router export alerts` through the CLI's `main`, on a real SQLite store filled through the
engine (issue 20 item 3): the lines `router replay` reads, read-only, beside a writer."""

from __future__ import annotations

import json
import sqlite3
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trio

from router.alerts.model import Alert, Severity, Status
from router.clock import FixedClock
from router.config import load_config
from router.engine import Engine
from router.store import DATABASE_NAME, Store
from tests.cli.conftest import run

CONFIG = """
channels: [{id: log, type: log}]
services: [{id: api, channels: [log]}]
routes: [{service: api}]
"""
NOW = datetime.now(UTC).replace(microsecond=0)
START = NOW - timedelta(days=3)


def disk_full(status: Status = Status.FIRING, **extra: str) -> Alert:
    return Alert(summary="Disk full", source="native", severity=Severity.CRITICAL,
                 status=status, labels={"alertname": "DiskFull", "instance": "db1"},
                 annotations={"runbook": "r1", **extra})


async def fill(directory: Path, config_path: Path) -> None:
    """DiskFull at START, repeated at +1m and +5m, resolved at +10m; a PagerDuty-style
    alert with its own key 40 days ago (outside --since 30d)."""
    store = await Store.open(directory / DATABASE_NAME)
    clock = FixedClock(NOW - timedelta(days=40))
    engine = Engine(load_config([config_path]), store, clock)
    try:
        await engine.ingest([Alert(summary="Old", source="pagerduty", dedup_key="old-1")])
        clock.advance(START - clock.now())
        for minutes in (0, 1, 5):
            clock.advance(timedelta(minutes=minutes) - (clock.now() - START))
            await engine.ingest([disk_full()])
        clock.advance(timedelta(minutes=5))
        await engine.ingest([disk_full(Status.RESOLVED)])
    finally:
        await store.close()


@pytest.fixture
def state(tmp_path: Path) -> Path:
    (tmp_path / "config.yaml").write_text(CONFIG)
    directory = tmp_path / "state"
    directory.mkdir()
    trio.run(fill, directory, tmp_path / "config.yaml")
    return directory


def lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines()]


def test_each_stored_alert_is_one_line_with_its_repeats_counted(state: Path) -> None:
    code, out, err = run("export", "alerts", "--since", "30d", "--state", str(state))
    assert (code, err) == (0, "")
    assert lines(out) == [
        {"received_at": START.isoformat(),
         "last_received_at": (START + timedelta(minutes=5)).isoformat(),
         "count": 3, "status": "firing", "source": "native", "summary": "Disk full",
         "severity": "critical", "labels": {"alertname": "DiskFull", "instance": "db1"},
         "annotations": {"runbook": "r1"}, "dedup_key": None, "starts_at": None,
         "ends_at": None, "incident": "INC2", "suppressed_by": None},
        {"received_at": (START + timedelta(minutes=10)).isoformat(),
         "last_received_at": (START + timedelta(minutes=10)).isoformat(),
         "count": 1, "status": "resolved", "source": "native", "summary": "Disk full",
         "severity": "critical", "labels": {"alertname": "DiskFull", "instance": "db1"},
         "annotations": {"runbook": "r1"}, "dedup_key": None, "starts_at": None,
         "ends_at": None, "incident": "INC2", "suppressed_by": None},
    ]
    assert START.isoformat().endswith("+00:00")


def test_a_sender_s_own_key_is_kept_and_until_bounds_the_lines(state: Path) -> None:
    code, out, _ = run("export", "alerts", "--since", "45d", "--until", "35d",
                       "--state-dir", str(state))
    assert code == 0
    assert [(line["summary"], line["dedup_key"], line["source"]) for line in lines(out)] == [
        ("Old", "old-1", "pagerduty")]
    code, out, _ = run("export", "alerts", "--since", (START - timedelta(seconds=1)).isoformat(),
                       "--until", (START + timedelta(minutes=10)).isoformat(), "--state",
                       str(state))
    assert [line["status"] for line in lines(out)] == ["firing"]


def test_out_writes_a_private_file(state: Path, tmp_path: Path) -> None:
    target = tmp_path / "alerts.jsonl"
    code, out, err = run("export", "alerts", "--since", "30d", "--state", str(state),
                         "--out", str(target))
    assert (code, out, err) == (0, "", f"2 alerts written to {target}\n")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert len(lines(target.read_text())) == 2


def test_a_store_being_written_is_read_and_left_as_it_is(state: Path, tmp_path: Path) -> None:
    """The daemon's store open with a write committed to its WAL and not checkpointed: the
    export sees it, and the store's files are not changed by the export."""
    async def beside_a_writer() -> tuple[int, str, bytes, bytes]:
        store = await Store.open(state / DATABASE_NAME)
        try:
            engine = Engine(load_config([tmp_path / "config.yaml"]), store,
                            FixedClock(NOW - timedelta(hours=1)))
            await engine.ingest([Alert(summary="Live", source="native")])
            before = (state / DATABASE_NAME).read_bytes()
            wal = (state / f"{DATABASE_NAME}-wal").read_bytes()
            code, out, _ = await trio.to_thread.run_sync(
                run, "export", "alerts", "--since", "2h", "--state", str(state))
            assert (state / f"{DATABASE_NAME}-wal").read_bytes() == wal
            return code, out, before, (state / DATABASE_NAME).read_bytes()
        finally:
            await store.close()

    code, out, before, after = trio.run(beside_a_writer)
    assert code == 0
    assert [line["summary"] for line in lines(out)] == ["Live"]
    assert before == after


def test_a_stopped_router_s_store_is_read_without_a_file_left_beside_it(state: Path) -> None:
    """A read-only open of a WAL store created `-wal` and `-shm` beside it when the daemon
    was stopped; run as another user (root, say), those files then stop the daemon opening
    its store. The export must leave the state directory as it found it."""
    before = sorted(path.name for path in state.iterdir())
    assert f"{DATABASE_NAME}-wal" not in before
    code, out, _ = run("export", "alerts", "--since", "30d", "--state", str(state))
    assert (code, len(lines(out))) == (0, 2)
    assert sorted(path.name for path in state.iterdir()) == before


def test_more_lines_than_one_batch_are_each_written_once_in_order(state: Path) -> None:
    """2,500 rows more (the export reads 1,000 a batch), five to each instant and inserted
    latest first, so only (received_at, id) orders them: the lines are the ones one read of
    the whole table gives, in its order, none lost or doubled at a batch's edge."""
    first = NOW - timedelta(days=2)
    writer = sqlite3.connect(state / DATABASE_NAME, isolation_level=None)
    try:
        writer.execute("BEGIN")
        for number in reversed(range(2500)):
            writer.execute(
                "INSERT INTO alerts (received_at, source, status, dedup_key, summary, "
                "severity, labels, annotations, identity) VALUES (?, 'native', 'firing', ?, "
                "'Load', 'warning', ?, '{}', ?)",
                ((first + timedelta(seconds=number // 5)).timestamp(), f"key-{number}",
                 json.dumps({"n": str(number)}), str(number)))
        writer.execute("COMMIT")
    finally:
        writer.close()
    code, out, err = run("export", "alerts", "--since", "30d", "--state", str(state))
    assert (code, err) == (0, "")
    exported = lines(out)
    assert [line["summary"] for line in exported[:2]] == ["Disk full"] * 2
    order = sorted(range(2500), key=lambda number: (number // 5, -number))
    assert exported[2:] == [
        {"received_at": (first + timedelta(seconds=number // 5)).isoformat(),
         "last_received_at": (first + timedelta(seconds=number // 5)).isoformat(),
         "count": 1, "status": "firing", "source": "native", "summary": "Load",
         "severity": "warning", "labels": {"n": str(number)}, "annotations": {},
         "dedup_key": f"key-{number}", "starts_at": None, "ends_at": None, "incident": None,
         "suppressed_by": None}
        for number in order]


def test_no_store_and_bad_instants_are_clear_errors(tmp_path: Path, state: Path) -> None:
    assert run("export", "alerts", "--since", "30d", "--state", str(tmp_path / "none")) == (
        1, "", f"router export alerts: no store {tmp_path / 'none' / DATABASE_NAME} (pass "
               "--state DIR, the directory `router run --state` names)\n")
    assert run("export", "alerts", "--since", "yesterday", "--state", str(state)) == (
        2, "", "router export alerts: --since: expected a duration (30d, 2w) or an ISO 8601 "
               "instant with an offset (2026-11-01T00:00:00Z), got 'yesterday'\n")
    assert run("export", "alerts", "--since", "2026-11-01T00:00:00", "--state",
               str(state)) == (
        2, "", "router export alerts: --since: '2026-11-01T00:00:00' has no offset: add Z or "
               "+01:00, say\n")
    assert run("export", "alerts", "--since", "99999999w", "--state", str(state)) == (
        2, "", "router export alerts: --since: 99999999w ago is before the year 1\n")
    code, _, err = run("export", "alerts", "--since", "1d", "--until", "2d", "--state",
                       str(state))
    assert code == 2 and "is not after --since" in err
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / DATABASE_NAME).write_text("not a database")
    code, _, err = run("export", "alerts", "--since", "1d", "--state", str(tmp_path / "junk"))
    assert code == 1 and err.startswith("router export alerts: cannot read the alerts of ")


def test_the_export_of_one_history_is_the_same_from_postgresql(
        tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A history (tests/store/histories.py) exported from its SQLite state directory, then
    copied by `router store migrate-to` and exported with `--store URL`: the same lines."""
    from tests.store.histories import NOW as HISTORY_NOW
    from tests.store.histories import make_history
    state = tmp_path / "history"
    trio.run(make_history, state)
    window = ("--since", (HISTORY_NOW - timedelta(days=400)).isoformat(),
              "--until", (HISTORY_NOW + timedelta(days=400)).isoformat())
    code, from_sqlite, err = run("export", "alerts", *window, "--state", str(state))
    assert (code, err) == (0, "")
    assert len(from_sqlite.splitlines()) == 12
    monkeypatch.setenv("ROUTER_PG_PASSWORD", "s3cr3t/pw")
    url = postgres_url.replace("://router@", "://router:${env:ROUTER_PG_PASSWORD}@")
    assert run("store", "migrate-to", url, "--state", str(state))[0] == 0
    code, from_postgresql, err = run("export", "alerts", *window, "--store", url)
    assert (code, err) == (0, "")
    assert from_postgresql == from_sqlite


def test_a_postgresql_store_that_cannot_be_reached_is_one_line_without_its_password(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROUTER_PG_PASSWORD", "s3cr3t/pw")
    code, out, err = run("export", "alerts", "--since", "1d", "--store",
                         "postgresql://router:${env:ROUTER_PG_PASSWORD}@127.0.0.1:1/router")
    assert (code, out) == (1, "")
    assert err.startswith("router export alerts: cannot open the store "
                          "postgresql://127.0.0.1:1/router: "), err
    assert err.count("\n") == 1 and "s3cr3t" not in err
