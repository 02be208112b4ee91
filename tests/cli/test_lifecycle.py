"""`router ack|resolve|escalate ID`, run through the CLI's `main` against an inline config and
a real SQLite store seeded through the engine (with a running daemon: tests/e2e/
test_lifecycle_surfaces.py)."""

from __future__ import annotations

import getpass
import json
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trio

from router.alerts.model import Alert, Severity, Status
from router.clock import FixedClock
from router.config import load_config
from router.engine import Engine
from router.store import DATABASE_NAME, IncidentDetail, Store
from tests.cli.conftest import run, write_config

CONFIG = """
settings: {timezone: UTC}
people:
  - {id: alice, contact_methods: [{type: email, address: alice@example.com}]}
  - {id: bob, contact_methods: [{type: email, address: bob@example.com}]}
channels:
  - {id: mail, type: email, host: localhost, from: router@example.com}
  - {id: pager, type: pagerduty, routing_key: R0000000000000000000000000000000}
escalation_policies:
  - id: default
    levels:
      - {targets: [{person: alice}], delay: 15m}
      - {targets: [{person: bob}], delay: 15m}
services:
  - {id: api, escalation_policy: default, channels: [pager]}
routes:
  - service: api
"""
OPENED = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path, CONFIG)


def alert(name: str) -> Alert:
    return Alert(summary=f"{name} on web1", source="native", severity=Severity.CRITICAL,
                 status=Status.FIRING, service="api", labels={"alertname": name})


async def _seed(engine: Engine, clock: FixedClock) -> None:
    """INC1 and INC2 triggered, INC3 acknowledged by slack:bob, INC4 resolved."""
    for name in ("DiskFull", "CpuHigh", "MemoryLow", "Gone"):
        await engine.ingest([alert(name)])
    clock.advance(timedelta(minutes=2))
    await engine.acknowledge("INC3", "slack:bob")
    await engine.resolve("INC4", "api:carol")


def on_store(config: Path, state: Path, work: object) -> object:
    async def session() -> object:
        store = await Store.open(state / DATABASE_NAME)
        try:
            return await work(Engine(load_config([config]), store,  # type: ignore[operator]
                                     FixedClock(OPENED)))
        finally:
            await store.close()
    return trio.run(session)


def detail(config: Path, state: Path, incident_id: str) -> IncidentDetail:
    found = on_store(config, state, lambda engine: engine.incident(incident_id))
    assert isinstance(found, IncidentDetail)
    return found


@pytest.fixture
def seeded(config: Path, state: Path) -> list[str]:
    on_store(config, state, lambda engine: _seed(engine, engine.clock))
    return ["--config", str(config), "--state", str(state)]


def test_ack_acknowledges_as_cli_and_the_name_given(seeded: list[str], config: Path,
                                                    state: Path) -> None:
    assert run("ack", "INC1", "--by", "ann", *seeded) == (
        0, "INC1 acknowledged by cli:ann\n", "")
    found = detail(config, state, "INC1")
    assert (found.incident.state.value, found.incident.acknowledged_by) == (
        "acknowledged", "cli:ann")
    assert ("cli:ann", "acknowledged") in [(entry.actor, entry.action)
                                          for entry in found.timeline]
    # the daemon's deliverer tells PagerDuty: the follow-up is in the outbox
    pending = on_store(config, state, lambda engine: engine.store.read(
        lambda reader: reader.pending_notifications()))
    assert ("pager", "acknowledge", 1) in [(item.channel, item.event, item.incident_number)
                                           for item in pending]  # type: ignore[attr-defined]


def test_the_actor_defaults_to_the_login_name(seeded: list[str], config: Path,
                                              state: Path) -> None:
    code, out, _ = run("ack", "1", *seeded)
    assert (code, out) == (0, f"INC1 acknowledged by cli:{getpass.getuser()}\n")


def test_resolve_and_escalate(seeded: list[str], config: Path, state: Path) -> None:
    assert run("escalate", "inc2", "--by", "ann", *seeded) == (
        0, "INC2 escalated by cli:ann from level 1 to level 2 (bob)\n", "")
    assert detail(config, state, "INC2").incident.level == 2
    assert run("resolve", "INC2", "--by", "ann", *seeded) == (0, "INC2 resolved by cli:ann\n", "")
    assert detail(config, state, "INC2").incident.state.value == "resolved"


def test_format_json_prints_the_incident(seeded: list[str]) -> None:
    code, out, err = run("ack", "INC1", "--by", "ann", "--format", "json", *seeded)
    assert (code, err) == (0, "")
    document = json.loads(out)
    assert (document["id"], document["state"], document["acknowledged_by"]) == (
        "INC1", "acknowledged", "cli:ann")
    _, shown, _ = run("incident", "show", "INC1", "--format", "json", *seeded)
    assert json.loads(shown)["incident"] == document


def test_acknowledging_an_acknowledged_incident_says_who_did(seeded: list[str],
                                                             config: Path, state: Path) -> None:
    assert run("ack", "INC3", "--by", "ann", *seeded) == (
        0, "INC3 was already acknowledged by slack:bob at 2026-11-23T11:02:00Z\n", "")
    assert detail(config, state, "INC3").incident.acknowledged_by == "slack:bob"


