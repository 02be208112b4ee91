"""engine/analysis.py (issue 21 item 1): an incident's analysis runs after its first page is
committed, in a bounded pool with a timeout; a provider that hangs delays no page; a full
queue fails the run instead of piling up; the result reaches the store, the timeline, the
incident's API and, as a follow-up, the channels that ask for it (a real webhook receiver
on loopback); a restart takes up runs left pending or running.
"""

from __future__ import annotations

import json
import textwrap
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trio
import trio.lowlevel
import trio.testing

from router.alerts.model import Alert, Severity
from router.analysis.model import Provider, Recommendation, Request, Result
from router.clock import TrioClock
from router.config import load_config
from router.config.model import Analysis
from router.engine import Engine
from router.engine.analysis import Analyses, Pool
from router.notify.deliver import Deliverer
from router.notify.transport import Transport
from router.store import Store
from router.store.values import AnalysisRun
from tests.fakes.webhook import FakeWebhook, serve_fake_webhook
from tests.tasks import start_stoppable

EPOCH = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)


def config_text(url: str) -> str:
    return textwrap.dedent(f"""
        channels:
          - {{id: hook, type: webhook, url: "{url}", follow_up: analysis}}
          - {{id: log, type: log}}
        services:
          - id: db
            channels: [hook, log]
            analysis: {{provider: local, timeout: 30s}}
          - id: api
            channels: [hook]
        routes:
          - {{match: ["service_name=api"], service: api}}
          - service: db
        """)


class Hanging:
    """A provider that never answers until the test lets it go (its thread is abandoned
    at the timeout)."""

    name = "hanging"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls: list[str] = []

    def analyse(self, request: Request) -> Result:
        self.calls.append(request.incident_id)
        self.release.wait(60)
        raise RuntimeError("released")


class Quick:
    name = "quick"

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.on_main_thread: list[bool] = []

    def analyse(self, request: Request) -> Result:
        self.requests.append(request)
        self.on_main_thread.append(threading.current_thread() is threading.main_thread())
        return Result(summary=f"{request.title}: looked at disk; 1 recommendation",
                      probable_cause="/var is 97% full", recommendations=(Recommendation(
                          type="disk", priority="critical", title="/var is 97% full",
                          description="1 GiB free", actions=("du -xsh /var/*",)),))


class Harness:
    def __init__(self, tmp_path: Path, nursery: trio.Nursery, url: str) -> None:
        self.tmp_path, self.nursery = tmp_path, nursery
        (tmp_path / "router.yaml").write_text(config_text(url))

    async def start(self, provider: Provider, pool: Pool | None = None) -> Engine:
        self.store = await Store.open(self.tmp_path / "router.db", synchronous="NORMAL")
        engine = Engine(load_config([self.tmp_path / "router.yaml"]), self.store,
                        TrioClock(EPOCH))
        engine.analysis = Analyses(engine.state, pool=pool or engine.analysis.pool,
                                   providers=lambda _: provider)
        engine.ingesting.analyses = engine.analysis
        self.transport = Transport()
        deliverer = Deliverer(self.store, engine.clock, lambda: engine.config, self.transport)
        engine.outbox_written = deliverer.wake
        self.scopes = [await start_stoppable(self.nursery, deliverer.run),
                       await start_stoppable(self.nursery, engine.analysis.run)]
        return engine

    async def stop(self) -> None:
        for scope in self.scopes:
            scope.cancel()
        await trio.lowlevel.checkpoint()
        await self.transport.aclose()
        await self.store.close()


@pytest.fixture
async def receiver(nursery: trio.Nursery) -> FakeWebhook:
    return await nursery.start(serve_fake_webhook)


@pytest.fixture
async def harness(tmp_path: Path, nursery: trio.Nursery, receiver: FakeWebhook
                  ) -> AsyncIterator[Harness]:
    made = Harness(tmp_path, nursery, receiver.url)
    yield made
    await made.stop()


async def wait_for(condition: Callable[[], bool], limit: float) -> None:
    with trio.fail_after(limit):
        while not condition():  # noqa: ASYNC110 (the receiver has no event to wait on)
            await trio.sleep(0.01)


async def runs_of(engine: Engine, incident_id: str) -> list[AnalysisRun]:
    return await engine.analysis.runs(incident_id)


def alert(name: str, **labels: str) -> Alert:
    return Alert(summary=name, source="test", severity=Severity.CRITICAL,
                 labels={"alertname": name, **labels})


