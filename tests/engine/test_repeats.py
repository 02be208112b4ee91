"""Repeats of an alert update its row instead of adding one (issue 13 item 7): Prometheus
re-sends every firing alert each evaluation cycle, so rows per repeat grow the store for ever.
"""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from router.alerts.model import Alert, Severity, Status
from router.clock import FixedClock
from router.config import load_config
from router.engine import Engine
from router.engine.views import detail_json
from router.store import Store

CONFIG = """
channels: [{id: log, type: log}]
services: [{id: api, channels: [log]}]
routes: [{service: api}]
"""
START = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)


@pytest.fixture
async def engine(tmp_path: Path) -> Engine:
    (tmp_path / "config.yaml").write_text(textwrap.dedent(CONFIG))
    store = await Store.open(tmp_path / "state.db")
    return Engine(load_config([tmp_path / "config.yaml"]), store, FixedClock(START))


def alert(status: Status = Status.FIRING, summary: str = "Disk full", **labels: str) -> Alert:
    return Alert(summary=summary, source="native", severity=Severity.CRITICAL, status=status,
                 labels={"alertname": "DiskFull", **labels}, dedup_key="disk")


async def alert_rows(engine: Engine) -> int:
    return await engine.store.read(
        lambda reader: reader.connection.execute("SELECT count(*) FROM alerts").fetchone()[0])


async def test_a_repeated_alert_updates_its_row_and_the_incident_counts_every_arrival(
        engine: Engine) -> None:
    clock = engine.clock
    assert isinstance(clock, FixedClock)
    await engine.ingest([alert(host="db1")])
    for _ in range(4):
        clock.advance(timedelta(minutes=1))
        await engine.ingest([alert(host="db1", summary="Disk 99% full")])
    await engine.ingest([alert(host="db2"), alert(host="db2")])  # twice in one request
    assert await alert_rows(engine) == 2
    detail = await engine.incident("INC1")
    assert detail is not None
    document = detail_json(detail)
    assert document["incident"]["alert_count"] == 7
    first, second = document["alerts"]
    assert (first["labels"], first["count"], first["received_at"], first["last_received_at"],
            first["summary"]) == (
        {"alertname": "DiskFull", "host": "db1"}, 5, "2026-11-23T11:00:00+00:00",
        "2026-11-23T11:04:00+00:00", "Disk 99% full")
    assert (second["labels"]["host"], second["count"]) == ("db2", 2)


async def test_a_resolve_and_a_new_incident_are_rows_of_their_own(engine: Engine) -> None:
    await engine.ingest([alert(host="db1")])
    await engine.ingest([alert(Status.RESOLVED, host="db1")])
    await engine.ingest([alert(Status.RESOLVED, host="db1")])  # re-sent: no incident is open
    await engine.ingest([alert(Status.RESOLVED, host="db1")])
    reopened = await engine.ingest([alert(host="db1")])
    assert reopened[0].incident_id == "INC2"
    rows = await engine.store.read(lambda reader: [tuple(row) for row in reader.connection.execute(
        "SELECT incident_number, status, count FROM alerts ORDER BY id")])
    assert rows == [(1, "firing", 1), (1, "resolved", 1), (None, "resolved", 2),
                    (2, "firing", 1)]


async def test_the_same_alert_through_two_senders_is_two_rows(engine: Engine) -> None:
    """Alertmanager's v2 API and its webhook can carry one alert; the detail shows both."""
    await engine.ingest([alert(host="db1"), alert(host="db1")])
    other = Alert(summary="Disk full", source="grafana", severity=Severity.CRITICAL,
                  labels={"alertname": "DiskFull", "host": "db1"}, dedup_key="disk")
    await engine.ingest([other])
    detail = await engine.incident("INC1")
    assert detail is not None
    assert [(row["source"], row["count"]) for row in detail.alerts] == [
        ("native", 2), ("grafana", 1)]
