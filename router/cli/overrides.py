"""`router override add|list|remove`: run-time rota overrides (room: cli; imports cli_support,
overrides, config, engine, store, clock, errors).

They open the SQLite store in the state directory whether or not the daemon runs (WAL): an
override added here applies to the running daemon's next on-call answer and page as well.
`--from` and `--until` are ISO 8601; without an offset they are wall-clock time in the
rota's timezone, as the config's overrides are. `--until` may also be a duration after
`--from` (8h, 2d). Text output prints UTC. Config secrets are not resolved: nothing is sent.
`add` warns on stderr (and in `warnings` with `--format json`) when `--replaces` names someone
who is not on call in that window: the override is added all the same.
Exit codes: 0 done, 1 not found / invalid config or store problem, 2 usage (a check failed).
"""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any, TextIO

from router.cli.support import (
    EXIT_OK,
    Usage,
    add_common_options,
    command,
    login_name,
    print_json,
    table,
    text_time,
    with_engine,
)
from router.clock import SystemClock
from router.config.model import Config
from router.config.values import parse_positive_duration
from router.engine import Engine
from router.engine.overrides import (
    add_override_warned,
    check_override,
    override_json,
    override_state,
    overrides,
    parse_override_id,
    parse_time,
    remove_override,
)
from router.errors import BadRequest
from router.store.overrides import RotaOverride

_OPTIONS = {"rota": "ROTA", "person": "--person", "replaces": "--replaces", "from": "--from",
            "until": "--until", "reason": "--reason"}
"""The option that carries each field a check names."""
_TIME_HELP = ("ISO 8601 (2026-12-24T09:00, 2026-12-24T09:00+01:00); without an offset it is "
              "the rota's local time")


def add_commands(commands: Any) -> None:
    """Register `override` and its actions on the CLI's subparsers."""
    override = commands.add_parser("override", help="run-time rota overrides: add, list, "
                                                    "remove")
    actions = override.add_subparsers(dest="override_command", metavar="ACTION",
                                      required=True)
    add = command(actions, "add", "put someone on call in a rota for a while, above the "
                  "config's overrides; prints the new override's id")
    add.add_argument("rota", metavar="ROTA", help="the rota's id")
    add.add_argument("--person", required=True, help="who is on call instead")
    add.add_argument("--from", dest="start", metavar="TIME",
                     help=f"when it starts: {_TIME_HELP} (default: now)")
    add.add_argument("--until", dest="end", required=True, metavar="TIME",
                     help=f"when it ends: {_TIME_HELP}; or a duration after --from (8h, 2d)")
    add.add_argument("--reason", required=True, metavar="TEXT")
    add.add_argument("--replaces", metavar="PERSON",
                     help="stand in only for this person (default: the whole rota)")
    add.add_argument("--by", metavar="NAME", help="who adds it (default: your login name)")
    add_common_options(add, "override add", _add)
    listing = command(actions, "list", "overrides in force or to come (with --all: every "
                      "override, removed and ended ones too), by start")
    listing.add_argument("rota", nargs="?", metavar="ROTA", help="only this rota's")
    listing.add_argument("--all", action="store_true",
                         help="also overrides that were removed or are over")
    add_common_options(listing, "override list", _list, store_only=True)
    remove = command(actions, "remove", "remove an override in force or to come: it stops "
                     "applying now and stays in the history (list --all)")
    remove.add_argument("id", metavar="ID", help="an override id such as OVR-1a2b3c4d")
    add_common_options(remove, "override remove", _remove)


def _usage(bad: BadRequest) -> Usage:
    return Usage(f"{_OPTIONS.get(bad.field, bad.field)}: {bad.message}")


def _span(arguments: argparse.Namespace, config: Config, now: datetime
          ) -> tuple[datetime, datetime]:
    start = now if arguments.start is None else parse_time(
        config, arguments.rota, "from", arguments.start)
    try:
        return start, start + parse_positive_duration(arguments.end)
    except ValueError:
        return start, parse_time(config, arguments.rota, "until", arguments.end)


def _add(arguments: argparse.Namespace, config: Config, out: TextIO) -> int:
    now = SystemClock().now()
    by = arguments.by if arguments.by is not None else login_name()
    try:
        start, end = _span(arguments, config, now)
        fields = {"person": arguments.person, "start": start, "end": end,
                  "reason": arguments.reason, "replaces": arguments.replaces}
        check_override(config, arguments.rota, now=now, **fields)  # before opening the store
        added = with_engine(arguments, config, lambda engine: add_override_warned(
            engine, arguments.rota, created_by=by, **fields))
    except BadRequest as bad:
        raise _usage(bad) from None
    if arguments.format == "json":
        print_json(override_json(added.override, now) | {"warnings": list(added.warnings)},
                   out)
    else:
        print(added.override.id, file=out)
        for warning in added.warnings:
            arguments.warn(warning)
    return EXIT_OK


async def _listed(engine: Engine, rota: str | None, every: bool
                  ) -> tuple[list[RotaOverride], datetime]:
    return await overrides(engine, rota, include_past=every), engine.now()


def _list(arguments: argparse.Namespace, config: Config, out: TextIO) -> int:
    found, now = with_engine(arguments, config,
                             lambda engine: _listed(engine, arguments.rota, arguments.all))
    if arguments.format == "json":
        print_json({"overrides": [override_json(item, now) for item in found]}, out)
        return EXIT_OK
    if not found:
        print("no overrides" if arguments.all else "no overrides in force or to come",
              file=out)
        return EXIT_OK
    rows = [(item.id, item.rota, override_state(item, now), text_time(item.start),
             text_time(item.end), item.person, item.replaces or "(whole rota)",
             item.created_by or "-", item.reason) for item in found]
    print("\n".join(table(("ID", "ROTA", "STATE", "FROM", "UNTIL", "PERSON", "REPLACES", "BY",
                           "REASON"), rows)), file=out)
    return EXIT_OK


def _remove(arguments: argparse.Namespace, config: Config, out: TextIO) -> int:
    override_id = parse_override_id(arguments.id)
    removed = with_engine(arguments, config,
                          lambda engine: remove_override(engine, override_id))
    if arguments.format == "json":
        print_json(override_json(removed, removed.removed_at or SystemClock().now()), out)
    else:
        print(f"{removed.id} removed", file=out)
    return EXIT_OK