async def test_a_hanging_provider_delays_no_page_and_its_run_fails_at_the_timeout(
        harness: Harness, receiver: FakeWebhook, autojump_clock: trio.testing.MockClock
        ) -> None:
    autojump_clock.autojump_threshold = 0.05  # real socket and SQLite work finish first
    hanging = Hanging()
    try:
        engine = await harness.start(hanging)
        first = (await engine.ingest([alert("DiskFull")]))[0].incident_id
        assert first is not None
        await wait_for(lambda: len(receiver.accepted) == 1 and bool(hanging.calls), 5)
        second = (await engine.ingest([alert("ApiDown", service_name="api")]))[0].incident_id
        await wait_for(lambda: len(receiver.accepted) == 2, 5)
        assert trio.current_time() < 10  # both pages out long before the analysis timeout
        assert [run.status for run in await runs_of(engine, first)] == ["running"]
        await trio.sleep(40)
        runs = await runs_of(engine, first)
        assert [(run.status, run.error) for run in runs] == [("failed", "no result in 30s")]
        assert second is not None and await runs_of(engine, second) == []  # api: no analysis
        detail = await engine.incident(first)
        assert detail is not None
        assert [entry.action for entry in detail.timeline][-1] == "analysis failed"
        assert len(receiver.accepted) == 2  # a failed analysis sends no follow-up
    finally:
        hanging.release.set()


async def test_a_full_queue_fails_the_run_instead_of_piling_up(
        harness: Harness, autojump_clock: trio.testing.MockClock) -> None:
    autojump_clock.autojump_threshold = 0.05
    hanging = Hanging()
    with (harness.tmp_path / "router.yaml").open("a") as config:  # the engine's own pool
        config.write("settings:\n  analysis_pool: {workers: 1, queue: 1}\n")
    try:
        engine = await harness.start(hanging)
        assert engine.analysis.pool == Pool(workers=1, queue=1)
        accepted = await engine.ingest([alert(f"Disk{index}") for index in range(4)])
        await trio.sleep(1)
        runs = [(await runs_of(engine, item.incident_id or ""))[0] for item in accepted]
        found = [(run.status, run.error) for run in runs]
        # one runs, at most one waits in the queue (the worker may have taken the first
        # before the dispatcher offered the second), the rest failed at once
        assert found[0] == ("running", "")
        assert found[1] in (("pending", ""), ("failed", "queue full"))
        assert found[2:] == [("failed", "queue full")] * 2
    finally:
        hanging.release.set()


async def test_the_result_is_stored_shown_and_sent_to_the_channels_that_ask(
        harness: Harness, receiver: FakeWebhook) -> None:
    quick = Quick()
    engine = await harness.start(quick)
    incident_id = (await engine.ingest([alert("DiskFull", host="db1")]))[0].incident_id
    assert incident_id is not None
    await wait_for(lambda: len(receiver.accepted) == 2, 10)
    trigger, follow_up = (json.loads(item.body) for item in receiver.accepted)
    assert (trigger["event"], follow_up["event"]) == ("trigger", "analysis")
    assert follow_up["title"] == "Analysis of INC1: DiskFull"
    assert follow_up["text"] == (
        "DiskFull: looked at disk; 1 recommendation\nProbable cause: /var is 97% full\n"
        "- [critical] /var is 97% full: 1 GiB free\n\n"
        "Incident: http://127.0.0.1:9080/ui/incidents/INC1")
    runs = await runs_of(engine, incident_id)
    assert len(runs) == 1
    run = runs[0]
    assert (run.status, run.provider, run.probable_cause, run.error) == (
        "succeeded", "local", "/var is 97% full", "")
    assert run.recommendations[0]["actions"] == ["du -xsh /var/*"]
    assert run.input_summary == ("INC1 [critical] DiskFull (alertname=DiskFull, host=db1); "
                                 "0 check result(s)")
    assert run.settings["provider"] == "local" and run.started_at is not None
    assert quick.requests[0].past["by_key"]["count"] == 0
    assert quick.on_main_thread == [False]  # a worker thread, never the trio thread
    detail = await engine.incident(incident_id)
    assert detail is not None
    entry = detail.timeline[-1]
    assert (entry.action, entry.details["status"], entry.details["recommendations"]) == (
        "analysis succeeded", "succeeded", "1")
    deliveries = await engine.deliveries(incident_id=incident_id)
    assert sorted((item.channel, item.event) for item in deliveries) == [
        ("hook", "analysis"), ("hook", "trigger"), ("log", "trigger")]


