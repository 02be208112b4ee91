"""Who a level pages and through which contact methods (router/core/escalation.py): high
urgency through every method, low urgency only through the methods marked `urgency: low`, and
quiet hours, on the person's own clock and across daylight-saving changes, holding low urgency
while high urgency gets through. Pure functions over a config loaded from inline YAML."""

from __future__ import annotations

import itertools
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from router.alerts.model import Incident, IncidentState, Severity
from router.config import load_config
from router.config.model import Config
from router.core.escalation import (
    LevelPlan,
    Walk,
    contact_methods,
    level_deadline,
    plan_level,
    urgency_of,
    walk,
)

CONFIG = """
settings: {timezone: UTC}
people:
  - id: ann
    timezone: Europe/Berlin
    contact_methods:
      - {type: email, address: ann@example.com}
      - {type: slack, address: U024BE7LH, urgency: low}
      - {type: phone, address: "+4915112345678", channel: sms, urgency: high}
    quiet_hours: {from: "22:00", until: "07:00"}
  - id: bob
    timezone: America/New_York
    contact_methods:
      - {type: email, address: bob@example.com}
      - {type: phone, address: "+12125550100", channel: sms, urgency: high}
    quiet_hours: {days: [fri], from: "22:00", until: "08:00"}
  - id: cat
    contact_methods: [{type: phone, address: "+441632960000", channel: sms, urgency: high}]
channels:
  - {id: sms, type: webhook, url: "http://127.0.0.1:9/sms"}
  - {id: slack-z, type: slack, webhook_url: "http://127.0.0.1:9/z"}
  - {id: slack-a, type: slack, webhook_url: "http://127.0.0.1:9/a"}
  - {id: mail, type: email, host: localhost, from: router@example.com, to: [ops@example.com]}
escalation_policies:
  - id: ann-first
    levels:
      - {targets: [{person: ann}, {channel: mail}], delay: 10m}
  - id: bob-first
    levels: [{targets: [{person: bob}], delay: 10m}]
  - id: cat-first
    levels: [{targets: [{person: cat}], delay: 10m}]
services:
  - {id: dynamic, escalation_policy: ann-first}
  - {id: always-high, escalation_policy: ann-first, urgency: high}
  - {id: always-low, escalation_policy: ann-first, urgency: low}
routes:
  - service: dynamic
"""
# Tuesday 2026-11-24, 12:00 UTC: 13:00 in Berlin, 07:00 in New York; nobody's quiet hours.
NOON = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ANN = ("email ann@example.com", "slack U024BE7LH", "phone +4915112345678")


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Config:
    path: Path = tmp_path_factory.mktemp("config") / "router.yaml"
    path.write_text(textwrap.dedent(CONFIG))
    return load_config([path])


def incident(severity: str, service: str = "dynamic", policy: str = "ann-first") -> Incident:
    return Incident(number=7, dedup_key="disk", service=service, summary="Disk full",
                    severity=Severity(severity), state=IncidentState.TRIGGERED,
                    opened_at=NOON, updated_at=NOON, escalation_policy=policy)


def plan(config: Config, severity: str, now: datetime, service: str = "dynamic",
         policy: str = "ann-first") -> LevelPlan:
    counter = itertools.count(1)
    return plan_level(config, incident(severity, service, policy), 1, now,
                      lambda: f"n{next(counter)}")


def methods(config: Config, person: str, urgency: str, now: datetime) -> tuple[str, ...]:
    return tuple(f"{method.kind} {method.address}" for method in contact_methods(
        config.people[person], urgency, now))  # type: ignore[arg-type]


def paged(found: LevelPlan) -> list[tuple[str, str, str]]:
    return [(item.channel, item.target, item.address) for item in found.notifications]


@pytest.mark.parametrize(("service", "severity", "expected"), [
    ("dynamic", "critical", "high"), ("dynamic", "error", "high"),
    ("dynamic", "warning", "low"), ("dynamic", "info", "low"),
    ("always-high", "info", "high"), ("always-low", "critical", "low"),
])
def test_urgency_is_the_services_or_follows_severity(config: Config, service: str,
                                                     severity: str, expected: str) -> None:
    assert urgency_of(config.services[service], Severity(severity)) == expected


