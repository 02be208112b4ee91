"""`router notify CHANNEL TEXT` (room: cli; imports cli_support, config, engine, errors).

Sends a message straight to one channel or several (`log,chat`), as `POST /v1/notify` does:
it opens the store in the state directory and queues one notification per channel in the
outbox (engine/direct.py), which the daemon's deliverer sends on its next pass over the
store, with its retries and delivery log (`router deliveries` shows the attempts).

TEXT is the message; its first line is the title unless `--title` gives one. Exit codes: 0
queued; 1 an invalid config or a store problem; 2 usage (no such channel, empty text, a bad
severity or `--context` not NAME=VALUE).
"""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from router.cli.support import (
    EXIT_OK,
    Usage,
    add_common_options,
    command,
    print_json,
    with_engine,
)
from router.config.model import Config
from router.engine.direct import read_send
from router.errors import BadRequest

_EXITS = ("exit status: 0 queued; 1 an invalid config or a store problem; 2 usage (no such "
          "channel, an empty text, a bad --severity or --context). The daemon sends what this "
          "queues on its next pass over the store (SQLite WAL).")


def add_commands(commands: Any) -> None:
    """Register notify on the CLI's subparsers."""
    parser = command(commands, "notify", "send a message straight to channels, through the "
                     "outbox with its retries and delivery log", exits=_EXITS)
    parser.add_argument("channel", metavar="CHANNEL",
                        help="a channel id, or several joined by commas: log,chat")
    parser.add_argument("text", metavar="TEXT",
                        help='the message, quoted; its first line is the title unless '
                             '--title is given')
    parser.add_argument("--title", help="the title (default: the first line of TEXT)")
    parser.add_argument("--severity", default="info",
                        help="critical, error, warning or info (default: info)")
    parser.add_argument("--tag", action="append", default=[], metavar="TAG",
                        help="a tag; repeat for more")
    parser.add_argument("--context", action="append", default=[], metavar="NAME=VALUE",
                        help="a line of context; repeat for more")
    add_common_options(parser, "notify", _notify)


def _notify(arguments: argparse.Namespace, config: Config, out: TextIO) -> int:
    text: str = arguments.text
    title = arguments.title if arguments.title is not None else text.strip().split("\n")[0]
    message = text if arguments.title is not None else "\n".join(
        text.strip().split("\n")[1:]).strip()
    context = {}
    for item in arguments.context:
        name, equals, value = item.partition("=")
        if not equals or not name.strip():
            raise Usage(f"--context {item!r}: expected NAME=VALUE")
        context[name.strip()] = value
    channels = [channel.strip() for channel in arguments.channel.split(",") if channel.strip()]
    try:
        send = read_send({"title": title, "message": message, "severity": arguments.severity,
                          "tags": arguments.tag, "context": context, "channels": channels})
        [queued] = with_engine(arguments, config, lambda engine: engine.notify([send]))
    except BadRequest as bad:
        raise Usage(f"{bad.field}: {bad.message}" if bad.field else bad.message) from None
    if arguments.format == "json":
        print_json({"notifications": [{"id": item.notification_id, "channel": item.channel}
                                      for item in queued]}, out)
    else:
        for item in queued:
            print(f"queued for {item.channel}: {item.notification_id}", file=out)
    return EXIT_OK
