"""What ingest logs: an INFO line at most once a second, a line per alert only at DEBUG
(issue 15).

A JSON log line cost about as much as the rest of an alert's work before the store, so the
line per alert is written only when DEBUG is on, and requests that follow a line within a
second are tallied into the next one (engine/ingest_log.py).
"""

from __future__ import annotations

import itertools
import logging
import textwrap
from pathlib import Path

import pytest
import trio
import trio.testing

from router.clock import FixedClock
from router.config import load_config
from router.engine import Engine
from router.engine.ingest_log import IngestLog
from router.store import Store
from tests.engine.test_engine import CONFIG, MONDAY_NOON, alert

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture
async def engine(tmp_path: Path) -> Engine:
    (tmp_path / "config.yaml").write_text(textwrap.dedent(CONFIG))
    store = await Store.open(tmp_path / "state.db")
    counter = itertools.count(1)
    return Engine(load_config([tmp_path / "config.yaml"]), store, FixedClock(MONDAY_NOON),
                  new_id=lambda: f"n{next(counter)}")


def _lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str, dict[str, object]]]:
    fields = ("count", "actions", "trace_id", "requests", "incident", "action", "dedup_key")
    return [(record.levelname, record.getMessage(),
             {name: getattr(record, name) for name in fields if hasattr(record, name)})
            for record in caplog.records if record.name == "router.engine.core"]


async def test_one_info_line_per_request(engine: Engine,
                                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="router.engine.core")
    await engine.ingest([alert(host="db1"), alert(host="db2"), alert(team="web", host="x")],
                        trace_id=TRACE)
    assert _lines(caplog) == [("INFO", "alerts accepted", {
        "count": 3, "actions": {"opened": 1, "updated": 2}, "trace_id": TRACE})]


async def test_a_line_per_alert_at_debug(engine: Engine,
                                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="router.engine.core")
    await engine.ingest([alert(host="db1"), alert(host="db2")], trace_id=TRACE)
    assert _lines(caplog) == [
        ("DEBUG", "alert accepted", {"trace_id": TRACE, "incident": "INC1", "action": "opened",
                                     "dedup_key": "DiskFull"}),
        ("DEBUG", "alert accepted", {"trace_id": TRACE, "incident": "INC1",
                                     "action": "updated", "dedup_key": "DiskFull"}),
        ("INFO", "alerts accepted", {"count": 2, "actions": {"opened": 1, "updated": 1},
                                     "trace_id": TRACE}),
    ]


async def test_requests_within_a_second_are_tallied_into_one_line(
        engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    """The first request is logged at once; the next ones within the period wait for the
    period's end (the daemon's `run` task) and become one line with their count."""
    now = [100.0]
    engine.ingest_log = IngestLog(period=1.0, monotonic=lambda: now[0])
    caplog.set_level(logging.INFO, logger="router.engine.core")
    await engine.ingest([alert(host="db1")], trace_id=TRACE)
    now[0] += 0.2
    await engine.ingest([alert(host="db2")], trace_id="second")
    await engine.ingest([alert(team="web", host="x")], trace_id="third")
    assert _lines(caplog) == [("INFO", "alerts accepted", {
        "count": 1, "actions": {"opened": 1}, "trace_id": TRACE})]
    now[0] += 1.0
    engine.ingest_log.flush()
    engine.ingest_log.flush()  # nothing left: no second line
    assert _lines(caplog)[1:] == [("INFO", "alerts accepted", {
        "count": 2, "actions": {"updated": 2}, "requests": 2})]
    now[0] += 5.0
    await engine.ingest([alert(host="db3")], trace_id="later")  # quiet again: at once
    assert _lines(caplog)[2:] == [("INFO", "alerts accepted", {
        "count": 1, "actions": {"updated": 1}, "trace_id": "later"})]


async def test_the_run_task_writes_the_tally_each_period_and_when_cancelled(
        caplog: pytest.LogCaptureFixture, autojump_clock: trio.testing.MockClock) -> None:
    caplog.set_level(logging.INFO, logger="router.engine.core")
    log = IngestLog(period=1.0, monotonic=trio.current_time)
    async with trio.open_nursery() as nursery:
        await nursery.start(log.run)
        log.accepted(["opened"], "one")
        log.accepted(["updated"], "two")
        await trio.sleep(1.5)
        log.accepted(["updated", "updated"], "three")
        nursery.cancel_scope.cancel()
    assert [(record.getMessage(), record.count, getattr(record, "trace_id", None))
            for record in caplog.records] == [
        ("alerts accepted", 1, "one"), ("alerts accepted", 1, "two"),
        ("alerts accepted", 2, "three")]