def test_urgency_without_a_service_follows_severity() -> None:
    assert (urgency_of(None, Severity.ERROR), urgency_of(None, Severity.WARNING)) == (
        "high", "low")


def test_high_urgency_uses_every_method(config: Config) -> None:
    assert methods(config, "ann", "high", NOON) == ANN
    found = plan(config, "critical", NOON)
    assert paged(found) == [
        ("mail", "person:ann", "ann@example.com"),
        ("slack-a", "person:ann", "U024BE7LH"),  # the first slack channel by id
        ("sms", "person:ann", "+4915112345678"),
        ("mail", "channel:mail", ""),
    ]
    assert (found.people, found.held) == (("ann",), ())


def test_low_urgency_uses_only_the_methods_marked_low(config: Config) -> None:
    assert methods(config, "ann", "low", NOON) == ANN[:2]  # email's urgency is low by default
    low = [("mail", "person:ann", "ann@example.com"), ("slack-a", "person:ann", "U024BE7LH"),
           ("mail", "channel:mail", "")]
    assert paged(plan(config, "warning", NOON)) == low
    assert paged(plan(config, "critical", NOON, service="always-low")) == low


def test_low_urgency_with_no_low_method_is_held(config: Config) -> None:
    found = plan(config, "info", NOON, policy="cat-first")
    assert (found.notifications, found.people) == ((), ("cat",))
    assert found.held == ("cat: low-urgency page held (no low-urgency method)",)
    assert paged(plan(config, "critical", NOON, policy="cat-first")) == [
        ("sms", "person:cat", "+441632960000")]


@pytest.mark.parametrize(("instant", "quiet"), [
    (datetime(2026, 11, 24, 20, 59, tzinfo=UTC), False),  # 21:59 in Berlin
    (datetime(2026, 11, 24, 21, 0, tzinfo=UTC), True),  # 22:00: quiet hours begin
    (datetime(2026, 11, 24, 23, 30, tzinfo=UTC), True),  # 00:30 the next day
    (datetime(2026, 11, 25, 5, 59, tzinfo=UTC), True),  # 06:59
    (datetime(2026, 11, 25, 6, 0, tzinfo=UTC), False),  # 07:00: over
])
def test_quiet_hours_hold_low_urgency_and_let_high_through(config: Config, instant: datetime,
                                                           quiet: bool) -> None:
    low, high = plan(config, "warning", instant), plan(config, "critical", instant)
    assert methods(config, "ann", "high", instant) == ANN
    assert len(high.notifications) == 4 and high.held == ()
    if quiet:
        assert methods(config, "ann", "low", instant) == ()
        # held for ann; the level's channel is still told and escalation goes on
        assert paged(low) == [("mail", "channel:mail", "")]
        assert low.held == ("ann: low-urgency page held (quiet hours)",)
        assert low.deadline == instant + config.escalation_policies["ann-first"].levels[0].delay
    else:
        assert methods(config, "ann", "low", instant) == ANN[:2]
        assert low.held == ()


def test_quiet_hours_are_on_the_persons_own_clock(config: Config) -> None:
    # 03:30 UTC: 04:30 in Berlin (ann's quiet hours), 22:30 on Wednesday in New York (bob's
    # window opens on Fridays only), so the same instant holds ann and not bob.
    instant = datetime(2026, 11, 26, 3, 30, tzinfo=UTC)
    assert methods(config, "ann", "low", instant) == ()
    assert methods(config, "bob", "low", instant) == ("email bob@example.com",)
    # Friday 22:30 in New York is Saturday 03:30 UTC: bob's window, opened on Friday...
    assert methods(config, "bob", "low", datetime(2026, 11, 28, 3, 30, tzinfo=UTC)) == ()
    # ...runs past midnight to 08:00 on Saturday, and not on Saturday night
    assert methods(config, "bob", "low", datetime(2026, 11, 28, 12, 59, tzinfo=UTC)) == ()
    assert methods(config, "bob", "low", datetime(2026, 11, 28, 13, 0, tzinfo=UTC)) == (
        "email bob@example.com",)
    assert methods(config, "bob", "low", datetime(2026, 11, 29, 3, 30, tzinfo=UTC)) == (
        "email bob@example.com",)


