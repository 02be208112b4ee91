"""`router analysis ID` (issue 21 item 5): an incident's analysis runs from the store, as
text and as JSON, run through the CLI's `main` against a real SQLite store seeded through
the engine (whose first page of INC1 writes its pending run)."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import trio

from router.alerts.model import Alert, Severity
from router.clock import FixedClock
from router.config import load_config
from router.engine import Engine
from router.store import DATABASE_NAME, Store
from router.store.values import AnalysisRun
from tests.cli.conftest import run, write_config

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
CONFIG = """
channels: [{id: log, type: log}]
services: [{id: db, channels: [log], analysis: {provider: local}}]
routes: [{service: db}]
"""
DONE = AnalysisRun(
    id="r2", incident_number=1, provider="openai_compatible", model="llama3.1",
    status="succeeded", fallback_used=True, error="the model answered 500",
    input_summary="INC1 [critical] Disk full",
    summary="Disk full: looked at disk; 1 recommendation",
    recommendations=({"type": "disk", "priority": "high", "title": "/ is 91% full",
                      "description": "2 GiB free", "actions": ["du -xsh /*"], "details": {}},),
    settings={"api_key": "<redacted>", "model": "llama3.1"},
    created_at=NOW + timedelta(minutes=1), completed_at=NOW + timedelta(minutes=1, seconds=2),
    duration_ms=2000.0, trace_id="t2")


def seed(config: Path, state: Path) -> None:
    async def work() -> None:
        store = await Store.open(state / DATABASE_NAME)
        counter = itertools.count(1)
        engine = Engine(load_config([config]), store, FixedClock(NOW),
                        new_id=lambda: f"r{next(counter)}-id")
        try:
            await engine.ingest([Alert(summary="Disk full", source="test",
                                       severity=Severity.CRITICAL,
                                       labels={"alertname": "DiskFull"})])
            await store.write(lambda transaction: transaction.analysis.save(DONE))
        finally:
            await store.close()
    trio.run(work)


def test_runs_newest_first_as_text_and_json(tmp_path: Path, state: Path) -> None:
    config = write_config(tmp_path, CONFIG)
    seed(config, state)
    options = ("--config", str(config), "--state", str(state))
    code, out, err = run("analysis", "INC1", *options)
    assert (code, err) == (0, "")
    assert out.splitlines()[:9] == [
        "r2  succeeded",
        "  provider        openai_compatible llama3.1",
        "  fallback used   yes",
        "  error           the model answered 500",
        "  input           INC1 [critical] Disk full",
        "  summary         Disk full: looked at disk; 1 recommendation",
        "  probable cause  -",
        "  confidence      -",
        "  tokens          -",
    ]
    assert "  - [high] disk: / is 91% full" in out and "      $ du -xsh /*" in out
    assert out.split("\n\n")[1].startswith("r")  # the pending run of the first page, after
    assert "  pending" in out.split("\n\n")[1].splitlines()[0]
    code, out, _ = run("analysis", "1", *options, "--format", "json")
    runs = json.loads(out)["runs"]
    assert (code, len(runs), runs[0]["id"], runs[0]["status"]) == (0, 2, "r2", "succeeded")
    assert runs[1]["status"] == "pending" and runs[1]["settings"]["provider"] == "local"
    assert runs[0]["settings"] == {"api_key": "<redacted>", "model": "llama3.1"}


def test_an_unknown_incident_and_a_malformed_id(tmp_path: Path, state: Path) -> None:
    config = write_config(tmp_path, CONFIG)
    seed(config, state)
    options = ("--config", str(config), "--state", str(state))
    assert run("analysis", "INC9", *options)[::2] == (1, "router analysis: no incident INC9\n")
    code, _, err = run("analysis", "nine", *options)
    assert code == 2 and err.startswith("router analysis: ")
