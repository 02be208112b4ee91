"""store/analysis.py (issue 21 items 3 and 5): every analysis run kept as it is now, the
runs a restart must take up again, and past incidents of a dedup key or a label set with
their times to acknowledge and resolve, who resolved them and their notes."""

from __future__ import annotations

import itertools
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

from router.alerts.model import Alert, Severity, Status
from router.clock import FixedClock
from router.config import load_config
from router.engine import Engine
from router.store import Transaction, interface
from router.store.values import AnalysisRun
from tests.store.conftest import Backend

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def alert(name: str, status: Status = Status.FIRING, host: str = "db1") -> Alert:
    return Alert(summary=name, source="native", severity=Severity.CRITICAL, status=status,
                 labels={"alertname": name, "host": host}, dedup_key=name)


async def test_a_run_is_kept_as_it_is_now_and_unfinished_ones_are_found(
        backend: Backend) -> None:
    store = await backend.open()
    pending = AnalysisRun(id="a1", incident_number=3, provider="local", created_at=NOW,
                          settings={"provider": "local"}, trace_id="t1")
    done = AnalysisRun(
        id="a2", incident_number=3, provider="openai_compatible", model="llama3.1",
        status="succeeded", fallback_used=True, input_summary="Disk full on db1",
        recommendations=({"type": "disk", "priority": "high", "title": "Free space",
                          "description": "d", "actions": ["du -sh /var/log"],
                          "details": {}},),
        summary="s", probable_cause="logs", confidence=0.5, prompt_tokens=10,
        completion_tokens=5, total_tokens=15, settings={"api_key": "<redacted>"},
        findings={"kinds": ["disk"]}, created_at=NOW + timedelta(seconds=1),
        started_at=NOW + timedelta(seconds=1), completed_at=NOW + timedelta(seconds=3),
        duration_ms=2000.0)
    try:
        await store.write(lambda transaction: transaction.analysis.save(pending))
        await store.write(lambda transaction: transaction.analysis.save(done))
        unfinished = await store.read(lambda reader: reader.analysis.unfinished())
        runs = await store.read(lambda reader: reader.analysis.runs(3))
        await store.write(lambda transaction: transaction.analysis.save(
            AnalysisRun(id="a1", incident_number=3, provider="local", created_at=NOW,
                        status="failed", error="queue full")))
        after = await store.read(lambda reader: (reader.analysis.unfinished(),
                                                 reader.analysis.run("a1")))
    finally:
        await store.close()
    assert [run.id for run in unfinished] == ["a1"]
    assert [run.id for run in runs] == ["a2", "a1"]
    assert runs[0] == done
    assert runs[1].settings == {"provider": "local"} and runs[1].status == "pending"
    assert after[0] == [] and after[1] is not None and after[1].error == "queue full"


async def _engine(tmp_path: Path, backend: Backend, start: datetime
                  ) -> tuple[interface.Store, FixedClock, Engine]:
    """An engine over a new store whose every alert opens an incident on service api."""
    (tmp_path / "config.yaml").write_text(textwrap.dedent("""
        channels: [{id: log, type: log}]
        services: [{id: api, channels: [log]}]
        routes: [{service: api}]
        """))
    store = await backend.open()
    counter = itertools.count(1)
    clock = FixedClock(start)
    return store, clock, Engine(load_config([tmp_path / "config.yaml"]), store, clock,
                                new_id=lambda: f"n{next(counter):03d}")