@pytest.mark.parametrize(("instant", "quiet"), [
    # Spring forward: Sunday 2026-03-29, 02:00 CET becomes 03:00 CEST (UTC+2).
    (datetime(2026, 3, 28, 5, 30, tzinfo=UTC), True),  # Saturday 06:30 CET
    (datetime(2026, 3, 29, 5, 30, tzinfo=UTC), False),  # Sunday 07:30 CEST (06:30 at +1)
    (datetime(2026, 3, 29, 4, 59, tzinfo=UTC), True),  # 06:59 CEST
    (datetime(2026, 3, 29, 19, 59, tzinfo=UTC), False),  # 21:59 CEST
    (datetime(2026, 3, 29, 20, 0, tzinfo=UTC), True),  # 22:00 CEST (21:00 at +1)
    # Fall back: Sunday 2026-10-25, 03:00 CEST becomes 02:00 CET (UTC+1).
    (datetime(2026, 10, 24, 5, 30, tzinfo=UTC), False),  # Saturday 07:30 CEST
    (datetime(2026, 10, 25, 5, 30, tzinfo=UTC), True),  # Sunday 06:30 CET (07:30 at +2)
    (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), True),  # 02:30 CEST, the first of two
    (datetime(2026, 10, 25, 1, 30, tzinfo=UTC), True),  # 02:30 CET, the second
    (datetime(2026, 10, 25, 20, 59, tzinfo=UTC), False),  # 21:59 CET (22:59 at +2)
])
def test_quiet_hours_follow_the_wall_clock_across_daylight_saving_changes(
        config: Config, instant: datetime, quiet: bool) -> None:
    held = plan(config, "warning", instant).held
    assert (held == ("ann: low-urgency page held (quiet hours)",)) is quiet
    assert len(plan(config, "error", instant).notifications) == 4  # high gets through


# Empty levels, the fallback and per-level repeats (issue 16 item 5)

WALKS = """
settings: {timezone: Europe/Berlin}
people:
  - {id: ann, contact_methods: [{type: email, address: ann@example.com, urgency: high}]}
  - {id: cat, contact_methods: [{type: email, address: cat@example.com, urgency: high}]}
channels:
  - {id: mail, type: email, host: localhost, from: router@example.com}
rotas:
  - id: night   # weekends only: nobody on call on a Tuesday
    layers:
      - members: [cat]
        every: 1w
        start: 2026-11-02
        restrictions: [{days: [sat, sun], from: "00:00", until: "24:00"}]
escalation_policies:
  - id: skip
    levels:
      - {targets: [{rota: night}], delay: 5m}
      - {targets: [{person: cat}], delay: 10m, repeat: 2, retry_interval: 2m}
  - id: wait
    skip_empty: false
    levels:
      - {targets: [{rota: night}], delay: 5m}
      - {targets: [{person: cat}], delay: 10m}
  - id: level-waits
    levels:
      - {targets: [{rota: night}], delay: 5m, skip_empty: false}
      - {targets: [{person: cat}], delay: 10m}
  - id: empty
    repeat: 1
    fallback: {person: ann}
    levels:
      - {targets: [{rota: night}], delay: 5m}
      - {targets: [{rota: night}], delay: 7m}
  - id: empty-no-fallback
    levels:
      - {targets: [{rota: night}], delay: 5m}
"""
# Tuesday 2026-11-24, 13:00 in Berlin: the night rota has nobody on call.
TUESDAY = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
NIGHT = "nobody is on call in rota night"


