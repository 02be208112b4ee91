"""The outbox as the deliverer sees it, and the delivery log (room: store).

The outbox holds one row per notification: `pending` until the receiver accepts it
(`delivered`), it has nothing to send (`skipped`), or the deliverer gives up (`failed`, a dead
letter). A trigger or escalation still pending when its incident is resolved is `skipped`
too (`cancel_pages`), so no late page reaches anyone. Every attempt is a row of `deliveries`,
kept for `router deliveries` and `GET /v1/deliveries`. Functions here take the connection of
a Reader or Transaction, so they run inside the store's threads and its group commit like
every other query. A node sends only what it claimed (`claim`; store/claims.py says how
several nodes share the outbox and a channel's rate).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from types import MappingProxyType

from router.alerts.model import DirectMessage, Incident, IncidentState, Notification, Severity
from router.store import claims
from router.store.dialect import POSTGRESQL, SQLITE, dialect, member_of, send
from router.store.rows import _INCIDENT_COLUMNS, _incident, from_seconds
from router.store.values import Attempt as Attempt
from router.store.values import DeadLetter as DeadLetter
from router.store.values import Due as Due
from router.store.values import Outcome as Outcome

_QUALIFIED = ", ".join(f"incidents.{column.strip()}" for column in _INCIDENT_COLUMNS.split(","))
_DUE_HEAD = (
    "SELECT outbox.id, outbox.channel, outbox.target, outbox.address, outbox.event, "
    "outbox.created_at, outbox.attempts, outbox.note, outbox.trace_id, "
    "outbox.incident_number AS about, "
    + _QUALIFIED + " FROM outbox "
    "LEFT JOIN incidents ON incidents.number = outbox.incident_number "
    "WHERE outbox.state = 'pending' AND outbox.channel = ? AND outbox.due_at <= ? ")
_DUE_ORDER = (
    # what an incident tells one target over one channel arrives in the order it was decided:
    # an acknowledge never overtakes its trigger while the trigger waits for a retry
    "AND NOT EXISTS (SELECT 1 FROM outbox AS earlier WHERE earlier.state = 'pending' "
    "AND earlier.incident_number = outbox.incident_number AND earlier.channel = outbox.channel "
    "AND earlier.target = outbox.target AND (earlier.created_at < outbox.created_at "
    # decided at the same instant (one commit, or a clock that did not move): written first
    "OR (earlier.created_at = outbox.created_at AND earlier.rowid < outbox.rowid))) "
    "ORDER BY outbox.due_at, outbox.id LIMIT ?")
_FIRST_OF_TARGET = (
    # PostgreSQL's form of the same check (store/migrations.py's `outbox_first_pending`): a
    # row is due only as the first pending of its incident, channel and target, found by a
    # lookup whatever the statistics say (NOT EXISTS let stale ones scan the channel)
    "AND outbox.id = outbox_first_pending(outbox.incident_number, outbox.channel, "
    "outbox.target, NULL) "
    "ORDER BY outbox.due_at, outbox.id LIMIT ?")
_DUE = _DUE_HEAD + _DUE_ORDER
_DUE_FOR_NODE = _DUE_HEAD + claims.UNCLAIMED + _DUE_ORDER
"""Due and not held by another node's live claim: (channel, now, node, now, limit)."""
_DUES = {SQLITE: (_DUE, _DUE_FOR_NODE),
         POSTGRESQL: (_DUE_HEAD + _FIRST_OF_TARGET,
                      _DUE_HEAD + claims.UNCLAIMED + _FIRST_OF_TARGET)}
_LATER_PENDING = (
    "SELECT EXISTS (SELECT 1 FROM outbox AS this JOIN outbox AS later ON "
    "later.incident_number = this.incident_number AND later.channel = this.channel AND "
    "later.target = this.target WHERE this.id = ? AND later.state = 'pending' "
    "AND later.id != this.id)")
_LATERS_PENDING = {
    SQLITE: _LATER_PENDING,
    POSTGRESQL: ("SELECT EXISTS (SELECT 1 FROM outbox WHERE id = ? AND outbox_first_pending("
                 "incident_number, channel, target, id) IS NOT NULL)")}
"""Whether another notification of the same incident, channel and target is pending: (id)."""