async def test_the_run_is_written_with_the_first_page_and_not_before(
        harness: Harness) -> None:
    quick = Quick()
    engine = await harness.start(quick)
    harness.scopes[1].cancel()  # no pool: the run stays as the page's unit wrote it
    await trio.lowlevel.checkpoint()
    incident_id = (await engine.ingest([alert("DiskFull")]))[0].incident_id
    assert incident_id is not None
    pending = await runs_of(engine, incident_id)
    notified = await engine.store.read(lambda reader: reader.notified_channels(1))
    assert [run.status for run in pending] == ["pending"] and notified == ["hook", "log"]
    repeat = await engine.ingest([alert("DiskFull")])  # joins: no second run
    assert repeat[0].incident_id == incident_id
    assert len(await runs_of(engine, incident_id)) == 1


async def test_every_new_incident_gets_its_run_also_when_opened_on_the_trio_thread(
        harness: Harness) -> None:
    """Once the store's memory holds the open incidents, a new alert is opened the quick
    way (engine/openings.py), not the ordinary one: its page's unit writes the run too."""
    quick = Quick()
    engine = await harness.start(quick)
    harness.scopes[1].cancel()  # no pool: the runs stay as the pages' units wrote them
    await trio.lowlevel.checkpoint()
    accepted = []
    for name in ("DiskFull", "OOMKill", "HighCPU"):
        accepted += await engine.ingest([alert(name)])
    assert engine.ingesting.openings.planned >= 1  # the quick way was taken
    for item in accepted:
        assert item.action == "opened" and item.incident_id is not None
        runs = await runs_of(engine, item.incident_id)
        assert [run.status for run in runs] == ["pending"], item.incident_id


async def test_a_restart_takes_up_runs_left_pending_or_running(
        tmp_path: Path, nursery: trio.Nursery, receiver: FakeWebhook) -> None:
    harness = Harness(tmp_path, nursery, receiver.url)
    quick = Quick()
    engine = await harness.start(Hanging(), Pool(workers=1, queue=4))
    harness.scopes[1].cancel()  # the pool stops before anything runs
    incident_id = (await engine.ingest([alert("DiskFull")]))[0].incident_id
    await engine.store.write(lambda transaction: transaction.analysis.save(AnalysisRun(
        id="left-running", incident_number=1, provider="local", status="running",
        created_at=EPOCH - timedelta(minutes=1))))
    await wait_for(lambda: len(receiver.accepted) == 1, 10)  # the page, before the stop
    await harness.stop()
    engine = await harness.start(quick)
    try:
        assert incident_id is not None
        await wait_for(lambda: len(quick.requests) == 2, 10)
        # two follow-ups (the trigger may come twice: a stop can cut its record short)
        await wait_for(lambda: [json.loads(item.body)["event"] for item in receiver.accepted
                                ].count("analysis") == 2, 10)
        runs = await runs_of(engine, incident_id)
        assert sorted((run.id == "left-running", run.status) for run in runs) == [
            (False, "succeeded"), (True, "succeeded")]
    finally:
        await harness.stop()


def test_the_local_provider_is_the_default(tmp_path: Path) -> None:
    from router.analysis.local import LocalProvider
    from router.engine.analysis import provider_for
    assert isinstance(provider_for(Analysis(provider="local")), LocalProvider)


def test_a_model_provider_falls_back_to_the_local_one() -> None:
    from router.analysis.local import LocalProvider
    from router.analysis.openai import ModelProvider
    from router.engine.analysis import provider_for
    made = provider_for(Analysis(provider="openai_compatible", base_url="http://127.0.0.1:1",
                                 model="m"))
    assert isinstance(made, ModelProvider) and isinstance(made.fallback, LocalProvider)


async def test_a_local_check_s_metrics_reach_the_provider(harness: Harness,
                                                          receiver: FakeWebhook) -> None:
    quick = Quick()
    engine = await harness.start(quick)
    await engine.ingest([Alert(
        summary="check disk on db1 is critical: / is 97% full", source="check",
        severity=Severity.CRITICAL, labels={"alertname": "disk", "check": "disk"},
        annotations={"message": "/ is 97% full", "check_status": "critical",
                     "metric.disk_percent:/": "97", "health.cpu": "ok: load 0.2"})])
    await wait_for(lambda: bool(quick.requests), 10)
    assert dict(quick.requests[0].checks) == {
        "disk": {"status": "critical", "message": "/ is 97% full",
                 "metrics": {"disk_percent:/": 97.0}},
        "cpu": {"status": "ok", "message": "ok: load 0.2"}}


