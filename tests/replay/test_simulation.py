"""The replay's simulation (router/replay/simulation.py) on small hand-made histories whose
answers are known: dedup, resolve, escalation, night pages by each person's own clock across
DST, suppression windows, inhibition, staleness, and two configs compared."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

from router.alerts.model import Alert, Severity, Status
from router.config import load_config
from router.config.model import Config
from router.replay import replay, window
from router.replay.history import Arrival
from router.replay.report import changes
from router.replay.tally import Tally

CONFIG = """
channels:
  - {id: email, type: email, host: localhost, from: router@example.com}
  - {id: log, type: log}
people:
  - id: ann
    name: Ann
    timezone: America/New_York
    contact_methods: [{type: email, address: ann@example.com, urgency: high}]
  - id: ben
    name: Ben
    timezone: Europe/Berlin
    contact_methods: [{type: email, address: ben@example.com, urgency: high}]
    quiet_hours: {from: "20:00", until: "08:00"}
escalation_policies:
  - id: api
    name: API
    levels:
      - {targets: [{person: ann}], delay: 10m}
      - {targets: [{person: ben}], delay: 30m}
services:
  - {id: api, escalation_policy: api, channels: [log], urgency: high}
routes:
  - {service: api}
"""
MONDAY = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)  # 10:00 in New York, 16:00 in Berlin


def config_of(tmp_path: Path, text: str = CONFIG) -> Config:
    path = tmp_path / f"router-{abs(hash(text))}.yaml"
    path.write_text(textwrap.dedent(text))
    return load_config([path], resolve_secrets=False)


def alert(name: str = "HighLatency", status: Status = Status.FIRING, **labels: str) -> Alert:
    return Alert(summary=name, source="native", severity=Severity.CRITICAL, status=status,
                 labels={"alertname": name, **labels})


def at(moment: datetime, item: Alert, fresh_until: datetime | None = None) -> Arrival:
    return Arrival(moment, item, fresh_until or moment)


def run(config: Config, arrivals: list[Arrival], end: datetime | None = None) -> Tally:
    chosen, span = window(arrivals, None, end)
    return replay(config, chosen, span.end)


def test_a_repeat_joins_its_incident_and_pages_nobody_again(tmp_path: Path) -> None:
    tally = run(config_of(tmp_path), [
        at(MONDAY, alert()), at(MONDAY + timedelta(minutes=1), alert()),
        at(MONDAY + timedelta(minutes=2), alert(status=Status.RESOLVED))])
    assert (tally.alerts, tally.incidents_opened, tally.incidents_resolved) == (3, 1, 1)
    assert dict(tally.pages) == {"ann": 1}
    assert dict(tally.channel_notifications) == {"log": 1, "email": 1}


def test_a_resolve_closes_the_incident_and_the_next_firing_opens_another(
        tmp_path: Path) -> None:
    tally = run(config_of(tmp_path), [
        at(MONDAY, alert()), at(MONDAY + timedelta(minutes=5), alert(status=Status.RESOLVED)),
        at(MONDAY + timedelta(minutes=20), alert()),
        at(MONDAY + timedelta(minutes=25), alert(status=Status.RESOLVED))])
    assert (tally.incidents_opened, tally.incidents_resolved, tally.still_open) == (2, 2, 0)
    assert dict(tally.pages) == {"ann": 2}
    assert tally.escalations_beyond_first == 0, "each resolved within level 1's 10 minutes"


def test_unresolved_it_escalates_to_level_2_after_the_delay(tmp_path: Path) -> None:
    config = config_of(tmp_path)
    arrivals = [at(MONDAY, alert())]
    before = run(config, arrivals, MONDAY + timedelta(minutes=10))
    assert (dict(before.pages), before.escalations_beyond_first) == ({"ann": 1}, 0)
    after = run(config, arrivals, MONDAY + timedelta(minutes=10, microseconds=1))
    assert (dict(after.pages), after.escalations_beyond_first) == ({"ann": 1, "ben": 1}, 1)
    assert (after.escalated_incidents, after.still_open) == ({1}, 1)
    ended = run(config, arrivals, MONDAY + timedelta(hours=2))
    assert (dict(ended.pages), ended.exhausted) == ({"ann": 1, "ben": 1}, 1)


def test_night_pages_by_each_person_s_clock_across_the_dst_change(tmp_path: Path) -> None:
    """New York leaves DST on 2026-11-01: 11:30 UTC is 07:30 EDT on Saturday the 31st (a
    night's end: no) and 06:30 EST on Monday the 2nd (night); ann has no quiet hours, so
    22:00-07:00 her time. Ben's quiet hours are 20:00-08:00 Berlin time (CET since
    2026-10-25): 19:30 UTC on the 2nd is 20:30 there."""
    config = config_of(tmp_path)
    saturday, monday = datetime(2026, 10, 31, 11, 30, tzinfo=UTC), \
        datetime(2026, 11, 2, 11, 30, tzinfo=UTC)
    evening = datetime(2026, 11, 2, 19, 30, tzinfo=UTC)
    tally = run(config, [
        at(saturday, alert("One")), at(saturday + timedelta(minutes=1),
                                        alert("One", Status.RESOLVED)),
        at(monday, alert("Two")), at(monday + timedelta(minutes=1),
                                      alert("Two", Status.RESOLVED)),
        at(evening, alert("Three")), at(evening + timedelta(minutes=11),
                                         alert("Three", Status.RESOLVED))])
    assert dict(tally.pages) == {"ann": 3, "ben": 1}
    assert dict(tally.night_pages) == {"ann": 1, "ben": 1}


def test_a_suppression_window_holds_the_page_until_it_ends(tmp_path: Path) -> None:
    config = config_of(tmp_path, CONFIG + """
