"""`router checks [CHECK]` through the CLI's `main`, over a real store whose runs the check
runner wrote with real psutil figures and a real Nagios plugin."""

from __future__ import annotations

import json
import re
from pathlib import Path

import trio

from router.clock import SystemClock
from router.config import load_config
from router.engine import Engine
from router.notify.transport import Transport
from router.probes.runner import CheckRunner
from router.store import DATABASE_NAME, Store
from tests.cli.conftest import run, write_config

CONFIG = """
checks:
  - {{id: memory, type: memory}}
  - {{id: plugin, type: command, command: [{plugin}]}}
"""


def seed(config_dir: Path, state: Path) -> None:
    async def runs() -> None:
        store = await Store.open(state / DATABASE_NAME)
        try:
            engine = Engine(load_config([config_dir]), store, SystemClock())
            runner = CheckRunner(engine, Transport(), host="db1")
            await runner.run_once(engine.config.checks["plugin"], trace_id="d" * 32)
        finally:
            await store.close()
    trio.run(runs)


def test_router_checks_lists_statuses_and_runs(tmp_path: Path, state: Path) -> None:
    plugin = tmp_path / "check_thing"
    plugin.write_text("#!/bin/sh\necho 'THING WARNING - 3 queued|queued=3'\nexit 1\n")
    plugin.chmod(0o755)
    config = write_config(tmp_path, CONFIG.format(plugin=plugin))
    seed(config, state)
    code, out, err = run("checks", "--config", str(config), "--state", str(state))
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == ["CHECK", "TYPE", "STATUS", "SINCE", "LAST", "MESSAGE"]
    assert lines[1].split() == ["memory", "memory", "pending", "-", "-"]
    assert lines[2].split()[:3] == ["plugin", "command", "warning"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", lines[2].split()[3]), \
        "SINCE reads as the other tables' times"
    assert lines[2].endswith("THING WARNING - 3 queued")
    code, out, err = run("checks", "plugin", "--config", str(config), "--state", str(state),
                         "--format", "json")
    assert (code, err) == (0, "")
    runs = json.loads(out)["runs"]
    assert [(item["status"], item["message"], item["metrics"], item["trace_id"],
             item["incident"]) for item in runs] == [
        ("warning", "THING WARNING - 3 queued", {"exit_code": 1, "queued": 3}, "d" * 32,
         "INC1")]
    code, out, err = run("checks", "nope", "--config", str(config), "--state", str(state))
    assert (code, out) == (1, "")
    assert "no check nope" in err
