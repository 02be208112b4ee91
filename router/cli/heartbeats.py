"""`router heartbeats` (room: cli; imports cli_support, config, engine): each configured
heartbeat's state, last ping and next deadline, read from the store in the state directory
(the daemon may be running: WAL lets both use it).

Exit codes: 0 listed, 1 invalid config or a store problem, 2 usage.
"""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from router.cli.support import (
    EXIT_OK,
    add_common_options,
    command,
    print_json,
    table,
    text_time,
    with_engine,
)
from router.config.model import Config
from router.engine.heartbeats import heartbeat_json


def add_commands(commands: Any) -> None:
    """Register heartbeats on the CLI's subparsers."""
    heartbeats = command(commands, "heartbeats", "each heartbeat's state, last ping and next "
                         "deadline")
    add_common_options(heartbeats, "heartbeats", _heartbeats)


def _heartbeats(arguments: argparse.Namespace, config: Config, out: TextIO) -> int:
    listed = with_engine(arguments, config, lambda engine: engine.heartbeats.listed())
    if arguments.format == "json":
        print_json({"heartbeats": [heartbeat_json(heartbeat, record)
                                   for heartbeat, record in listed]}, out)
        return EXIT_OK
    if not listed:
        print("no heartbeats configured", file=out)
        return EXIT_OK
    rows = [(heartbeat.id, heartbeat.service, record.state,
             heartbeat.schedule or f"every {heartbeat_json(heartbeat, record)['period']}",
             text_time(record.last_ping_at), record.last_signal or "-",
             text_time(record.deadline)) for heartbeat, record in listed]
    header = ("HEARTBEAT", "SERVICE", "STATE", "EXPECTED", "LAST PING", "SAID", "DEADLINE")
    print("\n".join(table(header, rows)), file=out)
    return EXIT_OK
