"""Health context: the checks a route or service attaches run when its alert arrives, for
real (psutil, Nagios plugins in tmp_path) through the daemon's check runner; their results
join the alert's annotations and the new incident's timeline, a check that hangs holds the
alert no longer than its timeout and the runner's grace, a fresh run is used instead of a
new one, the first page's templates see them as `health`, and alerts no route attaches
checks to are not held at all."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from router.alerts.model import Alert, Severity
from router.clock import SystemClock
from router.config import load_config
from router.engine import Engine
from router.notify.templates import build_message
from router.notify.transport import Transport
from router.probes.runner import CheckRunner
from router.store import Store

CONFIG = """
channels:
  - {{id: log, type: log}}
services:
  - {{id: db, attach_checks: [disk, slow], channels: [log]}}
  - {{id: web}}
routes:
  - {{match: ['alertname="DiskFull"'], service: db, attach_checks: [plugin]}}
  - {{match: ['alertname="Slow"'], service: web}}
checks:
  - {{id: disk, type: disk, paths: [/], warning: 101, critical: 101}}
  - {{id: slow, type: command, command: [{slow}], timeout: 1s}}
  - {{id: plugin, type: command, command: [{plugin}]}}
"""


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    slow, plugin = tmp_path / "check_slow", tmp_path / "check_plugin"
    slow.write_text("#!/bin/sh\nsleep 30\n")
    plugin.write_text("#!/bin/sh\necho 'PLUGIN OK - fine|things=2'\n")
    for path in (slow, plugin):
        path.chmod(0o755)
    (tmp_path / "router.yaml").write_text(CONFIG.format(slow=slow, plugin=plugin))
    store = await Store.open(tmp_path / "router.db")
    try:
        engine = Engine(load_config([tmp_path / "router.yaml"]), store, SystemClock())
        engine.health.measure = CheckRunner(engine, Transport(), host="db1").run_once
        yield engine
    finally:
        await store.close()


def alert(name: str) -> Alert:
    return Alert(summary=name, source="native", severity=Severity.CRITICAL,
                 labels={"alertname": name, "instance": "db1"})


async def test_attached_checks_join_the_alert_within_their_timeout(engine: Engine) -> None:
    started = time.perf_counter()
    [accepted] = await engine.ingest([alert("DiskFull")])
    held = time.perf_counter() - started
    assert 1 <= held < 2 + 1.0  # the slow check's timeout and grace, and some slack
    detail = await engine.incident(accepted.incident_id or "")
    assert detail is not None
    health = {name: value for name, value in detail.alerts[0]["annotations"].items()
              if name.startswith("health.")}
    assert sorted(health) == ["health.disk", "health.plugin", "health.slow"]
    assert health["health.plugin"] == "ok: PLUGIN OK - fine"
    assert health["health.slow"] == "unknown: killed after its timeout of 1s"
    assert health["health.disk"].startswith("ok: used: / ")
    [entry] = [entry for entry in detail.timeline if entry.action == "health context"]
    assert dict(entry.details) == {name[len("health."):]: value
                                   for name, value in health.items()}
    [page] = [item for item in await engine.store.read(
        lambda reader: reader.pending_notifications())
        if item.incident_number == detail.incident.number]
    text = build_message(engine.config, engine.config.channels["log"], page,
                         detail.incident).text
    assert "\nHealth:\n  disk: ok: used: / " in text
    assert "\n  plugin: ok: PLUGIN OK - fine\n  slow: unknown: killed after its timeout of " \
           "1s" in text
    runs = await engine.checks.runs("slow")
    assert [(run.status, run.error) for run in runs] == [
        ("unknown", "killed after its timeout of 1s")]

    started = time.perf_counter()
    await engine.ingest([alert("DiskFull")])  # the runs are fresh: used, not run again
    assert time.perf_counter() - started < 0.4
    assert len(await engine.checks.runs("slow")) == 1
    detail = await engine.incident(accepted.incident_id or "")
    assert detail is not None
    assert [entry.action for entry in detail.timeline].count("health context") == 1
    # the repeat was decided on the trio thread (engine/repeats.py) after the checks
    # joined it: its row keeps the results (a repeat without them would write `{}`)
    assert engine.ingesting.repeats.planned == 1
    assert sorted(name for name in detail.alerts[0]["annotations"]
                  if name.startswith("health.")) == sorted(health)


async def test_an_alert_nothing_attaches_checks_to_is_not_held(engine: Engine) -> None:
    started = time.perf_counter()
    [accepted] = await engine.ingest([alert("Slow")])
    assert time.perf_counter() - started < 0.3
    detail = await engine.incident(accepted.incident_id or "")
    assert detail is not None
    assert not [name for name in detail.alerts[0]["annotations"] if name.startswith("health.")]
    assert "health context" not in [entry.action for entry in detail.timeline]
    assert await engine.checks.states() == []


async def test_concurrent_alerts_share_a_check_that_is_running(engine: Engine) -> None:
    """Two requests at once that attach the same stale checks run each of them once: the
    second waits for the first's runs instead of starting its own (the slow check's command
    twice, and its timeout twice, otherwise)."""
    async with trio.open_nursery() as nursery:
        for name in ("DiskFull", "DiskFull"):
            nursery.start_soon(engine.ingest, [alert(name)])
    for check_id in ("disk", "plugin", "slow"):
        assert len(await engine.checks.runs(check_id)) == 1, check_id
    [incident] = await engine.incidents(service="db")  # (and the slow check's own, unknown)
    detail = await engine.incident(incident.id)
    assert detail is not None
    assert [sorted(name for name in item["annotations"] if name.startswith("health."))
            for item in detail.alerts] == [["health.disk", "health.plugin", "health.slow"]]
