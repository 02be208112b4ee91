"""What ingest logs: one INFO line per request, a line per alert only at DEBUG (issue 15).

A JSON log line cost about as much as the rest of an alert's work before the store, so the
line per alert is written only when DEBUG is on.
"""

from __future__ import annotations

import itertools
import logging
import textwrap
from pathlib import Path

import pytest

from router.clock import FixedClock
from router.config import load_config
from router.engine import Engine
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
    fields = ("count", "actions", "trace_id", "incident", "action", "dedup_key")
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
