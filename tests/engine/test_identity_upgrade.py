"""An incident opened before issue 15 keeps working after the upgrade.

Issue 15 changed the identity of an alert within its incident (core/incidents.py
`alert_identity`, xxh3) from the SHA-256 `label_fingerprint` the store holds for incidents
opened before. Such an incident, in a state directory made before the upgrade, must neither
count its own alerts as new ones nor stay open once its last alert is resolved; dedup keys
(what users see) did not change, so its alerts still find it.
"""

from __future__ import annotations

import itertools
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from router.alerts.identity import fingerprint
from router.alerts.model import Alert, IncidentState, Severity, Status
from router.clock import FixedClock
from router.config import load_config
from router.core.incidents import alert_identity, label_fingerprint
from router.engine import Engine
from router.engine.legacy_keys import LegacyKeys
from router.store import Store, Transaction
from tests.engine.test_engine import CONFIG, MONDAY_NOON, alert


@pytest.fixture
async def engine(tmp_path: Path) -> Engine:
    (tmp_path / "config.yaml").write_text(textwrap.dedent(CONFIG))
    store = await Store.open(tmp_path / "state.db")
    counter = itertools.count(1)
    return Engine(load_config([tmp_path / "config.yaml"]), store, FixedClock(MONDAY_NOON),
                  new_id=lambda: f"n{next(counter)}")


async def _as_before_the_upgrade(engine: Engine, dedup_key: str) -> None:
    """Store the open incident's firing set as the code before issue 15 wrote it."""
    def rewrite(transaction: Transaction) -> None:
        found = transaction.open_incident(dedup_key)
        assert found is not None
        incident, firing = found
        assert firing == {alert_identity(alert(host="db1").labels),
                          alert_identity(alert(host="db2").labels)}
        transaction.save_incident(incident, {label_fingerprint(alert(host="db1").labels),
                                             label_fingerprint(alert(host="db2").labels)})
    await engine.store.write(rewrite)


async def test_an_incident_from_before_the_upgrade_resolves_with_its_alerts(
        engine: Engine) -> None:
    await engine.ingest([alert(host="db1"), alert(host="db2")])
    await _as_before_the_upgrade(engine, "DiskFull")
    again = await engine.ingest([alert(host="db1")])
    assert [(item.incident_id, item.action) for item in again] == [("INC1", "updated")]
    first = await engine.ingest([alert(Status.RESOLVED, host="db1")])
    assert first[0].action == "updated"  # db2 still fires
    last = await engine.ingest([alert(Status.RESOLVED, host="db2")])
    assert (last[0].incident_id, last[0].action) == ("INC1", "resolved")
    detail = await engine.incident("INC1")
    assert detail is not None and detail.incident.state is IncidentState.RESOLVED
    assert [entry.action for entry in detail.timeline if entry.actor.startswith("source")] == [
        "opened", "alert joined", "alert resolved", "resolved"]


async def test_an_alertmanager_incident_keyed_by_its_fingerprint_before_the_upgrade_is_found(
        engine: Engine) -> None:
    """Before issue 15 an Alertmanager alert's dedup key was Alertmanager's fingerprint; such
    an incident, still open, takes the same alert after the upgrade (not a second incident)
    and keeps its key (a PagerDuty channel resolves it by that key)."""
    labels = {"alertname": "DiskFull", "instance": "db1", "severity": "critical"}
    sent = Alert(summary="disk full", source="alertmanager_v2", severity=Severity.CRITICAL,
                 labels=labels, dedup_key=alert_identity(labels))
    [opened] = await engine.ingest([sent])

    def as_before(transaction: Transaction) -> None:
        found = transaction.open_incident(sent.dedup_key or "")
        assert found is not None
        incident, firing = found
        transaction.save_incident(replace(incident, dedup_key=fingerprint(labels)), firing)
    await engine.store.write(as_before)
    engine.legacy_keys = LegacyKeys()  # a daemon started on the old state directory
    [again] = await engine.ingest([sent])
    assert (again.incident_id, again.action, again.dedup_key) == (
        opened.incident_id, "updated", fingerprint(labels))
    [resolved] = await engine.ingest([replace(sent, status=Status.RESOLVED)])
    assert (resolved.incident_id, resolved.action) == (opened.incident_id, "resolved")
    # none left: after the hourly re-check, an alert pays no more for the old hash
    later = LegacyKeys()
    assert await engine.store.read(lambda reader: later.old_key(
        reader, sent, sent.dedup_key or "", MONDAY_NOON)) is None
