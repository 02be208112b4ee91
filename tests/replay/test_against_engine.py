"""The replay against the daemon's engine on the same history: the engine over a real SQLite
store with its clock set to each arrival and each timer as it falls due (as the scheduler
fires them), its outbox counted; the replay with no store and no clock. Both must page the
same people, on the same channels, the same number of times, and open and leave open the
same incidents: the replay makes the engine's decisions, not its own."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from router.alerts.identity import alert_identity
from router.alerts.model import Alert, Severity, Status
from router.clock import FixedClock
from router.config import load_config
from router.config.model import Config
from router.engine import Engine
from router.replay import replay, window
from router.replay.history import Arrival
from router.store import DATABASE_NAME, Store

CONFIG = Path(__file__).resolve().parent.parent.parent / "config"
START = datetime(2026, 3, 6, 18, 0, tzinfo=UTC)  # a Friday; Sunday's maintenance window and
# the US's change to DST on the 8th fall inside the three days


def history(count: int) -> list[Arrival]:
    """Episodes of 24 kinds of alert, re-sent every few minutes, most of them resolved."""
    randomness = random.Random(7)
    arrivals: list[Arrival] = []
    while len(arrivals) < count:
        number = randomness.randrange(24)
        labels = {"alertname": f"Alert{number % 8}", "instance": f"host{number % 5}",
                  "team": ("db", "storage", "web", "")[number % 4],
                  "env": "staging" if number % 6 == 0 else "production"}
        source = ("native", "alertmanager", "alertmanager_v2")[number % 3]
        alert = Alert(summary=f"{labels['alertname']} on {labels['instance']}", source=source,
                      severity=list(Severity)[number % 4], labels=labels,
                      dedup_key=alert_identity(labels) if source != "native" else None)
        at = START + timedelta(minutes=randomness.randrange(3 * 24 * 60))
        for _ in range(randomness.randint(1, 40)):
            arrivals.append(Arrival(at, alert, at))
            at += timedelta(minutes=randomness.randint(1, 4))
        if randomness.random() < 0.8:
            arrivals.append(Arrival(at, Alert(
                summary=alert.summary, source=source, severity=alert.severity,
                status=Status.RESOLVED, labels=labels, dedup_key=alert.dedup_key), at))
    return sorted(arrivals + in_the_maintenance_window(), key=lambda arrival: arrival.at)


def in_the_maintenance_window() -> list[Arrival]:
    """config/suppressions.yaml holds non-critical database alerts on Sundays 02:00-04:00
    Berlin time (01:00-03:00 UTC on 2026-03-08): one resolves inside it (never paged), one
    fires on past its end (paged when it ends, with no re-send)."""
    found = []
    for name, start, end, resolves in (("Vacuum", 30, 90, True), ("Replica", 90, 90, False)):
        labels = {"alertname": name, "team": "db", "env": "production", "service": "database"}
        firing = Alert(summary=name, source="native", severity=Severity.WARNING, labels=labels)
        found.append(Arrival(START + timedelta(hours=31, minutes=start), firing,
                             START + timedelta(hours=31, minutes=start)))
        if resolves:
            at = START + timedelta(hours=31, minutes=end)
            found.append(Arrival(at, Alert(summary=name, source="native",
                                           status=Status.RESOLVED, labels=labels), at))
    return found


async def engine_outcome(config: Config, arrivals: list[Arrival], end: datetime,
                         directory: Path) -> tuple[Counter[str], Counter[str], int, int]:
    """(notifications per channel, pages per person, incidents opened, still open)."""
    store = await Store.open(directory / DATABASE_NAME, synchronous="OFF")
    clock = FixedClock(arrivals[0].at)
    engine = Engine(config, store, clock)

    async def fire_until(instant: datetime, *, inclusive: bool) -> None:
        while True:
            due, _ = await engine.escalation.timers_due_by(instant, limit=1)
            if not due or (due[0][2] == instant and not inclusive):
                return
            number, kind, at = due[0]
            clock.advance(at - clock.now())
            await engine.timer_fired(number, kind, at)

    try:
        for arrival in arrivals:
            await fire_until(arrival.at, inclusive=True)
            clock.advance(arrival.at - clock.now())
            await engine.ingest([arrival.alert])
        await fire_until(end, inclusive=False)

        def read(reader: Any) -> tuple[Counter[str], Counter[str], int, int]:
            # the SQLite Reader's connection: tests may read rows no view gives
            rows = reader.connection.execute(
                "SELECT incident_number, created_at, channel, target FROM outbox "
                "WHERE event IN ('trigger', 'escalate')").fetchall()
            channels = Counter(row[2] for row in rows)
            people = Counter(person for person in {
                (row[0], row[1], row[3].removeprefix("person:")) for row in rows
                if row[3].startswith("person:")} for person in [person[2]])
            opened = reader.connection.execute("SELECT count(*) FROM incidents").fetchone()[0]
            still = reader.connection.execute(
                "SELECT count(*) FROM incidents WHERE state != 'resolved'").fetchone()[0]
            return channels, people, opened, still
        return await store.read(read)
    finally:
        await store.close()


RICHER = """
channels:
  - {id: email, type: email, host: localhost, from: router@example.com}
  - {id: log, type: log}
  - {id: sms, type: webhook, url: "http://127.0.0.1:9/sms"}
