"""`--store` and `--node-id` (issue 18 items 1 and 5): the store named on the command line
or by the config's settings.store, through the one opener; a URL's password never written
on the command line and never printed back. `router run` runs as a subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from router.daemon import Options
from tests.cli.conftest import run, write_config

ROOT = Path(__file__).resolve().parents[2]
SECRET = "hunter2"
UNREACHABLE = "postgresql://router:${env:ROUTER_TEST_PG}@127.0.0.1:1/db"
STORE_COMMANDS = [["run"], ["incidents"], ["incident", "show"], ["ack"], ["note"],
                  ["silence", "add"], ["override", "list"], ["deliveries"], ["heartbeats"],
                  ["oncall"], ["schedule"], ["fatigue"], ["route-test"]]
CONFIG = "channels: [{id: log, type: log}]\n"


@pytest.mark.parametrize("command", STORE_COMMANDS, ids=" ".join)
def test_the_store_option_is_in_the_help(command: list[str]) -> None:
    code, out, _ = run(*command, "--help")
    assert code == 0
    assert "--store sqlite|URL" in out
    assert ("--node-id NAME" in out) == (command == ["run"])


def test_a_password_written_in_the_flag_is_a_usage_error_that_does_not_repeat_it() -> None:
    code, out, err = run("incidents", "--store", f"postgresql://router:{SECRET}@db1/router")
    assert code == 2
    assert err.splitlines()[-1] == (
        "router incidents: error: argument --store: a password is written in the URL: write "
        "it as ${file:PATH} or ${env:NAME} (postgresql://USER:${file:PATH}@HOST/DATABASE; "
        "the file holds only the password), never in the config or on a command line")
    assert SECRET not in out + err


def test_an_unset_variable_in_the_flag_is_a_usage_error() -> None:
    code, _, err = run("incidents", "--store", "postgresql://router:${env:ROUTER_UNSET_X}@db1/r")
    assert code == 2
    assert err.splitlines()[-1] == ("router incidents: error: argument --store: environment "
                                    "variable 'ROUTER_UNSET_X' is not set")


def test_a_store_the_command_cannot_open_is_one_line_without_the_password(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROUTER_TEST_PG", SECRET)
    monkeypatch.chdir(tmp_path)  # no config/ here: the command needs no config
    code, out, err = run("incidents", "--store", UNREACHABLE)
    assert code in (1, 2)  # 2 while this router has no PostgreSQL support, else 1
    assert out == ""
    assert err.startswith("router incidents: cannot open the store "
                          "postgresql://127.0.0.1:1/db: "), err
    assert len(err.splitlines()) == 1 and SECRET not in err


def test_the_config_s_store_is_used_with_its_password_resolved_late(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`router incidents` loads the config without its secrets; the store's are read when
    the store opens."""
    config = write_config(tmp_path, CONFIG + f"settings:\n  store: {{url: '{UNREACHABLE}'}}\n")
    code, _, err = run("incidents", "--config", str(config))
    assert code == 1
    assert err == ("router incidents: settings.store.url "
                   f"({config / 'router.yaml'}:3:16): environment variable 'ROUTER_TEST_PG' "
                   "is not set\n")
    monkeypatch.setenv("ROUTER_TEST_PG", SECRET)
    code, _, err = run("incidents", "--config", str(config))
    assert err.startswith("router incidents: cannot open the store postgresql://127.0.0.1:1/db")
    assert SECRET not in err
    state = tmp_path / "state"
    state.mkdir()
    code, out, err = run("incidents", "--config", str(config), "--state", str(state),
                         "--store", "sqlite")  # the flag wins over the setting
    assert (code, out, err) == (0, "no incidents\n", "")


def test_a_bad_node_id_is_a_usage_error() -> None:
    code, _, err = run("run", "--node-id", "node one")
    assert code == 2
    assert err.splitlines()[-1] == (
        "router run: error: argument --node-id: expected letters, digits, '.', '_' or '-', "
        "at most 63, starting with a letter or digit, got 'node one'")


def test_a_node_is_named_after_its_host_unless_told() -> None:
    options = Options(config_paths=[], state_dir=Path("state"))
    assert options.node_id == socket.gethostname()
    assert Options(config_paths=[], state_dir=Path("state"), node_id="b").node_id == "b"


def test_router_run_with_an_unreachable_store_stops_in_seconds_without_the_password(
        tmp_path: Path) -> None:
    config = write_config(tmp_path, CONFIG)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "router", "run", "--log-format", "text", "--config",
         str(config), "--state", str(tmp_path / "state"), "--listen", "127.0.0.1:0",
         "--store", UNREACHABLE, "--node-id", "node-a"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT), "ROUTER_TEST_PG": SECRET})
    # the store waits 5 s for a connection (psycopg's pool alone would wait 30); the rest is a
    # Python start, which a loaded test machine can stretch to seconds
    assert time.monotonic() - started < 20
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and SECRET not in done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("router run:")]
    assert len(lines) == 1 and lines[0].startswith(
        "router run: cannot open the store postgresql://127.0.0.1:1/db: "), done.stderr


def test_the_store_setting_names_what_validate_prints(tmp_path: Path) -> None:
    config = write_config(tmp_path, CONFIG + f"settings:\n  store: {{url: '{UNREACHABLE}'}}\n")
    code, out, err = run("validate", "--no-secrets", str(config))
    assert (code, err) == (0, "")
    assert out.endswith("from 1 file; store postgresql://127.0.0.1:1/db\n")


def test_a_password_with_a_slash_in_a_whole_reference_is_never_shown(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`12/34` unencoded breaks the URL apart where it still parses: urlsplit and libpq read
    host `ops`, port 12, and the store was shown as `postgresql://ops:12/127.0.0.1:1/db`.
    Such a URL is refused (libpq would connect elsewhere), and no message repeats it."""
    monkeypatch.setenv("ROUTER_STORE_URL", "postgresql://ops:12/34@127.0.0.1:1/db")
    monkeypatch.chdir(tmp_path)
    code, out, err = run("incidents", "--store", "${env:ROUTER_STORE_URL}")
    assert code == 2 and out == ""
    assert err.splitlines()[-1] == (
        "router incidents: error: argument --store: the URL in ${env:ROUTER_STORE_URL}: the "
        "URL's user info holds '/', '?', '#' or '@' as it is, which breaks the URL apart: "
        "percent-encode them (%2F, %3F, %23, %40)")
    assert "12/34" not in err and "ops" not in err
