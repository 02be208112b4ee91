"""`router ack ID`, `router resolve ID`, `router escalate ID`, `router note ID TEXT` (room:
cli; imports cli_support, config, engine, lifecycle, views, errors).

Each opens the store in the state directory, as `router incidents` does, and runs the same
use case as the HTTP API, the socket and Slack's buttons, as `cli:NAME` (`--by NAME`, default
the login name). SQLite's WAL lets this process write while the daemon runs; the daemon reads
incidents from the store on every request, and its deliverer and scheduler find the
follow-ups (a PagerDuty acknowledge, a Slack message) and timers this writes on their next
pass over the store.

Text output is one sentence ("INC3 acknowledged by cli:ann"); `--format json` prints the
incident as `router incident show --format json` prints it. Exit codes: 0 done, or the
incident was acknowledged already; 1 no such incident, the incident is resolved (ack,
resolve, escalate alike), or it is at the last level of its policy (escalate), or an
invalid config or store problem; 2 usage (a malformed id, say).
"""

from __future__ import annotations

import argparse
import functools
from typing import Any, TextIO

from router.cli.support import (
    EXIT_OK,
    Failure,
    Usage,
    add_common_options,
    command,
    login_name,
    print_json,
    with_engine,
)
from router.config.model import Config
from router.engine import lifecycle, parse_incident_id
from router.engine.views import incident_json, timeline_json
from router.errors import BadRequest, Conflict, NotFound

COMMANDS: tuple[tuple[str, lifecycle.Verb, str], ...] = (
    ("ack", "acknowledge", "acknowledge an incident: its escalation stops"),
    ("resolve", "resolve", "resolve an incident: it is closed and its escalation ends"),
    ("escalate", "escalate", "notify the next level of an incident's escalation policy now"),
)
_EXITS = ("exit status: 0 done (or already acknowledged); 1 no such incident, the incident is "
          "resolved, at the last level (escalate), an invalid config or a store problem; "
          "2 usage. Works with or without a running daemon (SQLite WAL).")


def add_commands(commands: Any) -> None:
    """Register ack, resolve and escalate on the CLI's subparsers."""
    for name, verb, summary in COMMANDS:
        parser = command(commands, name, summary, exits=_EXITS)
        parser.add_argument("id", metavar="ID", help="an incident id such as INC12 (or 12)")
        parser.add_argument("--by", metavar="NAME",
                            help="who acts, recorded as cli:NAME (default: your login name)")
        add_common_options(parser, name, functools.partial(_act, verb))
    parser = command(commands, "note", "add a note to an incident's timeline, with its author",
                     exits=_NOTE_EXITS)
    parser.add_argument("id", metavar="ID", help="an incident id such as INC12 (or 12)")
    parser.add_argument("text", metavar="TEXT", help='the note, quoted: "restarted the pool"')
    parser.add_argument("--by", metavar="NAME",
                        help="the author, recorded as cli:NAME (default: your login name)")
    add_common_options(parser, "note", _note, store_only=True)


_NOTE_EXITS = ("exit status: 0 added; 1 no such incident, an invalid config or a store problem; "
               "2 usage (an empty or too long note, a malformed id). Works with or without "
               "a running daemon (SQLite WAL).")


def _actor(arguments: argparse.Namespace) -> str:
    name = (arguments.by if arguments.by is not None else login_name()).strip()
    if not name:
        raise Usage("--by must name someone (no login name was found)")
    return f"cli:{name}"


def _note(arguments: argparse.Namespace, config: Config, out: TextIO) -> int:
    actor = _actor(arguments)
    try:
        entry = with_engine(arguments, config, lambda engine: engine.add_note(
            arguments.id.strip(), arguments.text, actor))
    except BadRequest as bad:
        raise Usage(f"{bad.field}: {bad.message}" if bad.field == "text" else bad.message
                    ) from None
    except NotFound as missing:
        raise Failure(missing.message) from None
    if arguments.format == "json":
        print_json(timeline_json(entry), out)
    else:
        print(f"note added to INC{parse_incident_id(arguments.id.strip())} by {actor}",
              file=out)
    return EXIT_OK


def _act(verb: lifecycle.Verb, arguments: argparse.Namespace, config: Config,
         out: TextIO) -> int:
    actor = _actor(arguments)
    try:
        acted = with_engine(arguments, config, lambda engine: lifecycle.act(
            engine, verb, arguments.id, actor))
    except BadRequest as bad:
        raise Usage(bad.message) from None
    except NotFound as missing:
        raise Failure(missing.message) from None
    except Conflict as refusal:  # escalate: resolved, or the last level
        raise Failure(f"not escalated: {refusal.message}") from None
    if acted.result == "refused":
        raise Failure(f"{acted.sentence}: nothing to {verb}")
    if arguments.format == "json":
        print_json(incident_json(acted.incident), out)
    else:
        print(acted.sentence, file=out)
    return EXIT_OK


