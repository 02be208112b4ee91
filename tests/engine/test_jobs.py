"""Job runs (issue 19 item 2): a run's reports, router's own durable timeout timer, the
alert targets' notifications and the service's alert, on a real SQLite store with the one
timer task under trio's MockClock.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trio
import trio.testing
from trio.testing import MockClock

from router.alerts.model import IncidentState, Notification
from router.clock import TrioClock
from router.config import load_config
from router.config.model import Job
from router.engine import Engine
from router.engine.job_requests import AlertRequest, RunReport
from router.engine.scheduler import Scheduler
from router.errors import Conflict, NotFound
from router.store import Store
from router.store.outbox import notice
from tests.tasks import start_stoppable

START = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
CONFIG = """
settings:
  timezone: UTC
channels:
  - {id: log, type: log}
  - {id: hooks, type: webhook, url: "http://127.0.0.1:9/unused"}
  - {id: mail, type: email, host: 127.0.0.1, port: 2525, from: router@example.com,
     security: none}
escalation_policies:
  - id: ops
    levels: [{targets: [{channel: log}], delay: 1h}]
services:
  - {id: db, escalation_policy: ops, channels: [log]}
routes:
  - service: db
jobs:
  - {id: backup, service: db, timeout: 2m}
  - {id: report}
"""


@dataclass
class Running:
    engine: Engine
    scope: trio.CancelScope

    async def pending(self) -> list[Notification]:
        return await self.engine.store.read(lambda reader: reader.pending_notifications())

    async def job_notices(self) -> list[Notification]:
        return [item for item in await self.pending() if item.event == "job"]

    async def incident_state(self) -> IncidentState | None:
        found = await self.engine.incidents()
        return found[0].state if found else None


async def start(directory: Path, nursery: trio.Nursery, epoch: datetime = START) -> Running:
    store = await Store.open(directory / "router.db", synchronous="NORMAL")
    engine = Engine(load_config([directory / "router.yaml"]), store, TrioClock(epoch))
    scheduler = Scheduler(engine)
    engine.timers_written = scheduler.poke
    return Running(engine, await start_stoppable(nursery, scheduler.run))


async def stop(running: Running) -> None:
    running.scope.cancel()
    await running.engine.store.close()


@pytest.fixture
def clock() -> MockClock:
    return trio.testing.MockClock(autojump_threshold=0.05)


@pytest.fixture
async def running(tmp_path: Path, nursery: trio.Nursery,
                  clock: MockClock) -> AsyncIterator[Running]:
    (tmp_path / "router.yaml").write_text(textwrap.dedent(CONFIG))
    running = await start(tmp_path, nursery)
    yield running
    await stop(running)


async def _targets(engine: Engine) -> None:
    await engine.jobs.add_alert("backup", AlertRequest(
        alert_type="webhook", target="https://hooks.example.com/backup?token=s3cret",
        on_timeout=False))
    await engine.jobs.add_alert("backup", AlertRequest(
        alert_type="email", target="ops@example.com", on_failure=False))


async def test_a_failed_run_tells_its_webhook_target_and_pages_its_service(
        running: Running, clock: MockClock) -> None:
    engine = running.engine
    await _targets(engine)
    await engine.jobs.report("backup", RunReport(run_id="r1", status="started"))
    await trio.sleep(30)
    run, outcome = await engine.jobs.report("backup", RunReport(
        run_id="r1", status="failed", exit_code=3, output="disk full\n"))
    assert (outcome, run.status, run.exit_code, run.duration, run.output) == (
        "failed", "failed", 3, pytest.approx(30, abs=0.5), "disk full\n")
    [sent] = await running.job_notices()
    assert (sent.channel, sent.target.startswith("job-alert:"), sent.address,
            sent.incident_number) == (
        "hooks", True, "https://hooks.example.com/backup?token=s3cret", 0)
    shown = notice(sent)
    assert (shown.summary, dict(shown.labels)) == (
        "Job backup failed with exit code 3 (run r1)",
        {"job": "backup", "run_id": "r1", "status": "failed", "exit_code": "3",
         "duration": shown.labels["duration"]})
    assert await running.incident_state() is IncidentState.TRIGGERED
    [incident] = await engine.incidents()
    assert (incident.service, incident.source, incident.summary) == (
        "db", "job", "Job backup failed with exit code 3 (run r1)")
    # the timeout timer went with the run's end
    assert await engine.store.read(lambda reader: reader.timer_count()) == 1  # escalation
    # a later success resolves the service's alert
    await engine.jobs.report("backup", RunReport(run_id="r2", status="succeeded", exit_code=0))
    assert await running.incident_state() is IncidentState.RESOLVED


async def test_a_started_run_past_its_timeout_times_out_by_router_s_own_timer(
        running: Running, clock: MockClock) -> None:
    engine = running.engine
    await _targets(engine)
    await engine.jobs.report("backup", RunReport(run_id="night", status="started"))
    await trio.sleep(119)
    assert (await engine.jobs.runs("backup"))[0].status == "started"
    await trio.sleep(1.5)
    [run] = await engine.jobs.runs("backup")
    assert (run.status, run.ended_at is not None) == ("timed_out", True)
    [mailed] = await running.job_notices()
    assert (mailed.channel, mailed.address) == ("mail", "ops@example.com")
    assert json.loads(mailed.note)["summary"].startswith("Job backup timed out after 120")
    assert await running.incident_state() is IncidentState.TRIGGERED
    # the runner's late end does not overwrite router's verdict; a repeat changes nothing
    with pytest.raises(Conflict, match="run 'night' of job 'backup' already ended timed_out"):
        await engine.jobs.report("backup", RunReport(run_id="night", status="succeeded"))
    _, outcome = await engine.jobs.report("backup", RunReport(run_id="night",
                                                              status="timed_out"))
    assert outcome == "unchanged"


async def test_the_timeout_survives_a_restart(tmp_path: Path, nursery: trio.Nursery,
                                              clock: MockClock) -> None:
    (tmp_path / "router.yaml").write_text(textwrap.dedent(CONFIG))
    first = await start(tmp_path, nursery)
    await first.engine.jobs.report("backup", RunReport(
        run_id="r1", status="started", timeout=timedelta(minutes=10)))
    await stop(first)
    await trio.sleep(3600)  # the daemon was down past the deadline
    second = await start(tmp_path, nursery, START + timedelta(hours=1))
    try:
        await trio.sleep(1)
        [run] = await second.engine.jobs.runs("backup")
        assert run.status == "timed_out"
        assert await second.incident_state() is IncidentState.TRIGGERED
    finally:
        await stop(second)


async def test_a_run_ended_in_time_and_a_job_without_service(running: Running,
                                                             clock: MockClock) -> None:
    engine = running.engine
    await engine.jobs.report("report", RunReport(run_id="a", status="started"))
    _, outcome = await engine.jobs.report("report", RunReport(run_id="a", status="started"))
    assert outcome == "unchanged"
    run, _ = await engine.jobs.report("report", RunReport(run_id="a", status="failed",
                                                          exit_code=1, duration=4.5))
    assert (run.status, run.duration) == ("failed", 4.5)
    assert await engine.incidents() == []  # no service: no alert
    with pytest.raises(NotFound, match="no job 'nightly'"):
        await engine.jobs.report("nightly", RunReport(run_id="a", status="started"))


async def test_jobs_created_over_the_api_sit_beside_the_config_s(running: Running,
                                                                  clock: MockClock) -> None:
    engine = running.engine
    await engine.jobs.create_job(Job(id="nightly", timeout=timedelta(seconds=30)))
    with pytest.raises(Conflict, match=r"job 'backup' exists already \(declared in the config\)"):
        await engine.jobs.create_job(Job(id="backup"))
    with pytest.raises(Conflict, match=r"job 'nightly' exists already \(declared in the API\)"):
        await engine.jobs.create_job(Job(id="nightly"))
    views = await engine.jobs.jobs()
    assert [(view.job.id, view.origin) for view in views] == [
        ("backup", "config"), ("report", "config"), ("nightly", "api")]
    await engine.jobs.report("nightly", RunReport(run_id="x", status="started"))
    await trio.sleep(31)
    assert (await engine.jobs.runs("nightly"))[0].status == "timed_out"


async def test_alert_targets_are_kept_listed_and_removed(running: Running,
                                                         clock: MockClock) -> None:
    engine = running.engine
    await _targets(engine)
    hook, mail = await engine.jobs.alerts("backup")
    assert (hook.alert_type, hook.on_failure, hook.on_timeout) == ("webhook", True, False)
    assert (await engine.jobs.remove_alert(hook.id)).id == hook.id
    assert [alert.id for alert in await engine.jobs.alerts("backup")] == [mail.id]
    with pytest.raises(NotFound, match="no job alert target"):
        await engine.jobs.remove_alert(hook.id)
    with pytest.raises(NotFound):
        await engine.jobs.alerts("nightly")