def due(connection: sqlite3.Connection, channel: str, now: datetime, limit: int,
        busy: Collection[str] = (), node: str | None = None, *, lock: bool = False
        ) -> list[Due]:
    """Up to `limit` notifications of `channel` due at `now`, oldest due first, leaving out
    those in `busy` (being sent right now) and, for a `node`, those another node's live
    claim holds; `lock`: take the rows FOR UPDATE SKIP LOCKED (PostgreSQL, for a claim)."""
    seconds, rows_wanted = now.timestamp(), limit + len(busy)
    for_any, for_node = _DUES[dialect(connection)]
    if node is None:
        rows = connection.execute(for_any, (channel, seconds, rows_wanted)).fetchall()
    else:
        rows = connection.execute(
            for_node + (claims.SKIP_LOCKED if lock else ""),
            (channel, seconds, node, seconds, rows_wanted)).fetchall()
    found = []
    for row in rows:
        if row["id"] in busy:
            continue
        notification = Notification(
            id=row["id"], incident_number=row["about"], channel=row["channel"],
            target=row["target"], address=row["address"], event=row["event"],
            created_at=from_seconds(row["created_at"]),  # type: ignore[arg-type]
            note=row["note"])
        incident = _incident(row)[0] if row["number"] is not None else notice(notification)
        found.append(Due(notification, incident, row["attempts"], row["trace_id"]))
    return found[:limit]


def claim(connection: sqlite3.Connection, channel: str, now: datetime, limit: int,
          node: str, lease: timedelta, *, busy: Collection[str] = (),
          rate: float | None = None) -> list[Due]:
    """Claim for `node`, until `now + lease`, up to `limit` notifications of `channel` due
    at `now` that no other node holds (`due` for the node, leaving out `busy`), and return
    them. With a `rate`, each gets its send instant (`Due.send_at`) from the channel's shared
    pace, none later than half the lease from now: fewer are claimed when other nodes took
    the instants before that."""
    found = due(connection, channel, now, limit, busy, node, lock=claims.skip_locked(connection))
    if found and rate:
        instants = claims.reserve(connection, channel, now.timestamp(), len(found), rate,
                                  horizon=(now + lease / 2).timestamp())
        found = [replace(item, send_at=from_seconds(instant))
                 for item, instant in zip(found, instants, strict=False)]
    held = claims.mark(connection, [item.notification.id for item in found], node,
                       now.timestamp(), (now + lease).timestamp())
    return [item for item in found if item.notification.id in held]


def notice(notification: Notification) -> Incident:
    """What a notice that belongs to no incident (a rota handoff, a job's alert target)
    shows where an incident would be: number 0, its note as the summary, severity info. A
    direct message (event `notify`) shows its title, severity, tags and context
    (engine/direct.py). A job's note is a JSON object of `summary` and `labels`
    (engine/jobs.py): the run's job, id, status and exit code, which the webhook's body
    carries as the labels."""
    if notification.event == "notify":
        message = DirectMessage.from_note(notification.note)
        return Incident(number=0, dedup_key=f"notify-{notification.id}", service=None,
                        summary=message.title, severity=message.severity,
                        state=IncidentState.TRIGGERED, opened_at=notification.created_at,
                        updated_at=notification.created_at, source="router notify",
                        labels=MappingProxyType(
                            ({"tags": ",".join(message.tags)} if message.tags else {})
                            | dict(message.context)))
    summary, labels = notification.note, {}
    if notification.event == "job":
        document = json.loads(notification.note)
        summary, labels = document["summary"], document["labels"]
    return Incident(number=0, dedup_key=f"notice-{notification.id}", service=None,
                    summary=summary, severity=Severity.INFO,
                    state=IncidentState.TRIGGERED, opened_at=notification.created_at,
                    updated_at=notification.created_at, source="router",
                    labels=MappingProxyType(labels))


def next_due_after(connection: sqlite3.Connection, now: datetime,
                   node: str | None = None) -> datetime | None:
    """When the next pending notification falls due after `now`, or, for a `node`, another
    node's claim on one runs out if that is sooner (a node that died: this one takes its
    work then). (Those due already are being sent, or wait for a free slot or for an
    earlier notification: each of those ends with a send, which wakes the deliverer.)"""
    row = connection.execute(
        "SELECT min(due_at) FROM outbox WHERE state = 'pending' AND due_at > ?",
        (now.timestamp(),)).fetchone()
    moments = [row[0]] if row and row[0] is not None else []
    if node is not None:
        lease_end = claims.next_lease_end(connection, node, now.timestamp())
        moments += [] if lease_end is None else [lease_end]
    return from_seconds(min(moments)) if moments else None