suppressions:
  - id: deploys
    reason: deploy window
    match: [alertname=HighLatency]
    from: "2026-11-02T15:00:00Z"
    until: "2026-11-02T15:30:00Z"
""")
    held = run(config, [at(MONDAY, alert()),
                        at(MONDAY + timedelta(minutes=20), alert(status=Status.RESOLVED))])
    assert (held.incidents_opened, held.held_incidents, dict(held.pages)) == (1, 1, {})
    paged = run(config, [at(MONDAY, alert())], MONDAY + timedelta(minutes=35))
    assert (dict(paged.pages), paged.held_incidents) == ({"ann": 1}, 0)


def test_an_inhibited_alert_pages_once_its_source_resolves(tmp_path: Path) -> None:
    config = config_of(tmp_path, CONFIG + """
inhibit_rules:
  - name: node-down
    source_matchers: [alertname=NodeDown]
    target_matchers: [alertname=DiskFull]
    equal: [instance]
""")
    tally = run(config, [
        at(MONDAY, alert("NodeDown", instance="db1")),
        at(MONDAY + timedelta(minutes=1), alert("DiskFull", instance="db1")),
        at(MONDAY + timedelta(minutes=2), alert("NodeDown", Status.RESOLVED, instance="db1"))])
    assert (tally.incidents_opened, dict(tally.pages)) == (2, {"ann": 2})
    still = run(config, [
        at(MONDAY, alert("NodeDown", instance="db1")),
        at(MONDAY + timedelta(minutes=1), alert("DiskFull", instance="db1"))])
    assert (dict(still.pages), still.held_incidents) == ({"ann": 1}, 1)


def test_an_alertmanager_v2_alert_goes_stale_unless_kept_fresh(tmp_path: Path) -> None:
    """settings.resolve_timeout gives alertmanager_v2 alerts 5 minutes; an exported line's
    last_received_at keeps the alert fresh until then."""
    config = config_of(tmp_path)
    v2 = Alert(summary="Lag", source="alertmanager_v2", severity=Severity.CRITICAL,
               labels={"alertname": "Lag"})
    stale = run(config, [at(MONDAY, v2)], MONDAY + timedelta(hours=1))
    assert (stale.incidents_resolved, stale.escalations_beyond_first) == (1, 0)
    last = MONDAY + timedelta(minutes=30)
    fresh = run(config, [at(MONDAY, v2, last), at(last, v2, last)], MONDAY + timedelta(hours=1))
    assert (fresh.incidents_opened, fresh.incidents_resolved) == (1, 1)
    assert fresh.escalations_beyond_first == 1


def test_two_configs_compared_in_words(tmp_path: Path) -> None:
    """The new config sends ann's level to ben at night: her night pages go, his come."""
    old = config_of(tmp_path)
    new = config_of(tmp_path, CONFIG.replace("{targets: [{person: ann}], delay: 10m}",
                                             "{targets: [{person: ben}], delay: 10m}"))
    night = datetime(2026, 11, 3, 4, 0, tzinfo=UTC)  # 23:00 in New York, 05:00 in Berlin
    arrivals = [at(night + timedelta(hours=hour), alert(f"A{hour}")) for hour in range(3)]
    arrivals += [at(item.at + timedelta(minutes=5), alert(item.alert.summary, Status.RESOLVED))
                 for item in list(arrivals)]
    chosen, span = window(sorted(arrivals, key=lambda item: item.at), None, None)
    before, after = replay(old, chosen, span.end), replay(new, chosen, span.end)
    assert changes(after, before) == [
        "ben pages 0 → 3", "ben night pages 0 → 3", "ann pages 3 → 0",
        "ann night pages 3 → 0"]


def test_an_alert_a_heartbeat_takes_opens_nothing(tmp_path: Path) -> None:
    config = config_of(tmp_path, CONFIG + """
heartbeats:
  - id: prometheus-watchdog
    service: api
    period: 2m
    grace: 2m
    match: {alertname: Watchdog}
    token: a-token-of-sixteen-characters
""")
    tally = run(config, [at(MONDAY + timedelta(minutes=minute), alert("Watchdog"))
                         for minute in range(0, 60, 2)] + [
        at(MONDAY + timedelta(minutes=61), alert())])
    assert (tally.alerts, tally.heartbeat_alerts, tally.incidents_opened) == (31, 30, 1)
    assert dict(tally.pages) == {"ann": 1}
