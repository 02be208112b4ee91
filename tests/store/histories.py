"""A SQLite store with a realistic history, made through the Engine and the store's views as
a daemon makes it: for the tests of `router store migrate-to` (store/transfer.py)."""

from __future__ import annotations

import functools
import itertools
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

from router.alerts.model import Alert, Severity, Status
from router.clock import FixedClock
from router.config import load_config
from router.config.model import Job
from router.engine import Engine
from router.engine.overrides import add_override
from router.store import Store, Transaction
from router.store.heartbeats import TIMER_PREFIX
from router.store.values import Attempt, HeartbeatRecord, JobRun

CONFIG = """
people:
  - id: alice
    contact_methods: [{type: email, address: alice@example.com}]
  - id: bob
    contact_methods: [{type: email, address: bob@example.com}]
channels:
  - {id: log, type: log}
  - {id: mail, type: email, host: localhost, from: router@example.com}
rotas:
  - id: primary
    layers: [{members: [alice, bob], every: 1w, handoff: "09:00", handoff_day: mon,
              start: 2026-11-02}]
escalation_policies:
  - id: default
    levels:
      - {targets: [{rota: primary}], delay: 15m}
      - {targets: [{person: bob}], delay: 15m}
services:
  - id: api
    escalation_policy: default
    channels: [log]
    dedup_key: "{{ labels.alertname }}"
routes:
  - service: api
"""
NOW = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)


def alert(name: str, status: Status = Status.FIRING, **labels: str) -> Alert:
    return Alert(summary=f"{name} on {labels.get('host', 'all')}", source="native",
                 severity=Severity.CRITICAL, status=status,
                 labels={"alertname": name, **labels})


async def make_history(directory: Path, *, incidents: int = 6) -> Path:
    """A store in `directory` (created) and its path: `incidents` incidents, some
    acknowledged, some resolved, with repeats, notes, notifications pending and delivered,
    escalation timers, a silence, an override, a heartbeat and a job's runs."""
    directory.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (a test's set-up)
    (directory / "config.yaml").write_text(textwrap.dedent(CONFIG))
    store = await Store.open(directory / "router.db")
    clock, ids = FixedClock(NOW), itertools.count(1)
    engine = Engine(load_config([directory / "config.yaml"]), store, clock,
                    new_id=lambda: f"n{next(ids)}")
    try:
        for number in range(1, incidents + 1):
            name = f"Check{number}"
            await engine.ingest([alert(name, host="db1"), alert(name, host="db2")])
            await engine.ingest([alert(name, host="db1")])  # a repeat: counted on its row
            clock.advance(timedelta(minutes=1))
            if number % 3 == 0:
                await engine.resolve(f"INC{number}", "alice")
            elif number % 3 == 1:
                await engine.acknowledge(f"INC{number}", "bob")
                await engine.add_note(f"INC{number}", "looking ü", "bob")
        await engine.create_silence([("alertname", "=", "Noisy")], reason="maintenance",
                                    ends_at=NOW + timedelta(days=1), created_by="alice")
        await add_override(engine, "primary", person="alice", start=NOW,
                           end=NOW + timedelta(hours=8), reason="swap", created_by="bob")
        await _deliver_one(store)
        await store.write(_heartbeat_and_job)
    finally:
        await store.close()
    return directory / "router.db"


async def _deliver_one(store: Store) -> None:
    """The first pending notification delivered, the next failed once (so retried)."""
    pending = await store.read(lambda reader: reader.pending_notifications())
    for position, item in enumerate(pending[:2]):
        attempt = Attempt(notification_id=item.id, incident_number=item.incident_number,
                          channel=item.channel, target=item.target, event=item.event,
                          attempt=1, attempted_at=NOW, latency_ms=12.5,
                          outcome="delivered" if position == 0 else "retry",
                          error=None if position == 0 else "timeout")
        retry_at = None if position == 0 else NOW + timedelta(minutes=1)
        await store.write(functools.partial(_record, attempt, retry_at))


def _record(attempt: Attempt, retry_at: datetime | None, transaction: Transaction) -> None:
    transaction.outbox.record(attempt, retry_at)


def _heartbeat_and_job(transaction: Transaction) -> None:
    transaction.heartbeats.save(HeartbeatRecord(id="backup", state="up", watched_since=NOW,
                                                last_ping_at=NOW, pings=3))
    transaction.set_timer(0, TIMER_PREFIX + "backup", NOW + timedelta(hours=1))
    transaction.jobs.add_job(Job(id="nightly"), NOW)
    transaction.jobs.save_run(JobRun(job="nightly", run_id="r1", status="succeeded",
                                     started_at=NOW, ended_at=NOW + timedelta(minutes=3),
                                     exit_code=0))