def pending_channels(connection: sqlite3.Connection) -> list[str]:
    """Every channel some pending notification waits for (a reload may have removed it)."""
    return [row[0] for row in connection.execute(
        "SELECT DISTINCT channel FROM outbox WHERE state = 'pending'")]


def record(connection: sqlite3.Connection, attempt: Attempt,
           retry_at: datetime | None = None) -> bool:
    """Log `attempt` and move its notification on: done, failed, or pending until
    `retry_at` (outcome "retry"). True if a later notification of the same incident to the
    same target over the same channel is pending: one that waited for this one.

    A notification that stopped being pending while it was being sent (its incident was
    resolved, its channel removed) keeps that end unless this attempt delivered it; a
    trigger delivered so, after its incident was resolved, gets the resolve follow-up the
    resolve could not know it needed."""
    row = connection.execute("SELECT state FROM outbox WHERE id = ?",
                             (attempt.notification_id,)).fetchone()
    if row is not None and row["state"] != "pending":
        return _record_late(connection, attempt)
    # The log line and the move go with the check after them (one round trip on PostgreSQL).
    _log_attempt(connection, attempt)
    if attempt.outcome == "retry":
        assert retry_at is not None
        send(connection,
             "UPDATE outbox SET attempts = ?, due_at = ?, last_error = ?, claimed_by = NULL, "
             "lease_until = NULL WHERE id = ?",
             (attempt.attempt, retry_at.timestamp(), attempt.error, attempt.notification_id))
    else:
        send(connection,
             "UPDATE outbox SET attempts = ?, state = ?, last_error = ?, finished_at = ?, "
             "claimed_by = NULL, lease_until = NULL WHERE id = ?",
             (attempt.attempt, attempt.outcome, attempt.error,
              attempt.attempted_at.timestamp(), attempt.notification_id))
    return bool(connection.execute(_LATERS_PENDING[dialect(connection)],
                                   (attempt.notification_id,)).fetchone()[0])


def _record_late(connection: sqlite3.Connection, attempt: Attempt) -> bool:
    """The attempt of a notification ended while it was in flight (see `record`); True if
    it wrote a resolve follow-up."""
    _log_attempt(connection, attempt)
    if attempt.outcome != "delivered":
        return False
    connection.execute(
        "UPDATE outbox SET attempts = ?, state = 'delivered', finished_at = ?, "
        "claimed_by = NULL, lease_until = NULL WHERE id = ?",
        (attempt.attempt, attempt.attempted_at.timestamp(), attempt.notification_id))
    # The trigger reached a channel after the incident was resolved: tell it, once.
    return connection.execute(
        "INSERT INTO outbox (id, incident_number, channel, target, address, event, "
        "created_at, due_at, note, trace_id) "
        "SELECT this.id || '-resolve', this.incident_number, this.channel, this.target, "
        "this.address, 'resolve', ?, ?, '', this.trace_id FROM outbox AS this "
        "JOIN incidents ON incidents.number = this.incident_number "
        "WHERE this.id = ? AND this.event = 'trigger' AND this.target LIKE 'channel:%' "
        "AND incidents.state = 'resolved' AND NOT EXISTS (SELECT 1 FROM outbox AS later "
        "WHERE later.incident_number = this.incident_number AND later.channel = this.channel "
        "AND later.target = this.target AND later.event = 'resolve') ON CONFLICT DO NOTHING",
        (attempt.attempted_at.timestamp(),) * 2 + (attempt.notification_id,)).rowcount > 0


def cancel_pages(connection: sqlite3.Connection, incident_number: int, now: datetime,
                 reason: str) -> list[str]:
    """Skip the pending triggers and escalations of a resolved incident, each with a line
    in the delivery log that says why; their ids. (One being sent right now still ends as
    its send does: `record`.)"""
    rows = connection.execute(
        "SELECT id, channel, target, event, attempts FROM outbox WHERE incident_number = ? "
        "AND state = 'pending' AND event IN ('trigger', 'escalate')",
        (incident_number,)).fetchall()
    for row in rows:
        _log_attempt(connection, Attempt(
            notification_id=row["id"], incident_number=incident_number,
            channel=row["channel"], target=row["target"], event=row["event"],
            attempt=row["attempts"] + 1, attempted_at=now, outcome="skipped", error=reason))
    connection.executemany(
        "UPDATE outbox SET state = 'skipped', last_error = ?, finished_at = ?, "
        "claimed_by = NULL, lease_until = NULL WHERE id = ?",
        [(reason, now.timestamp(), row["id"]) for row in rows])
    return [row["id"] for row in rows]


