"""`router cluster` (room: cli; imports cli_support, config, engine): the routers sharing the
store, read from it as `GET /v1/cluster` answers (engine/cluster.py), whether or not a daemon
runs here: each node's host, pid, state, config revision, last beat, start and the work it
holds. A node is down once its last beat is more than 15 s old by this host's clock.

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
from router.engine.cluster import ClusterView, cluster_json

_HEADER = ("NODE", "HOST", "PID", "STATE", "CONFIG", "LAST BEAT", "STARTED", "CLAIMED")


def add_commands(commands: Any) -> None:
    """Register cluster on the CLI's subparsers."""
    cluster = command(commands, "cluster", "the routers sharing the store: each one's host, "
                      "state (up or down), config revision, last beat and the work it holds")
    add_common_options(cluster, "cluster", _cluster, store_only=True)


def _cluster(arguments: argparse.Namespace, config: Config, out: TextIO) -> int:
    view: ClusterView = with_engine(arguments, config, lambda engine: engine.cluster.view())
    if arguments.format == "json":
        print_json(cluster_json(view), out)
        return EXIT_OK
    if not view.members:
        print("no router has beat in this store (a running daemon beats every 5 s)", file=out)
        return EXIT_OK
    rows = [(member.node.id, member.node.host, str(member.node.pid), member.state,
             member.node.config_revision, text_time(member.node.last_beat),
             text_time(member.node.started_at),
             "-" if member.node.claimed_notifications is None
             else str(member.node.claimed_notifications)) for member in view.members]
    print("\n".join(table(_HEADER, rows)), file=out)
    revisions = {member.node.config_revision for member in view.members
                 if member.state == "up"}
    if len(revisions) > 1:
        arguments.warn(f"the routers that are up run {len(revisions)} different config "
                       f"revisions ({', '.join(sorted(revisions))}): they route and escalate "
                       "by different rules until each loads the same files")
    return EXIT_OK
