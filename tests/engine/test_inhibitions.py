"""Inhibition and time intervals at ingest: an inhibited or muted alert is recorded, not
paged, and its incident says by what; the index of sources is rebuilt from the store after
a restart, follows resolves, and passes over a source another process resolved."""

from __future__ import annotations

import contextlib
import itertools
import textwrap
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest

from router.alerts.identity import alert_identity
from router.alerts.model import Alert, Severity, Silence, SilenceMatcher, Status
from router.clock import FixedClock
from router.config import load_config
from router.config.model import Config
from router.core.heartbeats import Ping, Signal
from router.engine import Engine
from router.errors import StoreUnavailable
from router.store import Store, interface
from tests.fakes.full_disk import full_disk

T = TypeVar("T")

CONFIG = """
settings: {timezone: Europe/Berlin}
channels:
  - {id: log, type: log}
escalation_policies:
  - id: default
    levels: [{targets: [{channel: log}], delay: 15m}]
services:
  - {id: api, escalation_policy: default, channels: [log]}
time_intervals:
  - name: weekends
    time_intervals: [{weekdays: ['saturday:sunday']}]
routes:
  - match: [team=batch]
    service: api
    mute_time_intervals: [weekends]
  - service: api
inhibit_rules:
  - name: node-down
    source_matchers: ['alertname="NodeDown"']
    target_matchers: ['severity="warning"']
    equal: [instance]
"""
MONDAY = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
IDS = itertools.count(1)
"""One id sequence for every engine of a test, as two processes' time-ordered ids differ."""


@pytest.fixture
def config(tmp_path: Path) -> Config:
    (tmp_path / "config.yaml").write_text(textwrap.dedent(CONFIG))
    return load_config([tmp_path / "config.yaml"])


@pytest.fixture
async def store(tmp_path: Path) -> Store:
    return await Store.open(tmp_path / "state.db")


class _LostRace(Exception):
    """The first run of a unit, undone as another node's commit would undo it."""


class RunsUnitsTwice(Store):
    """SQLite's store running each unit of work twice, the first run rolled back: what the
    PostgreSQL store does to a unit another node's transaction broke (a deadlock, or the
    same incident opened first), store/postgres.py `_run_unit`. The engine sees one write."""

    async def write(self, work: Callable[[interface.Transaction], T]) -> T:
        def first_run(transaction: interface.Transaction) -> T:
            work(transaction)
            raise _LostRace
        with contextlib.suppress(_LostRace):
            await super().write(first_run)
        return await super().write(work)


def make_engine(config: Config, store: Store, moment: datetime = MONDAY) -> Engine:
    return Engine(config, store, FixedClock(moment), new_id=lambda: f"n{next(IDS)}")


def node_down(status: Status = Status.FIRING, instance: str = "db1") -> Alert:
    return Alert(summary="node down", source="native", severity=Severity.CRITICAL,
                 status=status, labels={"alertname": "NodeDown", "instance": instance})


def disk_full(instance: str = "db1") -> Alert:
    return Alert(summary="disk full", source="native", severity=Severity.WARNING,
                 labels={"alertname": "DiskFull", "instance": instance})


async def triggers(engine: Engine, incident_id: str) -> int:
    pending = await engine.store.read(lambda reader: reader.pending_notifications())
    number = int(incident_id.removeprefix("INC"))
    return sum(1 for item in pending
               if item.incident_number == number and item.event == "trigger")


async def test_an_inhibited_alert_is_recorded_not_paged_and_says_by_what(
        config: Config, store: Store) -> None:
    engine = make_engine(config, store)
    [source] = await engine.ingest([node_down()])
    [target] = await engine.ingest([disk_full()])
    [other] = await engine.ingest([disk_full("db2")])
    assert (source.incident_id, source.suppressed_by) == ("INC1", None)
    assert (target.incident_id, target.suppressed_by) == ("INC2", "inhibition:node-down")
    assert (other.incident_id, other.suppressed_by) == ("INC3", None)
    assert [await triggers(engine, incident) for incident in ("INC1", "INC2", "INC3")] == [
        2, 0, 2]  # the service's channel and level 1's
    detail = await engine.incident("INC2")
    assert detail is not None
    assert (detail.incident.suppressed_by, detail.incident.level) == (
        "inhibition:node-down", 0)
    assert [(entry.action, dict(entry.details)) for entry in detail.timeline] == [
        ("opened", {"summary": "disk full", "severity": "warning"}),
        ("suppressed", {"by": "inhibition:node-down"})]
    assert detail.alerts[0]["suppressed_by"] == "inhibition:node-down"