def states(connection: sqlite3.Connection, notification_id: str
           ) -> tuple[str | None, str | None]:
    """The notification's outbox state and its incident's state (None: no such row)."""
    row = connection.execute(
        "SELECT outbox.state, incidents.state FROM outbox LEFT JOIN incidents ON "
        "incidents.number = outbox.incident_number WHERE outbox.id = ?",
        (notification_id,)).fetchone()
    return (row[0], row[1]) if row else (None, None)


def told_channels(connection: sqlite3.Connection, incident_number: int,
                  by_key: Collection[str] = ()) -> list[str]:
    """The channels that were told of the incident's trigger: it was delivered to them, or,
    for those in `by_key` (PagerDuty: a resolve names the dedup key, and one for a key never
    seen changes nothing), it was tried at least once and may have arrived unanswered."""
    keyed, channels = member_of(connection, "channel", list(by_key))
    return [row[0] for row in connection.execute(
        "SELECT DISTINCT channel FROM outbox WHERE incident_number = ? AND event = 'trigger' "
        "AND target LIKE 'channel:%' AND (state = 'delivered' OR (attempts > 0 AND "
        f"{keyed})) ORDER BY channel", (incident_number, channels))]


def _log_attempt(connection: sqlite3.Connection, attempt: Attempt) -> None:
    """The attempt's row in the delivery log (on PostgreSQL sent with the next statement)."""
    send(connection,
         "INSERT INTO deliveries (notification_id, incident_number, channel, target, event, "
         "attempt, attempted_at, outcome, status_code, latency_ms, error) "
         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
         (attempt.notification_id, attempt.incident_number, attempt.channel, attempt.target,
          attempt.event, attempt.attempt, attempt.attempted_at.timestamp(), attempt.outcome,
          attempt.status_code, attempt.latency_ms, attempt.error))


def attempts(connection: sqlite3.Connection, *, incident_number: int | None = None,
             failed: bool = False, channel: str | None = None,
             limit: int = 100) -> list[Attempt]:
    """The delivery log, newest first; `failed`: only attempts that gave up for good."""
    clauses: list[str] = ["1 = 1"]
    values: list[int | str] = []
    if incident_number is not None:
        clauses.append("incident_number = ?")
        values.append(incident_number)
    if failed:
        clauses.append("outcome = 'failed'")
    if channel is not None:
        clauses.append("channel = ?")
        values.append(channel)
    rows = connection.execute(
        f"SELECT * FROM deliveries WHERE {' AND '.join(clauses)} ORDER BY id DESC LIMIT ?",
        (*values, limit)).fetchall()
    return [_attempt(row) for row in rows]


def outbox_counts(connection: sqlite3.Connection) -> dict[str, int]:
    """Notifications by state: pending, delivered, failed, skipped."""
    return {row[0]: row[1] for row in connection.execute(
        "SELECT state, count(*) FROM outbox GROUP BY state")}


_DEAD = ("SELECT id, incident_number, channel, target, event, attempts, created_at, "
         "finished_at, last_error FROM outbox WHERE state = 'failed' ")


def dead_letters(connection: sqlite3.Connection, limit: int) -> list[DeadLetter]:
    """The notifications given up for good, the latest to fail first (at most `limit`)."""
    return [_dead_letter(row) for row in connection.execute(
        _DEAD + "ORDER BY finished_at DESC, id DESC LIMIT ?", (limit,))]


def dead_letter(connection: sqlite3.Connection, notification_id: str) -> DeadLetter | None:
    """One notification given up for good, or None (no such one, or not failed)."""
    row = connection.execute(_DEAD + "AND id = ?", (notification_id,)).fetchone()
    return None if row is None else _dead_letter(row)


def _dead_letter(row: sqlite3.Row) -> DeadLetter:
    return DeadLetter(
        notification_id=row["id"], incident_number=row["incident_number"],
        channel=row["channel"], target=row["target"], event=row["event"],
        attempts=row["attempts"],
        created_at=from_seconds(row["created_at"]),  # type: ignore[arg-type]
        failed_at=from_seconds(row["finished_at"]), error=row["last_error"])