class FailingReads:
    """The store, but its reads fail while `failing` (a disk that went away)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.failing = True

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)

    async def read(self, query: Callable[..., object]) -> object:
        from router.errors import StoreUnavailable
        if self.failing:
            raise StoreUnavailable("disk I/O error")
        return await self.store.read(query)


async def test_a_store_failure_leaves_the_runs_waiting_not_the_pool_dead(
        tmp_path: Path, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock) -> None:
    autojump_clock.autojump_threshold = 0.05
    (tmp_path / "router.yaml").write_text(config_text("http://127.0.0.1:9/hook"))
    store = await Store.open(tmp_path / "router.db", synchronous="NORMAL")
    failing = FailingReads(store)
    engine = Engine(load_config([tmp_path / "router.yaml"]), store, TrioClock(EPOCH))
    quick = Quick()
    analyses = Analyses(engine.state, providers=lambda _: quick)
    engine.ingesting.analyses = analyses
    try:
        await engine.ingest([alert("DiskFull")])
        engine.state.store = failing  # type: ignore[assignment]  # the store fails now
        scope = await start_stoppable(nursery, analyses.run)
        await trio.sleep(5)
        assert quick.requests == []
        failing.failing = False
        await trio.sleep(61)  # the next poll
        assert [request.incident_id for request in quick.requests] == ["INC1"]
        scope.cancel()
    finally:
        await store.close()


class FellBack(Quick):
    """A model's provider whose model failed: the local result, with why."""

    def analyse(self, request: Request) -> Result:
        return replace(super().analyse(request), fallback_used=True,
                       error="the model answered 500")


async def test_a_fallback_s_reason_is_on_the_timeline(harness: Harness) -> None:
    """`router incident show` said fallback_used=true and not why."""
    engine = await harness.start(FellBack())
    incident_id = (await engine.ingest([alert("DiskFull")]))[0].incident_id
    assert incident_id is not None
    with trio.fail_after(10):
        while [run.status for run in await runs_of(engine, incident_id)] != [  # noqa: ASYNC110
                "succeeded"]:  # the store has no event to wait on
            await trio.sleep(0.01)
    detail = await engine.incident(incident_id)
    assert detail is not None
    entry = detail.timeline[-1]
    assert (entry.action, entry.details["fallback_used"], entry.details["error"]) == (
        "analysis succeeded", "true", "the model answered 500")


async def test_an_incident_opened_once_the_store_s_memory_is_warm_gets_its_run(
        harness: Harness, autojump_clock: trio.testing.MockClock) -> None:
    """The first incident takes the ordinary way; the next ones are decided on the trio
    thread (engine/openings.py, once the store's memory holds every open incident) and
    queue their analysis all the same (they queued none before)."""
    autojump_clock.autojump_threshold = 0.05
    engine = await harness.start(Quick())
    for index in range(3):
        [accepted] = await engine.ingest([alert(f"DiskFull{index}")])
        assert accepted.incident_id is not None
        runs = await runs_of(engine, accepted.incident_id)
        assert [(run.incident_number, run.provider) for run in runs] == [
            (index + 1, "local")], index


async def test_only_a_unit_that_wrote_a_pending_run_wakes_the_dispatcher(
        harness: Harness, autojump_clock: trio.testing.MockClock) -> None:
    """A wake costs the dispatcher a read of the store: an incident without analysis, or
    a repeat, does not wake it (issue 15); one with analysis does."""
    autojump_clock.autojump_threshold = 0.05
    engine = await harness.start(Quick())
    woken: list[int] = []
    engine.analysis.wake = lambda: woken.append(1)  # type: ignore[method-assign]
    for index in range(3):
        await engine.ingest([alert(f"ApiDown{index}", service_name="api")])
    await engine.ingest([alert("ApiDown0", service_name="api")])
    assert woken == []
    await engine.ingest([alert("DiskFull")])
    await engine.ingest([alert("DiskFull1"), alert("ApiDown9", service_name="api")])
    assert woken == [1, 1]