async def test_when_the_source_resolves_the_target_pages_at_once(
        config: Config, store: Store) -> None:
    engine = make_engine(config, store)
    await engine.ingest([node_down()])
    [held] = await engine.ingest([disk_full()])
    assert held.suppressed_by == "inhibition:node-down"
    [still] = await engine.ingest([disk_full()])  # re-sent while the source fires
    assert (still.suppressed_by, await triggers(engine, "INC2")) == (
        "inhibition:node-down", 0)
    await engine.ingest([node_down(Status.RESOLVED)])  # no re-send of the target needed
    assert await triggers(engine, "INC2") == 2
    detail = await engine.incident("INC2")
    assert detail is not None
    assert (detail.incident.suppressed_by, detail.incident.level) == (None, 1)
    assert [entry.action for entry in detail.timeline] == [
        "opened", "suppressed", "suppression ended", "notified", "notified"]
    [again] = await engine.ingest([disk_full()])  # a re-send pages nobody again
    assert (again.suppressed_by, await triggers(engine, "INC2")) == (None, 2)


async def test_a_released_target_that_is_silenced_says_so(config: Config,
                                                           store: Store) -> None:
    engine = make_engine(config, store)
    await engine.ingest([node_down()])
    await engine.ingest([disk_full()])
    await engine.add_silence(Silence(
        id="s1", reason="disk swap", created_by="ann", starts_at=MONDAY,
        ends_at=MONDAY + timedelta(hours=1),
        matchers=(SilenceMatcher(name="alertname", operator="=", value="DiskFull"),)))
    await engine.ingest([node_down(Status.RESOLVED)])
    detail = await engine.incident("INC2")
    assert detail is not None
    assert (detail.incident.suppressed_by, detail.incident.level) == ("silence:s1", 0)
    assert await triggers(engine, "INC2") == 0


async def test_an_acknowledged_target_is_not_paged_when_released(config: Config,
                                                                  store: Store) -> None:
    engine = make_engine(config, store)
    await engine.ingest([node_down()])
    await engine.ingest([disk_full()])
    await engine.acknowledge("INC2", "ann")
    await engine.ingest([node_down(Status.RESOLVED)])
    assert await triggers(engine, "INC2") == 0


async def test_a_target_in_the_same_batch_as_the_resolve_pages(config: Config,
                                                                 store: Store) -> None:
    engine = make_engine(config, store)
    await engine.ingest([node_down()])
    [target, _] = await engine.ingest([disk_full(), node_down(Status.RESOLVED)])
    assert target.suppressed_by == "inhibition:node-down"
    assert await triggers(engine, "INC2") == 2


async def test_a_resolve_by_hand_ends_the_inhibition(config: Config, store: Store) -> None:
    engine = make_engine(config, store)
    await engine.ingest([node_down()])
    await engine.ingest([disk_full()])
    await engine.resolve("INC1", "alice")
    assert await triggers(engine, "INC2") == 2
    [target] = await engine.ingest([disk_full("db3")])
    assert target.suppressed_by is None


async def test_an_acknowledged_source_still_inhibits(config: Config, store: Store) -> None:
    engine = make_engine(config, store)
    await engine.ingest([node_down()])
    await engine.acknowledge("INC1", "alice")
    [target] = await engine.ingest([disk_full()])
    assert target.suppressed_by == "inhibition:node-down"


async def test_after_a_restart_the_sources_are_read_from_the_store(
        config: Config, store: Store) -> None:
    await make_engine(config, store).ingest([node_down(), node_down(instance="db2"),
                                             node_down(Status.RESOLVED, instance="db2")])
    restarted = make_engine(config, store)
    [first, second] = await restarted.ingest([disk_full(), disk_full("db2")])
    assert (first.suppressed_by, second.suppressed_by) == ("inhibition:node-down", None)
    again = make_engine(config, store)  # the held incident is in the store too
    await again.ingest([node_down(Status.RESOLVED)])
    assert await triggers(again, first.incident_id or "") == 2


async def test_a_source_resolved_elsewhere_inhibits_no_more(config: Config,
                                                             store: Store) -> None:
    engine = make_engine(config, store)
    await engine.ingest([node_down()])
    # another engine over the same store (a second process) resolves it; this engine's
    # index does not hear of it, finds the source closed and passes over it
    await make_engine(config, store).ingest([node_down(Status.RESOLVED)])
    [target] = await engine.ingest([disk_full()])
    assert target.suppressed_by is None
    [again] = await engine.ingest([disk_full("db9")])
    assert again.suppressed_by is None


async def test_a_reload_with_other_rules_rebuilds_the_index(config: Config, store: Store,
                                                            tmp_path: Path) -> None:
    engine = make_engine(config, store)
    await engine.ingest([node_down()])
    (tmp_path / "config.yaml").write_text(textwrap.dedent(CONFIG).replace(
        "equal: [instance]", "equal: [rack]"))
    engine.use_config(load_config([tmp_path / "config.yaml"]))
    [target] = await engine.ingest([disk_full("db7")])  # rack missing on both sides
    assert target.suppressed_by == "inhibition:node-down"