def requeue(connection: sqlite3.Connection, notification_id: str, now: datetime) -> bool:
    """Make a dead letter pending again, due now (its attempts and `created_at` stay, so
    its `retry_for` deadline is where it was: past it, the deliverer makes one attempt).
    False when it is not a dead letter."""
    return connection.execute(
        "UPDATE outbox SET state = 'pending', due_at = ?, finished_at = NULL "
        "WHERE id = ? AND state = 'failed'", (now.timestamp(), notification_id)).rowcount == 1


def _attempt(row: sqlite3.Row) -> Attempt:
    return Attempt(
        notification_id=row["notification_id"], incident_number=row["incident_number"],
        channel=row["channel"], target=row["target"], event=row["event"],
        attempt=row["attempt"],
        attempted_at=from_seconds(row["attempted_at"]),  # type: ignore[arg-type]
        outcome=row["outcome"], status_code=row["status_code"],
        latency_ms=row["latency_ms"], error=row["error"])


def fail_channel(connection: sqlite3.Connection, channel: str, now: datetime,
                 reason: str) -> Sequence[str]:
    """Give up every pending notification of a channel the config no longer has; returns
    their ids (each also gets a line in the delivery log)."""
    rows = connection.execute(
        "SELECT id, incident_number, target, event, attempts FROM outbox "
        "WHERE state = 'pending' AND channel = ?", (channel,)).fetchall()
    for row in rows:
        record(connection, Attempt(
            notification_id=row["id"], incident_number=row["incident_number"], channel=channel,
            target=row["target"], event=row["event"], attempt=row["attempts"] + 1,
            attempted_at=now, outcome="failed", error=reason))
    return [row["id"] for row in rows]


class OutboxReader:
    """The outbox and the delivery log as a Reader sees them (`reader.outbox`)."""

    __slots__ = ("_connection",)

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def due(self, channel: str, now: datetime, limit: int, busy: Collection[str] = (),
            node: str | None = None) -> list[Due]:
        return due(self._connection, channel, now, limit, busy, node)

    def next_due_after(self, now: datetime, node: str | None = None) -> datetime | None:
        return next_due_after(self._connection, now, node)

    def pending_channels(self) -> list[str]:
        return pending_channels(self._connection)

    def states(self, notification_id: str) -> tuple[str | None, str | None]:
        return states(self._connection, notification_id)

    def told_channels(self, incident_number: int, by_key: Collection[str] = ()) -> list[str]:
        return told_channels(self._connection, incident_number, by_key)

    def attempts(self, *, incident_number: int | None = None, failed: bool = False,
                 channel: str | None = None, limit: int = 100) -> list[Attempt]:
        return attempts(self._connection, incident_number=incident_number, failed=failed,
                        channel=channel, limit=limit)

    def counts(self) -> dict[str, int]:
        return outbox_counts(self._connection)

    def dead_letters(self, limit: int) -> list[DeadLetter]:
        return dead_letters(self._connection, limit)

    def dead_letter(self, notification_id: str) -> DeadLetter | None:
        return dead_letter(self._connection, notification_id)


class OutboxWriter(OutboxReader):
    """`OutboxReader` and the writes, as a Transaction sees them (`transaction.outbox`)."""

    __slots__ = ()

    def record(self, attempt: Attempt, retry_at: datetime | None = None) -> bool:
        return record(self._connection, attempt, retry_at)

    def claim(self, channel: str, now: datetime, limit: int, node: str, lease: timedelta,
              *, busy: Collection[str] = (), rate: float | None = None) -> list[Due]:
        return claim(self._connection, channel, now, limit, node, lease, busy=busy, rate=rate)

    def release(self, node: str, keep: Collection[str] = ()) -> int:
        return claims.release(self._connection, node, keep)

    def cancel_pages(self, incident_number: int, now: datetime, reason: str) -> list[str]:
        return cancel_pages(self._connection, incident_number, now, reason)

    def fail_channel(self, channel: str, now: datetime, reason: str) -> Sequence[str]:
        return fail_channel(self._connection, channel, now, reason)

    def requeue(self, notification_id: str, now: datetime) -> bool:
        return requeue(self._connection, notification_id, now)
