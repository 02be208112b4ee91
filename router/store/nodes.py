"""The nodes of a cluster as the store keeps them (room: store): one row per router sharing
the store, rewritten at each of its beats (issue 18 D5). Whether a node is up is not kept:
readers judge it from `last_beat` and their own clock (engine/cluster.py), so a node that
died needs nobody to mark it. Functions take the connection of a Reader or Transaction and
run inside the store's threads and group commit; the SQL is what SQLite and PostgreSQL both
accept (an upsert on the primary key, times as Unix seconds).
"""

from __future__ import annotations

import sqlite3

from router.store.rows import from_seconds
from router.store.values import NodeRecord

_COLUMNS = "id, host, pid, started_at, config_revision, last_beat"
_BEAT = (f"INSERT INTO nodes ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) "
         "ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, "
         "started_at = excluded.started_at, config_revision = excluded.config_revision, "
         "last_beat = excluded.last_beat")


def _record(row: sqlite3.Row) -> NodeRecord:
    started_at, last_beat = from_seconds(row["started_at"]), from_seconds(row["last_beat"])
    assert started_at is not None and last_beat is not None
    return NodeRecord(id=row["id"], host=row["host"], pid=row["pid"], started_at=started_at,
                      config_revision=row["config_revision"], last_beat=last_beat,
                      claimed_notifications=row["claimed"])


_LISTED = (
    f"SELECT {_COLUMNS}, (SELECT count(*) FROM outbox WHERE outbox.claimed_by = nodes.id "
    # a claim lasts from the claim to the attempt's record, which clears it: what is left
    # pending under a node's id is what it holds (a dead node's until another takes it)
    "AND outbox.state = 'pending') AS claimed FROM nodes ORDER BY id")


def listed(connection: sqlite3.Connection) -> list[NodeRecord]:
    """Every node that beat and has not left, by id, with the notifications it holds."""
    return [_record(row) for row in connection.execute(_LISTED)]


def beat(connection: sqlite3.Connection, node: NodeRecord) -> None:
    """Insert the node's row or rewrite it whole (a restart under the same id replaces
    its host, pid and start)."""
    connection.execute(_BEAT, (node.id, node.host, node.pid, node.started_at.timestamp(),
                               node.config_revision, node.last_beat.timestamp()))


def remove(connection: sqlite3.Connection, node_id: str) -> bool:
    """Forget a node (it left the cluster); False if it had no row."""
    return connection.execute("DELETE FROM nodes WHERE id = ?", (node_id,)).rowcount > 0


class NodesReader:
    """The nodes as a Reader sees them (`reader.nodes`)."""

    __slots__ = ("_connection",)

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def listed(self) -> list[NodeRecord]:
        return listed(self._connection)


class NodesWriter(NodesReader):
    """`NodesReader` and the writes (`transaction.nodes`)."""

    __slots__ = ()

    def beat(self, node: NodeRecord) -> None:
        beat(self._connection, node)

    def remove(self, node_id: str) -> bool:
        return remove(self._connection, node_id)
