"""`router replay` through the CLI's `main` (issue 20 item 3): a history exported from a real
store replayed against two configs, the three output forms, and clear errors."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trio

from router.alerts.model import Alert, Severity, Status
from router.clock import FixedClock
from router.config import load_config
from router.engine import Engine
from router.replay.report import NO_ACKNOWLEDGEMENTS
from router.store import DATABASE_NAME, Store
from tests.cli.conftest import run

CONFIG = """
channels:
  - {id: log, type: log}
  - {id: email, type: email, host: localhost, from: r@example.com}
people:
  - id: ann
    name: Ann
    timezone: Europe/London
    contact_methods: [{type: email, address: ann@example.com}]
  - id: ben
    name: Ben
    timezone: Asia/Tokyo
    contact_methods: [{type: email, address: ben@example.com}]
escalation_policies:
  - id: api
    name: API
    levels:
      - {targets: [{person: ann}], delay: 10m}
      - {targets: [{person: ben}], delay: 10m}
services: [{id: api, escalation_policy: api, urgency: high}]
routes: [{service: api}]
"""
NIGHT = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)  # 02:00 in London, 11:00 in Tokyo


def configs(tmp_path: Path) -> tuple[Path, Path]:
    """old/: ann first; new/: ben first."""
    old, new = tmp_path / "old", tmp_path / "new"
    for directory, text in ((old, CONFIG), (new, CONFIG.replace(
            "person: ann}], delay", "person: TEMP}], delay").replace(
            "person: ben}], delay", "person: ann}], delay").replace("TEMP", "ben"))):
        directory.mkdir(exist_ok=True)
        (directory / "router.yaml").write_text(textwrap.dedent(text))
    return old, new


@pytest.fixture
def history(tmp_path: Path) -> Path:
    """Exported from a real store: DiskFull at 02:00 re-sent until 02:05 and resolved at
    02:06; Lag at 02:30, never resolved."""
    old, _ = configs(tmp_path)
    state = tmp_path / "state"
    state.mkdir()

    async def fill() -> None:
        store = await Store.open(state / DATABASE_NAME)
        clock = FixedClock(NIGHT)
        engine = Engine(load_config([old]), store, clock)
        try:
            for minutes, name, status in ((0, "DiskFull", Status.FIRING),
                                          (5, "DiskFull", Status.FIRING),
                                          (6, "DiskFull", Status.RESOLVED),
                                          (30, "Lag", Status.FIRING)):
                clock.advance(NIGHT + timedelta(minutes=minutes) - clock.now())
                await engine.ingest([Alert(summary=name, source="native", status=status,
                                           severity=Severity.CRITICAL,
                                           labels={"alertname": name})])
        finally:
            await store.close()

    trio.run(fill)
    target = tmp_path / "alerts.jsonl"
    code, _, err = run("export", "alerts", "--since", "2026-11-01T00:00:00Z", "--until",
                       "2026-11-04T00:00:00Z", "--state", str(state), "--out", str(target))
    assert (code, err) == (0, f"3 alerts written to {target}\n")
    return target


def test_an_exported_history_replayed_as_text(tmp_path: Path, history: Path) -> None:
    old, _ = configs(tmp_path)
    code, out, err = run("replay", "--config", str(old), str(history), "--to",
                         "2026-11-03T03:00:00Z")
    assert (code, err) == (0, "")
    assert out == textwrap.dedent(f"""\
        replay of 4 alerts from 2026-11-03T02:00:00Z to 2026-11-03T03:00:00Z: {old}
        {NO_ACKNOWLEDGEMENTS}

        incidents opened                         2
        incidents opened for api                 2
        incidents never paged                    0
        incidents still open at the end          1
        escalations beyond level 1               1
        incidents escalated beyond level 1       1
        policies exhausted                       1
        ann pages                                2
        ann night pages                          2
        ben pages                                1
        ben night pages                          0
        email notifications                      3
        """)


def test_against_puts_two_configs_side_by_side(tmp_path: Path, history: Path) -> None:
    old, new = configs(tmp_path)
    code, out, _ = run("replay", "--config", str(new), "--against", str(old), str(history),
                       "--to", "2026-11-03T03:00:00Z", "--format", "markdown")
    assert code == 0
    assert "- ann night pages 2 → 1\n" in out
    assert "- ben pages 1 → 2\n" in out
    assert f"| | `{old}` | `{new}` | change |" in out
    assert "| ann night pages | 2 | 1 | -1 |" in out
    code, out, _ = run("replay", "--config", str(new), "--against", str(old), str(history),
                       "--to", "2026-11-03T03:00:00Z", "--format", "json")
    document = json.loads(out)
    assert document["config"]["people"] == {"ann": {"pages": 1, "night": 1},
                                            "ben": {"pages": 2, "night": 0}}
    assert {"what": "ann night pages", "before": 2, "after": 1} in document["changes"]
    assert (document["from"], document["to"], document["alerts"]) == (
        "2026-11-03T02:00:00Z", "2026-11-03T03:00:00Z", 4)


def test_from_and_to_pick_the_alerts(tmp_path: Path, history: Path) -> None:
    old, _ = configs(tmp_path)
    code, out, _ = run("replay", "--config", str(old), str(history), "--from",
                       "2026-11-03T02:10:00Z", "--format", "json")
    document = json.loads(out)
    assert (code, document["alerts"], document["config"]["incidents"]["opened"]) == (0, 1, 1)
    # the last alert, 02:30, plus the longest policy's escalation, 10m + 10m
    assert document["to"] == "2026-11-03T02:50:00Z"


def test_by_default_the_last_incidents_escalations_are_counted(tmp_path: Path,
                                                                history: Path) -> None:
    # the replay stopped just after the last alert (02:30), so Lag's escalation to ben at
    # 02:40 and its policy running out at 02:50 were never counted
    old, new = configs(tmp_path)
    (new / "router.yaml").write_text((new / "router.yaml").read_text().replace(
        "delay: 10m}\n      - {targets: [{person: ann}], delay: 10m}",
        "delay: 10m}\n      - {targets: [{person: ann}], delay: 10m, repeat: 2, "
        "retry_interval: 5m}"))
    code, out, _ = run("replay", "--config", str(old), str(history), "--format", "json")
    document = json.loads(out)
    assert (code, document["to"]) == (0, "2026-11-03T02:50:00Z")
    assert document["config"]["people"]["ben"]["pages"] == 1
    assert document["config"]["incidents"]["exhausted"] == 1
    # with --against, the longest policy of either config: 10m + (5m + 5m + 10m) in new
    code, out, _ = run("replay", "--config", str(old), "--against", str(new), str(history),
                       "--format", "json")
    assert (code, json.loads(out)["to"]) == (0, "2026-11-03T03:00:00Z")


def test_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    old, _ = configs(tmp_path)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"alerts": []}\n{"what": 1}\n')
    assert run("replay", "--config", str(old), str(bad)) == (
        1, "", f"router replay: {bad}:2: neither an exported alert (no received_at) nor an "
               "Alertmanager webhook payload (no alerts)\n")
    assert run("replay", "--config", str(old), str(tmp_path / "none")) == (
        1, "", f"router replay: cannot read {tmp_path / 'none'}: No such file or directory\n")
    assert run("replay", "--config", str(old), str(bad), "--from", "2026-11-03") == (
        2, "", "router replay: --from: '2026-11-03' has no offset: add Z or +01:00, say\n")
    assert run("replay", "--config", str(old), str(bad), "--to", "soon") == (
        2, "", "router replay: --to: expected an ISO 8601 instant with an offset "
               "(2026-11-01T00:00:00Z), got 'soon'\n")
    assert run("replay", "--config", str(old), str(bad), "--from", "2026-11-03T00:00:00Z",
               "--to", "2026-11-02T00:00:00Z") == (
        2, "", "router replay: --to is not after --from\n")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    assert run("replay", "--config", str(old), str(empty)) == (
        1, "", f"router replay: {empty} holds no alerts\n")
    code, _, err = run("replay", "--config", str(tmp_path / "missing"), str(bad))
    assert code == 1 and err.endswith("config invalid: fix it first (router validate)\n")
