"""`router route-test --at TIME`: besides the routes, what would hold the page at that
instant and by what: suppression windows and time intervals from the config, silences and
inhibiting alerts from the store (the state directory's, or PostgreSQL's that `--store`
names), or "not checked" without one."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
import trio

from router.alerts.model import Alert, Severity, Silence, SilenceMatcher
from router.clock import FixedClock
from router.config import load_config
from router.engine import Engine
from router.store import DATABASE_NAME, Store, interface, postgres
from tests.cli.conftest import run, write_config

CONFIG = """
settings: {timezone: Europe/Berlin}
channels:
  - {id: log, type: log}
services:
  - {id: api, channels: [log]}
time_intervals:
  - name: weekends
    time_intervals: [{weekdays: ['saturday:sunday']}]
  - name: office
    time_intervals: [{times: [{start_time: '09:00', end_time: '17:00'}]}]
routes:
  - name: batch
    match: [team=batch]
    service: api
    mute_time_intervals: [weekends]
    continue: true
  - name: office only
    match: [team=~"batch|web"]
    service: api
    active_time_intervals: [office]
  - name: rest
    service: api
suppressions:
  - id: maintenance
    reason: monday maintenance
    match: [team=web]
    weekly: [{days: [mon], from: "10:00", until: "11:00"}]
inhibit_rules:
  - name: node-down
    source_matchers: ['alertname="NodeDown"']
    target_matchers: ['severity="warning"']
    equal: [instance]
"""
SEEDED_AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no ./state here unless a test makes one
    return write_config(tmp_path, CONFIG)


def seed(config: Path, state: Path | str) -> None:
    """NodeDown on db1 fires (INC1); a silence for team=db until 2026-11-24: in the state
    directory's SQLite store, or in the PostgreSQL database at a URL."""
    async def session() -> None:
        store: interface.Store = (await postgres.Store.open(state) if isinstance(state, str)
                                  else await Store.open(state / DATABASE_NAME))
        try:
            engine = Engine(load_config([config]), store, FixedClock(SEEDED_AT),
                            new_id=lambda: "n1")
            await engine.ingest([Alert(summary="node down", source="native",
                                       severity=Severity.CRITICAL,
                                       labels={"alertname": "NodeDown", "instance": "db1"})])
            await engine.add_silence(Silence(
                id="SIL-00000001", reason="db migration", created_by="ann",
                matchers=(SilenceMatcher(name="team", operator="=", value="db"),),
                starts_at=SEEDED_AT, ends_at=datetime(2026, 11, 24, tzinfo=UTC)))
        finally:
            await store.close()
    trio.run(session)


def suppression_lines(out: str) -> list[str]:
    lines = out.splitlines()
    return lines[next(index for index, line in enumerate(lines)
                      if line.startswith("suppression")):]


@pytest.mark.parametrize(("argv", "expected"), [
    # Monday 10:30 in Berlin: the maintenance window holds team=web
    (["team=web", "--at", "2026-11-23T10:30"], [
        "suppression at 2026-11-23T10:30:00+01:00:",
        "  windows         maintenance ({config}:25:5)",
        "  silences        not checked: no store (give --state DIR)",
        "  inhibition      not checked: no store (give --state DIR)",
        "  time intervals  office only: not muted",
        "  verdict         not paged: suppressed by suppression 'maintenance' until "
        "2026-11-23T10:00:00+00:00: monday maintenance"]),
    # Monday 20:00 in Berlin: outside office hours, web is muted (an offset given)
    (["team=web", "--at", "2026-11-23T19:00:00+00:00"], [
        "suppression at 2026-11-23T19:00:00+00:00:",
        "  windows         none active",
        "  silences        not checked: no store (give --state DIR)",
        "  inhibition      not checked: no store (give --state DIR)",
        "  time intervals  office only: muted by 'office'",
        "  verdict         not paged: suppressed by time_interval 'office': every matched "
        "route is muted by time interval 'office'"]),
    # Saturday noon: batch muted by weekends, office only active: not every route muted
    (["team=batch", "--at", "2026-11-28T12:00"], [
        "suppression at 2026-11-28T12:00:00+01:00:",
        "  windows         none active",
        "  silences        not checked: no store (give --state DIR)",
        "  inhibition      not checked: no store (give --state DIR)",
        "  time intervals  batch: muted by 'weekends'; office only: not muted",
        "  verdict         paged"]),
])
def test_route_test_at_shows_windows_and_time_intervals(
        config: Path, argv: list[str], expected: list[str]) -> None:
    code, out, err = run("route-test", "--config", str(config), *argv)
    assert (code, err) == (0, "")
    where = config / "router.yaml"
    assert suppression_lines(out) == [line.replace("{config}", str(where))
                                      for line in expected]