@pytest.fixture(scope="module")
def walks(tmp_path_factory: pytest.TempPathFactory) -> Config:
    path: Path = tmp_path_factory.mktemp("walks") / "router.yaml"
    path.write_text(textwrap.dedent(WALKS))
    return load_config([path])


def walk_of(config: Config, policy: str, step: tuple[int, int] = (1, 0)) -> Walk:
    counter = itertools.count(1)
    return walk(config, incident("critical", "none", policy), step, TUESDAY,
                lambda: f"n{next(counter)}")


def test_an_empty_level_is_skipped_at_once(walks: Config) -> None:
    found = walk_of(walks, "skip")
    assert (found.level, found.repeats, found.skipped) == (2, 0, ((1, NIGHT),))
    assert (found.plan.people, found.plan.reached, found.fallback, found.nobody) == (
        ("cat",), True, None, False)
    # level 2 repeats twice, 2 minutes apart, before its 10 minutes run to the next step
    assert (found.plan.deadline, found.plan.timer) == (TUESDAY + timedelta(minutes=2),
                                                       "retry:1")


@pytest.mark.parametrize("policy", ["wait", "level-waits"])
def test_skip_empty_false_keeps_the_wait(walks: Config, policy: str) -> None:
    found = walk_of(walks, policy)
    assert (found.level, found.skipped, found.plan.reached) == (1, (), False)
    assert found.plan.held == (NIGHT,)
    assert (found.plan.deadline, found.plan.timer) == (TUESDAY + timedelta(minutes=5),
                                                       "escalate")


def test_when_every_level_is_empty_the_fallback_is_paged(walks: Config) -> None:
    found = walk_of(walks, "empty")
    assert found.skipped == ((1, NIGHT), (2, NIGHT))
    assert (found.level, found.repeats, found.plan.people, found.nobody) == (2, 0, ("ann",),
                                                                            False)
    assert found.fallback is not None and (found.fallback.kind, found.fallback.id) == (
        "person", "ann")
    assert [item.target for item in found.plan.notifications] == ["person:ann"]
    assert found.plan.deadline == TUESDAY + timedelta(minutes=7)  # the last level tried
    # from level 2 the walk wraps (repeat: 1) and stops at the level it skipped first
    wrapped = walk_of(walks, "empty", (2, 0))
    assert (wrapped.level, wrapped.repeats, wrapped.skipped) == (1, 1, ((2, NIGHT), (1, NIGHT)))


def test_without_a_fallback_nobody_is_said(walks: Config) -> None:
    found = walk_of(walks, "empty-no-fallback")
    assert (found.level, found.skipped, found.nobody, found.plan.notifications) == (
        1, ((1, NIGHT),), True, ())


@pytest.mark.parametrize(("retries", "expected"), [
    (0, (timedelta(minutes=2), "retry:1")), (1, (timedelta(minutes=2), "retry:2")),
    (2, (timedelta(minutes=10), "escalate"))])
def test_a_level_repeats_before_its_delay(walks: Config, retries: int,
                                          expected: tuple[timedelta, str]) -> None:
    level = walks.escalation_policies["skip"].levels[1]
    assert level_deadline(level, retries) == expected
    assert level_deadline(walks.escalation_policies["skip"].levels[0], 0) == (
        timedelta(minutes=5), "escalate")


def test_a_deadline_is_real_time_across_a_dst_change(walks: Config) -> None:
    """02:55 CEST on 2026-10-25, the night clocks go back: a 2-minute retry and the 10-minute
    delay count real minutes, whatever zone `now` is given in."""
    before = datetime(2026, 10, 25, 2, 55, tzinfo=ZoneInfo("Europe/Berlin"))
    assert before.utcoffset() == timedelta(hours=2)
    counter = itertools.count(1)
    found = plan_level(walks, incident("critical", "none", "skip"), 2, before,
                       lambda: f"n{next(counter)}", retries=2)
    assert found.deadline == datetime(2026, 10, 25, 1, 5, tzinfo=UTC)  # 02:05 CET
    assert found.deadline is not None and found.deadline - before == timedelta(minutes=10)
