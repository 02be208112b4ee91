"""The check runner over a real store and engine: a check's change of status opens, changes
and resolves its alert through the engine's ingest (source `check`, figures in the
annotations), every run is kept with its trace id, a restart remembers the status, a probe
that hangs is given up at its timeout without blocking the event loop, and the loop runs each
check on its interval and picks up a reload."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import trio

from router.clock import SystemClock
from router.config import load_config
from router.config.model import Check, Config, Thresholds
from router.core.checks import CheckStatus, Reading
from router.engine import Engine
from router.notify.transport import Transport
from router.probes import BLOCKING
from router.probes.runner import CheckRunner
from router.store import Store
from tests.fakes.full_disk import full_disk

CONFIG = """
services:
  - id: host
checks:
  - {id: disk, type: disk, service: host, paths: [/], interval: 1s, timeout: 5s,
     warning: 101, critical: 101}
"""


def config_at(tmp_path: Path, text: str = CONFIG) -> Config:
    (tmp_path / "router.yaml").write_text(text)
    return load_config([tmp_path / "router.yaml"])


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    store = await Store.open(tmp_path / "router.db")
    try:
        yield Engine(config_at(tmp_path), store, SystemClock())
    finally:
        await store.close()


def disk(critical: float) -> Check:
    return Check(id="disk", type="disk", service="host", paths=("/",),
                 thresholds=Thresholds(warning=critical, critical=critical))


async def test_a_change_of_status_opens_and_resolves_the_check_s_alert(engine: Engine) -> None:
    runner = CheckRunner(engine, Transport(), host="db1")
    full = await runner.run_once(disk(critical=0), trace_id="a" * 32)  # any use is past 0
    again = await runner.run_once(disk(critical=0))
    fine = await runner.run_once(disk(critical=100.5))  # never reached
    assert [run.status for run in (full, again, fine)] == ["critical", "critical", "ok"]
    assert full.incident_id == "INC1" and again.incident_id is None
    assert fine.incident_id == "INC1"
    assert full.trace_id == "a" * 32 and len(again.trace_id) == 32
    assert full.message.startswith("disk_percent:/ is ")
    assert full.error is None and full.duration_ms >= 0
    detail = await engine.incident("INC1")
    assert detail is not None
    incident, alert = detail.incident, detail.alerts[0]
    assert (incident.state, incident.service, incident.source, incident.dedup_key) == (
        "resolved", "host", "check", "check:disk")
    assert incident.summary.startswith("check disk on db1 is critical: disk_percent:/ is ")
    assert alert["annotations"]["metric.disk_percent:/"] == f"{full.metrics['disk_percent:/']:g}"
    assert [run.id for run in await engine.checks.runs("disk")] == [fine.id, again.id, full.id]
    states = await engine.checks.states()
    assert [(state.check_id, state.status, state.last_run.id) for state in states] == [
        ("disk", "ok", fine.id)]


async def test_a_restart_remembers_the_status(tmp_path: Path, engine: Engine) -> None:
    await CheckRunner(engine, Transport(), host="db1").run_once(disk(critical=0))
    again = Engine(engine.config, engine.store, SystemClock())
    second = await CheckRunner(again, Transport(), host="db1").run_once(disk(critical=0))
    assert (second.status, second.incident_id) == ("critical", None)
    assert len(await again.incidents()) == 1


async def test_a_hung_probe_is_given_up_at_its_timeout_and_the_loop_runs_on(
        engine: Engine) -> None:
    release = threading.Event()

    def hang(check: Check) -> Reading:
        release.wait(30)
        return Reading(metrics={"memory_percent": 1})

    runner = CheckRunner(engine, Transport(), host="db1", probes={**BLOCKING, "memory": hang})
    check = Check(id="memory", type="memory", timeout=timedelta(seconds=0.2))
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await trio.sleep(0.05)
            ticks += 1

    started = time.perf_counter()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(tick)
        run = await runner.run_once(check)
        nursery.cancel_scope.cancel()
    release.set()
    elapsed = time.perf_counter() - started
    assert (run.status, run.error) == ("unknown", "no result within its timeout of 0.2s")
    assert run.incident_id == "INC1"
    assert 1.1 < elapsed < 3 and ticks >= 15  # timeout + grace, the loop free meanwhile


async def test_a_probe_that_raises_is_an_unknown_run(engine: Engine) -> None:
    def broken(check: Check) -> Reading:
        raise PermissionError("no access to /proc")

    runner = CheckRunner(engine, Transport(), host="db1", probes={"cpu": broken})
    run = await runner.run_once(Check(id="cpu", type="cpu", samples=1))
    assert (run.status, run.message, run.error) == (
        "unknown", "the check failed: PermissionError: no access to /proc",
        "PermissionError: no access to /proc")


async def test_the_loop_runs_each_check_on_its_interval_and_after_a_reload(
        tmp_path: Path, engine: Engine) -> None:
    runner = CheckRunner(engine, Transport(), host="db1")
    async with trio.open_nursery() as nursery:
        await nursery.start(runner.run)
        await trio.sleep(1.5)
        engine.use_config(config_at(tmp_path, CONFIG.replace("id: disk", "id: root")))
        await trio.sleep(2.2)
        nursery.cancel_scope.cancel()
    disk_runs = await engine.checks.runs("disk")
    root_runs = await engine.checks.runs("root")
    assert len(disk_runs) in (2, 3) and len(root_runs) >= 1
    assert all(run.status == CheckStatus.OK for run in disk_runs + root_runs)


async def test_a_store_that_cannot_write_is_logged_once_not_every_run(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="router.probes.runner")
    disk = full_disk()
    store = await Store.open(tmp_path / "full.db", writer_factory=disk)
    try:
        engine = Engine(config_at(tmp_path), store, SystemClock())
        runner = CheckRunner(engine, Transport(), host="db1")
        disk.full = True
        async with trio.open_nursery() as nursery:
            await nursery.start(runner.run)
            await trio.sleep(3.5)
            disk.full = False
            await trio.sleep(1.2)
            nursery.cancel_scope.cancel()
        runs = await engine.checks.runs("disk")
    finally:
        await store.close()
    records = [record for record in caplog.records if record.name == "router.probes.runner"]
    lines = [(record.levelname, record.getMessage()) for record in records]
    assert lines == [("ERROR", "check disk could not be recorded (the store cannot write: "
                               "database or disk is full); trying again every 1s"),
                     ("INFO", "check disk is recorded again")]
    # an expected store failure (a full disk, PostgreSQL down) is one line, no traceback
    assert records[0].exc_info is None
    assert disk.refused >= 3 and len(runs) >= 1