def test_route_test_reads_silences_and_inhibitions_from_the_store(
        config: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    seed(config, state)
    code, out, err = run("route-test", "--config", str(config), "--state", str(state),
                         "--at", "2026-11-23T12:00", "alertname=DiskFull", "instance=db1",
                         "team=db")
    assert (code, err) == (0, "")
    assert suppression_lines(out) == [
        "suppression at 2026-11-23T12:00:00+01:00:",
        "  windows         none active",
        "  silences        SIL-00000001: db migration",
        "  inhibition      rule 'node-down': INC1 fires alertname=NodeDown instance=db1",
        "  time intervals  none on the matched routes",
        "  verdict         not paged: suppressed by silence 'SIL-00000001' until "
        "2026-11-24T00:00:00+00:00: db migration"]
    # ./state is read without --state; JSON; after the silence only the inhibition holds
    code, out, err = run("route-test", "--config", str(config), "--at", "2026-11-25",
                         "alertname=DiskFull", "instance=db1", "team=db", "--format", "json")
    assert (code, err) == (0, "")
    answer = json.loads(out)
    assert answer["at"] == "2026-11-25T00:00:00+01:00"
    suppression = answer["alerts"][0]["suppression"]
    reason = suppression.pop("reason")
    assert suppression == {
        "windows": [], "silences": [], "store_checked": True,
        "inhibition": {"rule": "node-down", "incident": "INC1",
                       "labels": {"alertname": "NodeDown", "instance": "db1"}},
        "time_intervals": [], "suppressed": True, "suppressed_by": "inhibition:node-down"}
    assert reason.startswith("inhibited while alert ") and reason.endswith(" of INC1 fires")
    code, out, _ = run("route-test", "--config", str(config), "alertname=DiskFull",
                       "instance=db2", "--format", "json")
    assert json.loads(out)["alerts"][0]["suppression"]["inhibition"] is None


def test_route_test_reads_silences_and_inhibitions_from_a_postgresql_store(
        config: Path, postgres_url: str) -> None:
    seed(config, postgres_url)
    code, out, err = run("route-test", "--config", str(config), "--store", postgres_url,
                         "--at", "2026-11-23T12:00", "alertname=DiskFull", "instance=db1",
                         "team=db")
    assert (code, err) == (0, "")
    assert suppression_lines(out)[2:4] == [
        "  silences        SIL-00000001: db migration",
        "  inhibition      rule 'node-down': INC1 fires alertname=NodeDown instance=db1"]


@pytest.mark.parametrize(("argv", "code", "message"), [
    (["--at", "tomorrow"], 2, "router route-test: --at: expected a date and time such as "
                              "2026-12-24T09:00 or 2026-12-24T09:00:00+01:00, got 'tomorrow'\n"),
    (["--state", "nowhere"], 1, "router route-test: no store router.db in 'nowhere' (router "
                                "run creates it; leave out --state to test without silences "
                                "and inhibitions)\n"),
])
def test_route_test_refuses_a_bad_instant_or_state(config: Path, argv: list[str], code: int,
                                                   message: str) -> None:
    assert run("route-test", "--config", str(config), "team=web", *argv) == (
        code, "", message)


def test_the_text_form_keeps_its_shape(config: Path) -> None:
    code, out, _ = run("route-test", "--config", str(config), "team=ops", "--at",
                       "2026-11-23T12:00")
    assert code == 0
    assert out.endswith(textwrap.dedent("""\
        suppression at 2026-11-23T12:00:00+01:00:
          windows         none active
          silences        not checked: no store (give --state DIR)
          inhibition      not checked: no store (give --state DIR)
          time intervals  none on the matched routes
          verdict         paged
        """))