async def test_a_route_muted_by_a_time_interval_records_without_paging(
        config: Config, store: Store) -> None:
    batch = Alert(summary="batch late", source="native", labels={"team": "batch"})
    saturday = make_engine(config, store, MONDAY + timedelta(days=5))
    [muted] = await saturday.ingest([batch])
    assert muted.suppressed_by == "time_interval:weekends"
    assert await triggers(saturday, "INC1") == 0
    monday = make_engine(config, store, MONDAY + timedelta(days=7))
    [paged] = await monday.ingest([batch])
    assert (paged.incident_id, paged.suppressed_by) == ("INC1", None)
    assert await triggers(monday, "INC1") == 2


async def test_a_source_that_goes_stale_at_its_ends_at_releases_its_targets(
        config: Config, store: Store) -> None:
    """The source resolves by its deadline (engine/expiry.py), not by an alert or a person:
    what it held pages then too."""
    engine = make_engine(config, store)
    ends_at = MONDAY + timedelta(minutes=5)
    await engine.ingest([replace(node_down(), ends_at=ends_at)])
    [held] = await engine.ingest([disk_full()])
    assert held.suppressed_by == "inhibition:node-down"
    kind = "expire:" + alert_identity(node_down().labels)
    assert await engine.timer_fired(1, kind, ends_at) == "resolved"
    assert await triggers(engine, "INC2") == 2
    detail = await engine.incident("INC2")
    assert detail is not None
    assert (detail.incident.suppressed_by, detail.incident.level) == (None, 1)


@pytest.mark.parametrize("resolve", ["alert", "by hand"])
async def test_a_release_rolled_back_and_run_again_still_pages_the_target(
        config: Config, tmp_path: Path, resolve: str) -> None:
    """The unit that resolves the source runs twice on a store that retries it (PostgreSQL
    after another node's commit broke it): the first run's release of the target was
    rolled back with it, so the second run must release it again."""
    store = await RunsUnitsTwice.open(tmp_path / "retried.db")
    engine = make_engine(config, store)
    [source] = await engine.ingest([node_down()])
    [held] = await engine.ingest([disk_full()])
    assert held.incident_id is not None and source.incident_id is not None
    assert (held.suppressed_by, await triggers(engine, held.incident_id)) == (
        "inhibition:node-down", 0)
    if resolve == "alert":
        await engine.ingest([node_down(Status.RESOLVED)])
    else:
        await engine.resolve(source.incident_id, "alice")
    assert await triggers(engine, held.incident_id) == 2
    detail = await engine.incident(held.incident_id)
    assert detail is not None
    assert (detail.incident.suppressed_by, detail.incident.level) == (None, 1)


HEARTBEAT_SOURCE = """
channels: [{id: log, type: log}]
services: [{id: backups, channels: [log]}]
heartbeats: [{id: backup, service: backups, period: 1h, grace: 10m,
              token: 0123456789abcdef0123}]
routes: [{service: backups}]
inhibit_rules:
  - {name: backup-failed, source_matchers: ['alertname="HeartbeatFailed"'],
     target_matchers: ['alertname="BackupLate"']}
"""


async def test_a_heartbeat_unit_that_fails_leaves_the_index_as_committed(
        tmp_path: Path) -> None:
    """A ping whose unit does not commit (a full disk) took its heartbeat's failure out of
    the index as it went; the failure still fires in the store, so it still inhibits."""
    (tmp_path / "config.yaml").write_text(HEARTBEAT_SOURCE)
    disk = full_disk()
    store = await Store.open(tmp_path / "state.db", writer_factory=disk)
    engine = make_engine(load_config([tmp_path / "config.yaml"]), store)
    heartbeat = engine.heartbeats.identify("backup", "0123456789abcdef0123")
    await engine.heartbeats.ping(heartbeat, Ping(signal=Signal.FAILURE, exit_code=1))
    late = Alert(summary="backup late", source="native", severity=Severity.WARNING,
                 labels={"alertname": "BackupLate"})
    [held] = await engine.ingest([late])
    assert held.suppressed_by == "inhibition:backup-failed"
    disk.full = True
    with pytest.raises(StoreUnavailable):
        await engine.heartbeats.ping(heartbeat, Ping(signal=Signal.SUCCESS))
    disk.full = False
    [again] = await engine.ingest([late])
    assert (again.incident_id, again.suppressed_by) == (
        held.incident_id, "inhibition:backup-failed")
    await store.close()
