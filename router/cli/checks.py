"""`router checks [CHECK]` (room: cli; imports cli_support, config, engine, errors): local
health checks as the daemon last ran them, from the store in the state directory (the
daemon may be running: WAL lets both use it). With no CHECK, every configured check and its
status; with one, its runs, newest first (the audit trail).
Exit codes: 0 done, 1 no such check, invalid config or a store problem, 2 usage.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any, TextIO

from router.cli.support import (
    EXIT_OK,
    add_common_options,
    command,
    positive,
    print_json,
    table,
    text_time,
    with_engine,
)
from router.config.model import Config
from router.engine.checks import checks_json, run_json


def add_commands(commands: Any) -> None:
    """Register `checks` on the CLI's subparsers."""
    checks = command(commands, "checks", "local health checks: each one's status and last "
                     "run, or one check's runs, newest first")
    checks.add_argument("check", nargs="?", metavar="CHECK",
                        help="show this check's runs (its audit trail)")
    checks.add_argument("--limit", type=positive, default=20, metavar="N",
                        help="at most N runs (default: 20)")
    add_common_options(checks, "checks", _checks)


def _checks(arguments: argparse.Namespace, config: Config, out: TextIO) -> int:
    if arguments.check is not None:
        return _runs(arguments, config, out)
    states = with_engine(arguments, config, lambda engine: engine.checks.states())
    listed = checks_json(config.checks, states)
    if arguments.format == "json":
        print_json({"checks": listed}, out)
        return EXIT_OK
    if not listed:
        print("no checks", file=out)
        return EXIT_OK
    rows = [(item["id"], item["type"] or "-", item["status"],
             text_time(datetime.fromisoformat(item["since"]) if item["since"] else None),
             (item["last_run"] or {}).get("message", "-")) for item in listed]
    print("\n".join(table(("CHECK", "TYPE", "STATUS", "SINCE", "LAST MESSAGE"), rows)),
          file=out)
    return EXIT_OK


def _runs(arguments: argparse.Namespace, config: Config, out: TextIO) -> int:
    runs = with_engine(arguments, config,
                       lambda engine: engine.checks.runs(arguments.check, arguments.limit))
    if arguments.format == "json":
        print_json({"check": arguments.check, "runs": [run_json(run) for run in runs]}, out)
        return EXIT_OK
    if not runs:
        print(f"no runs of {arguments.check} yet", file=out)
        return EXIT_OK
    rows = [(text_time(run.started_at), run.status, f"{run.duration_ms:.0f}ms",
             run.incident_id or "-", run.message, run.error or "")
            for run in runs]
    print("\n".join(table(("TIME", "STATUS", "TOOK", "INCIDENT", "MESSAGE", "ERROR"), rows)),
          file=out)
    return EXIT_OK