@pytest.mark.parametrize(("argv", "message"), [
    (("ack", "INC4"), "router ack: INC4 was already resolved at 2026-11-23T11:02:00Z: nothing "
                      "to acknowledge\n"),
    (("resolve", "INC4"), "router resolve: INC4 was already resolved at "
                          "2026-11-23T11:02:00Z: nothing to resolve\n"),
    (("escalate", "INC4"), "router escalate: not escalated: INC4 is resolved\n"),
    (("ack", "INC99"), "router ack: no incident INC99\n"),
    (("resolve", "99"), "router resolve: no incident INC99\n"),
    (("escalate", "INC99"), "router escalate: no incident INC99\n"),
])
def test_not_found_and_resolved_exit_1(seeded: list[str], argv: tuple[str, ...],
                                       message: str) -> None:
    assert run(*argv, "--by", "ann", *seeded) == (1, "", message)


def test_escalating_past_the_last_level_exits_1(seeded: list[str], config: Path,
                                                state: Path) -> None:
    assert run("escalate", "INC1", *seeded)[0] == 0
    assert run("escalate", "INC1", "--by", "ann", *seeded) == (
        1, "", "router escalate: not escalated: INC1 is at the last level of its policy\n")
    assert detail(config, state, "INC1").incident.level == 2


@pytest.mark.parametrize(("argv", "message"), [
    (("ack", "nine"), "router ack: expected an incident id like INC12, got 'nine'\n"),
    (("ack", "INC1", "--by", " "), "router ack: --by must name someone (no login name was "
                                   "found)\n"),
])
def test_usage_errors_exit_2(seeded: list[str], argv: tuple[str, ...], message: str) -> None:
    assert run(*argv, *seeded) == (2, "", message)


def test_a_missing_argument_or_state_directory(config: Path, tmp_path: Path) -> None:
    code, _, err = run("resolve")
    assert code == 2
    assert "the following arguments are required: ID" in err
    missing = tmp_path / "nowhere"
    assert run("ack", "INC1", "--config", str(config), "--state", str(missing)) == (
        1, "", f"router ack: no state directory {str(missing)!r} (router run creates it; or "
               "pass --state DIR)\n")


def test_a_daemon_on_another_store_is_named_not_a_new_empty_store(config: Path,
                                                                  state: Path) -> None:
    """A node started with --store URL keeps no router.db in its state directory: a command
    given only --state must say so, not create an empty SQLite store and find nothing."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as daemon:
        daemon.bind(str(state / "router.sock"))
        daemon.listen()
        code, out, err = run("ack", "INC1", "--config", str(config), "--state", str(state))
        assert (code, out) == (1, "")
        assert err == (f"router ack: no store in {str(state)!r}, and a daemon answers on "
                       f"{state / 'router.sock'}: it keeps its store elsewhere (settings.store "
                       "or `router run --store`); give this command the same --store URL or "
                       "the config that sets it\n")
        assert run("cluster", "--state", str(state))[0] == 1
    assert not (state / DATABASE_NAME).exists()


def test_help_names_the_exit_codes() -> None:
    code, out, _ = run("ack", "--help")
    assert code == 0
    assert "acknowledge an incident: its escalation stops." in out
    assert "exit status: 0 done (or already acknowledged); 1 no such incident" in (
        " ".join(out.split()))


def test_note_adds_a_timeline_line_by_cli_and_the_name_given(seeded: list[str], config: Path,
                                                             state: Path) -> None:
    assert run("note", "INC1", "restarted the pool", "--by", "ann", *seeded) == (
        0, "note added to INC1 by cli:ann\n", "")
    assert run("note", "inc4", "root cause: a full disk", *seeded)[:2] == (
        0, f"note added to INC4 by cli:{getpass.getuser()}\n")  # resolved: still takes notes
    found = detail(config, state, "INC1")
    assert [(entry.actor, entry.action, dict(entry.details)) for entry in found.timeline][-1] == (
        "cli:ann", "note", {"text": "restarted the pool"})
    code, shown, _ = run("incident", "show", "INC1", *seeded)
    [line] = [line.split() for line in shown.splitlines() if " note " in line]
    assert (code, line[1:]) == (0, ["cli:ann", "note", 'text="restarted', 'the', 'pool"']), shown


def test_note_needs_no_config(seeded: list[str], state: Path) -> None:
    code, out, err = run("note", "INC2", "looking", "--by", "ann", "--state", str(state),
                         "--format", "json")
    assert (code, err) == (0, "")
    document = json.loads(out)
    assert (document["actor"], document["action"], document["details"]) == (
        "cli:ann", "note", {"text": "looking"})


@pytest.mark.parametrize(("argv", "code", "message"), [
    (("note", "INC99", "restarted"), 1, "router note: no incident INC99\n"),
    (("note", "INC1", "  "), 2, "router note: text: is empty: write what was done or found\n"),
    (("note", "INC1", "x" * 4001), 2, "router note: text: is 4001 characters long; a note "
                                      "may have at most 4000\n"),
    (("note", "pool", "restarted"), 2, "router note: expected an incident id like INC12, got "
                                       "'pool'\n"),
])
def test_a_note_that_cannot_be_added_says_why(seeded: list[str], argv: tuple[str, ...],
                                              code: int, message: str) -> None:
    answer = run(*argv, "--by", "ann", *seeded)
    assert (answer[0], answer[2].splitlines()[-1] + "\n") == (code, message), answer