async def test_past_incidents_by_key_and_by_labels(tmp_path: Path, backend: Backend) -> None:
    store, clock, engine = await _engine(tmp_path, backend, NOW - timedelta(days=40))

    async def fire_and_settle(start: datetime, acknowledge: int | None, resolve: int,
                              host: str = "db1") -> str:
        clock.moment = start
        incident_id = (await engine.ingest([alert("DiskFull", host=host)]))[0].incident_id
        assert incident_id is not None
        if acknowledge is not None:
            clock.moment = start + timedelta(minutes=acknowledge)
            await engine.acknowledge(incident_id, "ann")
        clock.moment = start + timedelta(minutes=resolve)
        await engine.resolve(incident_id, "ben")
        return incident_id

    try:
        await fire_and_settle(NOW - timedelta(days=40), 1, 2)  # outside the 30 days
        await fire_and_settle(NOW - timedelta(days=20), 4, 10)
        second = await fire_and_settle(NOW - timedelta(days=10), None, 30)
        await engine.add_note(second, "cleared /var/log/old", "ben")
        await fire_and_settle(NOW - timedelta(days=5), 2, 20, host="db2")  # other labels
        since = NOW - timedelta(days=30)
        by_key, by_labels, none = await store.read(lambda reader: (
            reader.analysis.past_by_key("DiskFull", since, before=100),
            reader.analysis.past_by_labels({"alertname": "DiskFull", "host": "db1"}, since,
                                           before=100),
            reader.analysis.past_by_key("DiskFull", since, before=2)))
    finally:
        await store.close()
    assert (by_key.count, by_key.last_opened_at) == (3, NOW - timedelta(days=5))
    assert (by_key.median_minutes_to_acknowledge, by_key.median_minutes_to_resolve) == (
        3.0, 20.0)
    assert by_key.resolutions[1] == {"incident": 3, "resolved_by": "ben",
                                     "notes": ("cleared /var/log/old",)}
    assert (by_labels.count, by_labels.median_minutes_to_acknowledge,
            by_labels.median_minutes_to_resolve) == (2, 4.0, 20.0)
    assert none.count == 0 and none.last_opened_at is None


async def test_a_pruned_incident_takes_its_runs_along(tmp_path: Path, backend: Backend) -> None:
    (tmp_path / "config.yaml").write_text("channels: [{id: log, type: log}]\n")
    store = await backend.open()
    clock = FixedClock(NOW - timedelta(days=100))
    engine = Engine(load_config([tmp_path / "config.yaml"]), store, clock)
    try:
        first = (await engine.ingest([alert("DiskFull")]))[0].incident_id
        assert first is not None
        await engine.resolve(first, "ben")
        clock.moment = NOW
        kept = (await engine.ingest([alert("CpuHigh")]))[0].incident_id
        for number in (1, 2):
            def save(transaction: Transaction, number: int = number) -> None:
                transaction.analysis.save(AnalysisRun(
                    id=f"a{number}", incident_number=number, provider="local",
                    created_at=NOW))
            await store.write(save)
        await store.write(lambda transaction: transaction.retention.prune(
            NOW - timedelta(days=90), 10))
        left = await store.read(lambda reader: (reader.analysis.runs(1),
                                                reader.analysis.runs(2)))
    finally:
        await store.close()
    assert kept == "INC2"
    assert ([run.id for run in left[0]], [run.id for run in left[1]]) == ([], ["a2"])


async def test_a_past_incident_cites_only_its_latest_notes(tmp_path: Path,
                                                          backend: Backend) -> None:
    """An incident's notes have no count limit: the past cited (in a model's prompt and in
    each run's audit record) keeps the latest few, so one long-lived incident's thousand
    notes do not grow every later analysis of its key."""
    store, _, engine = await _engine(tmp_path, backend, NOW - timedelta(days=2))
    try:
        incident_id = (await engine.ingest([alert("DiskFull")]))[0].incident_id
        assert incident_id is not None
        for index in range(12):
            await engine.add_note(incident_id, f"note {index}", "ann")
        await engine.resolve(incident_id, "ben")
        past = await store.read(lambda reader: reader.analysis.past_by_key(
            "DiskFull", NOW - timedelta(days=30), before=100))
    finally:
        await store.close()
    assert past.resolutions[0]["resolved_by"] == "ben"
    assert past.resolutions[0]["notes"] == tuple(f"note {index}" for index in range(7, 12))
