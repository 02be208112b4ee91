"""Commands that only read (or add to) the store find it with `--state` alone: `incidents`,
`incident show`, `deliveries`, `silence list|add|expire` and `override list` need no config;
they read one only when `--config` is given or `config/` is there. Run through the CLI's
`main` against a real SQLite store seeded through the engine."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
import trio

from router.alerts.model import Alert, Severity, Status
from router.clock import FixedClock
from router.config import load_config
from router.engine import Engine
from router.store import DATABASE_NAME, Store
from tests.cli.conftest import run

CONFIG = """
people:
  - {id: alice, contact_methods: [{type: email, address: alice@example.com}]}
channels:
  - {id: log, type: log}
rotas:
  - id: primary
    layers: [{members: [alice], every: 1w, handoff: "09:00", start: 2026-11-02}]
services:
  - {id: api, channels: [log]}
routes:
  - {service: api}
"""
NOON = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The working directory: no `config/` and no `state/` in it."""
    directory = tmp_path / "elsewhere"
    directory.mkdir()
    monkeypatch.chdir(directory)
    return directory


@pytest.fixture
def state(tmp_path: Path) -> Path:
    """A state directory whose store holds INC1 (with a notification on `log`), a silence
    and an override, written by an engine over a config this test then hides."""
    (tmp_path / "config.yaml").write_text(textwrap.dedent(CONFIG))
    directory = tmp_path / "state"
    directory.mkdir()

    async def seed() -> None:
        store = await Store.open(directory / DATABASE_NAME)
        engine = Engine(load_config([tmp_path / "config.yaml"]), store, FixedClock(NOON))
        try:
            await engine.ingest([Alert(summary="Disk full", source="native",
                                       severity=Severity.CRITICAL, status=Status.FIRING,
                                       labels={"alertname": "DiskFull"})])
        finally:
            await store.close()

    trio.run(seed)
    return directory


@pytest.mark.parametrize("argv", [
    ["incidents"], ["incident", "show", "INC1"], ["deliveries"], ["silence", "list"],
    ["override", "list"], ["override", "list", "primary"],
    ["silence", "expire", "SIL-00000000"],
])
def test_store_commands_need_only_the_state_directory(elsewhere: Path, state: Path,
                                                      argv: list[str]) -> None:
    code, out, err = run(*argv, "--state", str(state))
    assert err in ("", "router silence expire: no silence SIL-00000000 in force\n")
    assert code == (1 if err else 0)
    assert bool(out) == (code == 0)  # an answer from the store, or only the error
    assert not (elsewhere / "config").exists()


def test_incidents_and_incident_show_print_the_store_without_a_config(
        elsewhere: Path, state: Path) -> None:
    code, out, err = run("incidents", "--state", str(state), "--format", "json")
    assert (code, err) == (0, "")
    assert [item["id"] for item in json.loads(out)["incidents"]] == ["INC1"]
    code, out, _ = run("incident", "show", "1", "--state", str(state))
    assert (code, out.splitlines()[0]) == (0, "INC1: Disk full")


def test_the_default_state_directory_is_found_without_a_config(elsewhere: Path,
                                                                state: Path) -> None:
    state.rename(elsewhere / "state")
    code, out, err = run("incidents")
    assert (code, err) == (0, "")
    assert out.splitlines()[1].startswith("INC1  triggered  critical  api")


def test_silences_are_added_listed_and_expired_without_a_config(elsewhere: Path,
                                                                 state: Path) -> None:
    code, silence_id, err = run("silence", "add", "--match", "alertname=DiskFull", "--for",
                                "1h", "--reason", "disk swap", "--by", "ann", "--state",
                                str(state))
    assert (code, err) == (0, "")
    code, out, _ = run("silence", "list", "--state", str(state))
    assert silence_id.strip() in out
    assert run("silence", "expire", silence_id.strip(), "--state", str(state)) == (
        0, f"{silence_id.strip()} expired\n", "")


def test_neither_a_store_nor_a_config_is_a_clear_error(elsewhere: Path) -> None:
    assert run("incidents") == (1, "", (
        "router incidents: found neither a store (state/router.db) nor a config (config): "
        "pass --state DIR, the directory `router run --state` names, or run this where "
        "`router run` ran\n"))
    assert run("deliveries", "--state", "nowhere") == (1, "", (
        "router deliveries: found neither a store (nowhere/router.db) nor a config (config): "
        "pass --state DIR, the directory `router run --state` names, or run this where "
        "`router run` ran\n"))
    assert not (elsewhere / "state").exists()
    assert not (elsewhere / "nowhere").exists()


def test_a_config_given_is_still_read_and_must_be_valid(elsewhere: Path, state: Path,
                                                        tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("routes: [{service: nope}]\n")
    code, out, err = run("incidents", "--config", str(tmp_path / "bad.yaml"), "--state",
                         str(state))
    assert (code, out) == (1, "")
    assert err.splitlines()[-1] == "config invalid: fix it first (router validate)"


def test_commands_that_act_on_the_config_still_need_it(elsewhere: Path, state: Path) -> None:
    code, out, err = run("ack", "INC1", "--state", str(state))
    assert (code, out) == (1, "")
    assert err.splitlines()[-1] == "config invalid: fix it first (router validate)"
