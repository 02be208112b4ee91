"""Claims on the outbox and the channels' shared pace (room: store).

Several routers on one database (issue 18) must not send one notification together, nor
together send a rate-limited channel more than its rate. Both are kept in the store, so
every coordination is a transaction (ha-design D6):
- a node claims the due notifications it is about to send (store/outbox.py `claim`): the
  unit that chooses them sets `claimed_by` and `lease_until` on their rows, so another
  node's claim leaves them out until that lease runs out (the node died, or stopped without
  a word). Recording an attempt ends the claim; so do a resolve's `cancel_pages` and a
  node's `release` (on shutdown, of what it had not sent; on start, of every claim still
  under its id, so a restart does not wait for its own leases);
- a rate-limited channel's next free send instant is a row of `channel_pace`, moved on in
  the same unit as the claim: each notification claimed gets its own instant, `1 / rate`
  after the one before, whichever node claimed it.
On PostgreSQL the choosing SELECT locks its rows `FOR UPDATE SKIP LOCKED` (two nodes claiming
at once take different rows instead of waiting for each other) and the pace row is taken by
an upsert, whose row lock makes two nodes' claims of one channel take turns. On SQLite the
write lock already makes every claim take its turn.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Sequence

from router.store.dialect import POSTGRESQL, dialect

UNCLAIMED = ("AND (outbox.claimed_by IS NULL OR outbox.claimed_by = ? "
             "OR outbox.lease_until <= ?) ")
"""The due query's clause for a node: no other node holds a live lease on the row (its own
claims it may take again: a queue it dropped, a restart)."""
SKIP_LOCKED = " FOR UPDATE OF outbox SKIP LOCKED"
"""PostgreSQL only: lock the rows chosen, leaving out those another node's claim holds."""


def skip_locked(connection: sqlite3.Connection) -> bool:
    """Whether the connection's database takes `FOR UPDATE SKIP LOCKED` (PostgreSQL's
    connections say `dialect`; SQLite's serialise their writers instead)."""
    return dialect(connection) == POSTGRESQL


def mark(connection: sqlite3.Connection, ids: Sequence[str], node: str, now: float,
         lease_until: float) -> set[str]:
    """Set the claim of `node`, until `lease_until`, on those of the notifications `ids`
    that are still pending and held by no other node's live lease; the ids it claimed. The
    condition is checked again by the UPDATE itself, so two nodes never both claim a row
    even without SKIP LOCKED (PostgreSQL's READ COMMITTED re-reads a row another
    transaction changed before it updates it)."""
    if not ids:
        return set()
    marks = ", ".join("?" * len(ids))
    rows = connection.execute(
        "UPDATE outbox SET claimed_by = ?, lease_until = ? "
        f"WHERE id IN ({marks}) AND state = 'pending' " + UNCLAIMED.replace("outbox.", "")
        + "RETURNING id", (node, lease_until, *ids, node, now)).fetchall()
    return {row[0] for row in rows}


def release(connection: sqlite3.Connection, node: str, keep: Collection[str] = ()) -> int:
    """End the claims `node` holds on pending notifications, but those in `keep` (sent, their
    answers not recorded): any node may take them at once. Returns how many it released."""
    marks = ", ".join("?" * len(keep))
    return connection.execute(
        "UPDATE outbox SET claimed_by = NULL, lease_until = NULL "
        "WHERE claimed_by = ? AND state = 'pending'"
        + (f" AND id NOT IN ({marks})" if keep else ""), (node, *keep)).rowcount


def next_lease_end(connection: sqlite3.Connection, node: str, now: float) -> float | None:
    """When the first live lease another node holds on a pending notification runs out
    (then `node` may take it): None if there is none."""
    row = connection.execute(
        "SELECT min(lease_until) FROM outbox WHERE claimed_by IS NOT NULL "
        "AND claimed_by != ? AND lease_until > ? AND state = 'pending'",
        (node, now)).fetchone()
    return None if row is None or row[0] is None else float(row[0])


def reserve(connection: sqlite3.Connection, channel: str, now: float, count: int,
            rate: float, horizon: float) -> list[float]:
    """Up to `count` send instants for `channel` at `rate` a second, from its next free
    instant (or `now`), none after `horizon`; the channel's next free instant moves past the
    last one. Fewer (none) when other claims already took the instants up to `horizon`."""
    # The upsert takes the row (on PostgreSQL, its lock until the commit): another node's
    # claim of this channel reads the instant this one leaves.
    row = connection.execute(
        "INSERT INTO channel_pace (channel, next_free) VALUES (?, ?) "
        "ON CONFLICT (channel) DO UPDATE SET next_free = channel_pace.next_free "
        "RETURNING next_free", (channel, now)).fetchone()
    start, step = max(now, float(row[0])), 1 / rate
    instants = [start + index * step for index in range(count)
                if start + index * step <= horizon]
    if instants:
        connection.execute("UPDATE channel_pace SET next_free = ? WHERE channel = ?",
                           (instants[-1] + step, channel))
    return instants
