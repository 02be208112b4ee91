"""engine/checks.py: a check's run is graded, its alert raised on a change of status and the
run kept, all in one unit of work: one store round trip per run, whether the status changed
or not (issue 15: a check every second must not cost three)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pytest

from router.clock import FixedClock
from router.config import load_config
from router.config.model import Check, Thresholds
from router.core.checks import Reading
from router.engine import Engine
from router.store import Reader, Store

T = TypeVar("T")
NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
CONFIG = """
channels:
  - {id: log, type: log}
services:
  - {id: host, channels: [log]}
checks:
  - {id: disk, type: disk, service: host, paths: [/]}
"""
DISK = Check(id="disk", type="disk", service="host", paths=("/",),
             thresholds=Thresholds(warning=80, critical=90))


class CountingStore(Store):
    """The real store, counting its reads (commits it counts itself)."""

    reads = 0

    async def read(self, query: Callable[[Reader], T]) -> T:
        self.reads += 1
        return await super().read(query)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    (tmp_path / "router.yaml").write_text(CONFIG)
    store = await CountingStore.open(tmp_path / "router.db")
    try:
        yield Engine(load_config([tmp_path / "router.yaml"]), store, FixedClock(NOW))
    finally:
        await store.close()


async def test_each_run_is_one_round_trip_to_the_store(engine: Engine) -> None:
    store = engine.store
    assert isinstance(store, CountingStore)
    for percent in (95.0, 96.0, 50.0, 50.0, 85.0):  # opens, stays, resolves, stays, opens
        before = (store.reads, store.commits)
        await engine.checks.record(DISK, Reading(metrics={"disk_percent:/": percent}),
                                   started_at=NOW, duration_ms=1.0, host="db1")
        assert (store.reads, store.commits) == (before[0], before[1] + 1), percent


async def test_a_change_of_status_is_an_incident_and_the_run_names_it(engine: Engine) -> None:
    runs = [await engine.checks.record(DISK, Reading(metrics={"disk_percent:/": percent}),
                                       started_at=NOW, duration_ms=1.0, host="db1",
                                       trace_id="b" * 32) for percent in (95.0, 96.0, 50.0)]
    assert [(run.status, run.incident_id) for run in runs] == [
        ("critical", "INC1"), ("critical", None), ("ok", "INC1")]
    [incident] = await engine.incidents()
    assert (incident.service, incident.source, incident.state) == ("host", "check", "resolved")
    assert {run.trace_id for run in runs} == {"b" * 32}