people:
  - id: ann
    name: Ann
    timezone: America/New_York
    contact_methods:
      - {type: email, address: ann@example.com}
      - {type: phone, address: "+15550100", channel: sms, urgency: high}
    quiet_hours: {from: "22:00", until: "07:00"}
  - {id: ben, name: Ben, timezone: Europe/Berlin, contact_methods: [{type: email, address: b@x}]}
  - {id: cat, name: Cat, timezone: Asia/Tokyo, contact_methods: [{type: email, address: c@x}]}
rotas:
  - id: primary
    name: Primary
    timezone: America/New_York
    layers:
      - {name: daily, members: [ann, ben], every: 1d, handoff: "08:00", start: 2026-03-01}
escalation_policies:
  - id: main
    name: Main
    repeat: 1
    levels:
      - {targets: [{rota: primary}], delay: 15m, repeat: 1, retry_interval: 5m}
      - {targets: [{person: cat}, {channel: log}], delay: 20m}
time_intervals:
  - name: weekend
    time_intervals: [{weekdays: ['saturday:sunday'], location: America/New_York}]
inhibit_rules:
  - name: host-down
    source_matchers: [alertname=Alert0]
    target_matchers: ['alertname=~"Alert[1-3]"']
    equal: [instance]
services:
  - {id: web, escalation_policy: main, channels: [log], urgency: dynamic,
     acknowledge_timeout: 30m, retrigger_after: 1h}
  - {id: batch, escalation_policy: main, urgency: high}
routes:
  - {name: batch waits for the week, match: [team=storage], service: batch,
     mute_time_intervals: [weekend]}
  - {name: the rest, service: web}
"""


def acknowledged_by_the_source(arrivals: list[Arrival]) -> list[Arrival]:
    """Every fifth alert episode's sender acknowledges it (PagerDuty events do) 3 minutes
    after its first arrival."""
    found, seen = list(arrivals), set()
    for arrival in arrivals:
        key = arrival.alert.dedup_key or arrival.alert.summary
        if key in seen or arrival.alert.status is not Status.FIRING:
            continue
        seen.add(key)
        if len(seen) % 5 == 0:
            at = arrival.at + timedelta(minutes=3)
            found.append(Arrival(at, replace(arrival.alert, status=Status.ACKNOWLEDGED), at))
    return sorted(found, key=lambda arrival: arrival.at)


@pytest.mark.parametrize("richer", [False, True], ids=["example config", "richer config"])
async def test_the_replay_pages_as_the_engine_does(tmp_path: Path, richer: bool) -> None:
    """The example config (rotas, quiet hours, a maintenance window, policy repeats); a
    richer one adds inhibition, a time interval, a level's repeats and senders'
    acknowledgements with their timeout and retrigger."""
    if richer:
        (tmp_path / "richer.yaml").write_text(RICHER)
        config = load_config([tmp_path / "richer.yaml"], resolve_secrets=False)
        arrivals = acknowledged_by_the_source(history(600))
    else:
        config = load_config([CONFIG], resolve_secrets=False)
        arrivals = history(600)
    chosen, span = window(arrivals, None, arrivals[-1].at + timedelta(hours=2))
    tally = replay(config, chosen, span.end)
    channels, people, opened, still = await engine_outcome(config, chosen, span.end, tmp_path)
    assert (tally.incidents_opened, tally.still_open) == (opened, still)
    assert dict(tally.channel_notifications) == dict(channels)
    assert dict(tally.pages) == dict(people)
    assert tally.escalations_beyond_first > 10, "the history escalates: the test tests that"
    assert tally.held_incidents > 0, "and suppression holds some"
