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
                      claimed_notifications=claimed_notifications(row["id"]))


def claimed_notifications(node_id: str) -> int | None:
    """The outbox rows `node_id` holds. None: the outbox keeps no claims yet. Once it has
    `claimed_by` (issue 18 D6) this becomes a count of the rows claimed under `node_id`
    whose lease has not run out, read in `listed`'s query."""
    return None


def listed(connection: sqlite3.Connection) -> list[NodeRecord]:
    """Every node that beat and has not left, by id."""
    return [_record(row) for row in
            connection.execute(f"SELECT {_COLUMNS} FROM nodes ORDER BY id")]


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
