"""`router job list` and `router job alerts add|list|remove` through the CLI's `main`, against
a real SQLite store in a temporary state directory: the API's checks, each failure naming the
option at fault (exit 2), an unknown job or target exit 1. (`router exec` runs real commands
against a real daemon in tests/e2e/test_jobs.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import run, write_config

CONFIG = """
channels:
  - {id: hooks, type: webhook, url: "http://127.0.0.1:9/unused"}
  - {id: mail, type: email, host: localhost, from: router@example.com}
services:
  - {id: db}
routes:
  - service: db
jobs:
  - {id: backup, service: db, timeout: 2h}
"""


@pytest.fixture
def options(tmp_path: Path, state: Path) -> list[str]:
    return ["--config", str(write_config(tmp_path, CONFIG)), "--state", str(state)]


def test_add_list_and_remove(options: list[str]) -> None:
    code, out, err = run("job", "alerts", "add", "backup", "--type", "webhook", "--target",
                         "https://hooks.example.com/x?token=s3cret", "--no-on-timeout",
                         "--format", "json", *options)
    assert (code, err) == (0, "")
    added = json.loads(out)
    assert (added["target"], added["on_failure"], added["on_timeout"]) == (
        "https://hooks.example.com/x", True, False)
    code, out, _ = run("job", "alerts", "list", "backup", *options)
    assert code == 0
    assert out.splitlines()[1].split() == [added["id"], "webhook",
                                           "https://hooks.example.com/x", "(first)", "yes",
                                           "no"]
    code, out, _ = run("job", "alerts", "remove", added["id"], *options)
    assert (code, out) == (0, f"removed {added['id']}: webhook https://hooks.example.com/x\n")
    code, _, err = run("job", "alerts", "remove", added["id"], *options)
    assert (code, err) == (1, f"router job alerts remove: no job alert target "
                              f"{added['id']!r}\n")
    code, out, _ = run("job", "list", *options)
    assert out.splitlines()[1].split() == ["backup", "config", "db", "2:00:00", "-", "-"]


@pytest.mark.parametrize(("argv", "message"), [
    (["--type", "email", "--target", "ops at example.com"],
     "--target: expected one email address such as ops@example.com, got 'ops at example.com'"),
    (["--type", "webhook", "--target", "hooks.example.com/x"],
     "--target: expected an http:// or https:// URL with a host, got 'hooks.example.com/x'"),
    (["--type", "webhook", "--target", "https://x.example", "--channel", "mail"],
     "--channel: expected a webhook channel of the config (hooks), got 'mail'"),
    (["--type", "email", "--target", "ops@example.com", "--no-on-failure",
      "--no-on-timeout"],
     "--no-on-failure: a target told of neither failures nor timeouts would never be told "
     "anything"),
])
def test_a_bad_target_names_its_option(options: list[str], argv: list[str],
                                       message: str) -> None:
    code, _, err = run("job", "alerts", "add", "backup", *argv, *options)
    assert (code, err) == (2, f"router job alerts add: {message}\n")


def test_an_unknown_job(options: list[str]) -> None:
    code, _, err = run("job", "alerts", "add", "nightly", "--type", "email", "--target",
                       "ops@example.com", *options)
    assert (code, err) == (1, "router job alerts add: no job 'nightly'\n")
