"""`router replay` (room: cli; imports cli_support, cli.export, config, replay, errors).

Replays a recorded alert history (`router export alerts` lines, or captured Alertmanager
webhook payloads) against a config on a simulated clock, with no daemon and no store, and
reports incidents, pages per person and channel, night pages and escalations; with
`--against OTHER`, both configs side by side (docs/replay.md). Config secrets are not
resolved: nothing is sent. Exit codes: 0 done, 1 an invalid config or history, or an
unreadable file, 2 usage.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from router.cli.export import aware_instant
from router.cli.support import EXIT_INVALID, EXIT_OK, EXIT_USAGE, Usage, command, print_json
from router.config import ConfigInvalid, load_config
from router.config.model import Config
from router.replay import escalation_span, replay, window
from router.replay.history import HistoryInvalid, read_history
from router.replay.report import Outcome, as_json, as_markdown, as_text

_EXITS = ("exit status: 0 done; 1 an invalid config or history, or an unreadable file; "
          "2 usage. Config secrets are not resolved: nothing is sent.")


def add_commands(commands: Any) -> None:
    """Register `router replay` on the CLI's subparsers."""
    parser = command(commands, "replay", "replay a recorded alert history against a config "
                     "on a simulated clock: incidents, pages per person and channel, night "
                     "pages, escalations", _EXITS)
    parser.add_argument("alerts", type=Path, metavar="ALERTS",
                        help="`router export alerts` JSONL, or Alertmanager webhook "
                             "payloads (one JSON object a line, or a JSON array); - reads "
                             "standard input")
    parser.add_argument("--config", action="append", metavar="DIR|FILE",
                        help="the config to replay (default: config); may repeat")
    parser.add_argument("--against", action="append", metavar="DIR|FILE",
                        help="a second config (the one in force, say) to compare with, side "
                             "by side; may repeat")
    parser.add_argument("--from", dest="start", metavar="INSTANT",
                        help="replay alerts from this ISO 8601 instant with an offset "
                             "(default: the first alert)")
    parser.add_argument("--to", dest="end", metavar="INSTANT",
                        help="up to (not including) this instant; timers stop there too "
                             "(default: the last alert plus the longest escalation policy's "
                             "total delay, so its escalations are counted)")
    parser.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    parser.set_defaults(handler=run_replay)


def run_replay(arguments: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        start = _instant(arguments.start, "--from")
        end = _instant(arguments.end, "--to")
        if start is not None and end is not None and end <= start:
            raise Usage("--to is not after --from")
    except Usage as error:
        print(f"router replay: {error}", file=err)
        return EXIT_USAGE
    directory = arguments.config or ["config"]
    try:
        config = load_config(directory, resolve_secrets=False)
        other = load_config(arguments.against, resolve_secrets=False) \
            if arguments.against else None
        text = sys.stdin.read() if str(arguments.alerts) == "-" else \
            arguments.alerts.read_text(encoding="utf-8")
        arrivals = read_history(text, str(arguments.alerts), config.settings.alert_limits)
    except ConfigInvalid as invalid:
        for problem in invalid.problems:
            print(problem, file=err)
        print("config invalid: fix it first (router validate)", file=err)
        return EXIT_INVALID
    except HistoryInvalid as invalid:
        print(f"router replay: {invalid}", file=err)
        return EXIT_INVALID
    except (OSError, UnicodeDecodeError) as error:
        print(f"router replay: cannot read {arguments.alerts}: "
              f"{getattr(error, 'strerror', None) or error}", file=err)
        return EXIT_INVALID
    if not arrivals:
        print(f"router replay: {arguments.alerts} holds no alerts", file=err)
        return EXIT_INVALID
    chosen, span = window(arrivals, start, end,
                          escalation_span(config, *([other] if other else [])))
    outcome = Outcome(config=" ".join(directory), tally=replay(config, chosen, span.end))
    against = _against(arguments.against, other, chosen, span.end)
    if arguments.format == "json":
        print_json(as_json(span, outcome, against), out)
    else:
        render = as_markdown if arguments.format == "markdown" else as_text
        print(render(span, outcome, against), file=out)
    return EXIT_OK


def _against(names: list[str] | None, config: Config | None, chosen: Any,
             end: datetime) -> Outcome | None:
    if names is None or config is None:
        return None
    return Outcome(config=" ".join(names), tally=replay(config, chosen, end))


def _instant(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    return aware_instant(text, option)
