"""The received alerts, read for `router export alerts` (room: store; imports alerts.model,
errors).

Reads the store's `alerts` table over its own READ-ONLY connection (SQLite's `mode=ro`), so
it works on a stopped router's store and beside a running daemon: WAL lets a reader see the
last committed state while the daemon writes, and nothing here can change the file. On
PostgreSQL (`received_alerts_at`) the connection's every transaction is read-only
(`default_transaction_read_only`), one statement each, so a batch's snapshot ends with it
there too; the same statements run, the ids of a batch passed as an array.

What the store keeps of an alert is one row per (incident, dedup key, status, alert
identity): a repeat of the same alert with the same words only counts on its row (`count`,
`last_received_at`), so the instants of the arrivals between the first and the last are not
kept; neither are an alert's `startsAt`/`endsAt` (docs/replay.md says what that means for a
replay). Resolved incidents older than `settings.retention` were pruned with their alerts.
"""

from __future__ import annotations

import json
import sqlite3
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from router.errors import StoreError

_ORDER = (
    "SELECT id FROM alerts WHERE ifnull(last_received_at, received_at) >= ? "
    "AND received_at < ? ORDER BY received_at, id")
_SELECT = (
    "SELECT alerts.id, alerts.received_at, alerts.last_received_at, alerts.count, "
    "alerts.source, alerts.status, alerts.dedup_key, alerts.summary, alerts.severity, "
    "alerts.labels, alerts.annotations, alerts.suppressed_by, alerts.incident_number, "
    "incidents.service "
    "FROM alerts LEFT JOIN incidents ON incidents.number = alerts.incident_number "
    "WHERE ")
_BY_IDS = {"sqlite": "alerts.id IN (SELECT value FROM json_each(?))",
           "postgresql": "alerts.id = ANY(?)"}
"""A batch's ids: a JSON array on SQLite, which has no arrays; an array on PostgreSQL."""
_BATCH = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceivedAlert:
    """One row of the `alerts` table: an alert as router received it, with the repeats it
    counted (`count` arrivals, the last at `last_received_at`)."""

    received_at: datetime
    last_received_at: datetime
    count: int
    source: str
    status: str
    dedup_key: str
    summary: str
    severity: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    suppressed_by: str | None
    incident: int | None
    service: str | None
    """The service of the incident the alert joined (None: it joined none)."""


def received_alerts(path: Path, since: datetime, until: datetime, *,
                    batch: int = _BATCH) -> Iterator[ReceivedAlert]:
    """Every alert row seen (first or last) at or after `since` and first received before
    `until`, earliest first, from the store file at `path`, read-only, `batch` rows to a
    short read transaction (docs/replay.md says what a daemon writing meanwhile changes).

    Raises:
        StoreError: no store at `path`, not a database, or one without router's tables;
            SQLite's exception is the cause.
    """
    if not path.is_file():
        raise StoreError(f"no store {path}")
    # No `-wal` beside it: no daemon has the store open. A plain read-only open would create
    # `-wal` and `-shm` then (owned by whoever exports, root say, which stops the daemon
    # opening its own store); `immutable` reads the file alone. A daemon starting meanwhile
    # could at worst make this read fail; it never touches the store.
    stopped = "&immutable=1" if not path.with_name(f"{path.name}-wal").exists() else ""
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro{stopped}", uri=True,
                                     check_same_thread=False, timeout=30)
    except sqlite3.Error as error:
        raise StoreError(f"cannot open {path}: {error}") from error
    try:
        yield from _batches(connection, "sqlite", since, until, batch)
    except sqlite3.Error as error:
        raise StoreError(f"cannot read the alerts of {path}: {error}") from error
    finally:
        connection.close()


def received_alerts_at(url: str, since: datetime, until: datetime, *,
                       batch: int = _BATCH) -> Iterator[ReceivedAlert]:
    """`received_alerts` from the PostgreSQL database at `url`, in the same order, `batch`
    rows to a read-only transaction.

    Raises:
        StoreError: the server cannot be reached or refused, or the database has no
            router tables; the message is psycopg's first line, which may name the URL's
            parts (its caller keeps the password out of what it shows).
    """
    from router.store import postgres_wire  # psycopg only for a PostgreSQL store

    try:
        connection = postgres_wire.connect(url)
    except postgres_wire.DatabaseError as error:
        raise StoreError(f"cannot connect: {postgres_wire.first_line(error)}") from None
    try:
        connection.execute("SET default_transaction_read_only = on")
        yield from _batches(connection, "postgresql", since, until, batch)
    except postgres_wire.DatabaseError as error:
        raise StoreError(f"cannot read the alerts: {postgres_wire.first_line(error)}") from None
    finally:
        connection.raw.close()



class _Connection(Protocol):
    def execute(self, sql: str, parameters: Sequence[Any], /) -> Iterable[Sequence[Any]]: ...


def _batches(connection: _Connection, dialect: str, since: datetime, until: datetime,
             batch: int) -> Iterator[ReceivedAlert]:
    """The rows, `batch` at a time, each batch read by a statement run to its end, so its
    read transaction ends before the caller sees a row: a slow consumer (a pipe) holds no
    snapshot, and the daemon can checkpoint its WAL between batches.

    The ids come first, in the export's order (received_at, id), from one statement (8 bytes
    a row): no row is skipped or repeated, and a row received after the export began is not
    among them. Keyset pagination on (received_at, id) would rescan the table for each batch
    (no index on received_at): 3.5 times slower at 100,000 rows, and worse the more rows."""
    order = array("q", (number for (number,) in connection.execute(
        _ORDER, (since.timestamp(), until.timestamp()))))
    select = _SELECT + _BY_IDS[dialect]
    for start in range(0, len(order), batch):
        ids = order[start:start + batch]
        listed = ids.tolist()
        rows = {row[0]: tuple(row[1:]) for row in list(connection.execute(
            select, (json.dumps(listed) if dialect == "sqlite" else listed,)))}
        # An id without its row: retention pruned it meanwhile.
        yield from (_received(rows[number]) for number in ids if number in rows)


def _received(row: tuple[object, ...]) -> ReceivedAlert:
    (received, last, count, source, status, dedup_key, summary, severity, labels,
     annotations, suppressed_by, incident, service) = row
    first = _moment(received)
    return ReceivedAlert(
        received_at=first, last_received_at=_moment(last) if last is not None else first,
        count=int(count), source=str(source), status=str(status),  # type: ignore[call-overload]
        dedup_key=str(dedup_key), summary=str(summary), severity=str(severity),
        labels=json.loads(str(labels)), annotations=json.loads(str(annotations)),
        suppressed_by=None if suppressed_by is None else str(suppressed_by),
        incident=None if incident is None else int(incident),  # type: ignore[call-overload]
        service=None if service is None else str(service))


def _moment(seconds: object) -> datetime:
    return datetime.fromtimestamp(float(seconds), UTC)  # type: ignore[arg-type]
