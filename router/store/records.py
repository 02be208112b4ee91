"""Rows <-> records for the SQLite store (room: store; imports alerts.model, errors).

`Transaction` holds the writes a use case makes inside one store transaction; `Reader` the
queries the read API makes. Both are synchronous: they run in a worker thread, never on the
trio thread. Times are stored as Unix seconds (REAL) so deadlines compare and index cheaply.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from router.alerts.model import (
    Alert,
    Incident,
    Notification,
    Silence,
    SilenceMatcher,
    TimelineEntry,
)
from router.store.outbox import OutboxReader, OutboxWriter
from router.store.overrides import OverridesReader, OverridesWriter
from router.store.retention import RetentionReader, RetentionWriter
from router.store.rows import _INCIDENT_COLUMNS, _incident, from_seconds, to_seconds
from router.store.values import IncidentDetail

__all__ = ["IncidentDetail", "Reader", "Transaction", "from_seconds", "to_seconds"]


# An upsert on the number only: OR REPLACE would also delete a row that clashes on the
# one-open-incident-per-dedup-key index, and that clash must be an error instead.
_UPDATE_ALL = ", ".join(f"{column.strip()} = excluded.{column.strip()}"
                        for column in _INCIDENT_COLUMNS.split(",")[1:])
_SAVE_INCIDENT = (f"INSERT INTO incidents ({_INCIDENT_COLUMNS}) VALUES ({', '.join('?' * 20)}) "
                  f"ON CONFLICT (number) DO UPDATE SET {_UPDATE_ALL}")
_SELECT_OPEN = (f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE dedup_key = ? "
                "AND state != 'resolved'")
_SELECT_NUMBER = f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE number = ?"
_SILENCES_SINCE = 3600.0  # seconds before a transaction's first `now` that its cache covers
# A repeat (same incident, dedup key, status, source and labels) counts on the row it
# repeats; the newest arrival's words win. The conflict target is the unique index
# `alerts_repeat`.
_INSERT_ALERT = (
    "INSERT INTO alerts (incident_number, received_at, source, status, dedup_key, summary, "
    "severity, labels, annotations, suppressed_by, identity, last_received_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (ifnull(incident_number, 0), dedup_key, status, identity) "
    "WHERE identity IS NOT NULL DO UPDATE SET count = count + 1, "
    "last_received_at = excluded.last_received_at, "
    "summary = excluded.summary, severity = excluded.severity, "
    "annotations = excluded.annotations, suppressed_by = excluded.suppressed_by")
_INSERT_TIMELINE = ("INSERT INTO timeline (incident_number, at, actor, action, details) "
                    "VALUES (?, ?, ?, ?, ?)")
_INSERT_OUTBOX = ("INSERT INTO outbox (id, incident_number, channel, target, address, event, "
                  "created_at, due_at, note, trace_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


# One encoder, built once: json.dumps with these options would build a new one per call.
_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, sort_keys=True).encode


def _json(mapping: Mapping[str, Any]) -> str:
    return _ENCODE(dict(mapping))


def _identity(source: str, labels: str) -> str:
    """What tells one alert of an incident from another: a hash of its source and its
    labels' JSON text (the same alert through two formats stays two rows, each counted)."""
    return hashlib.blake2b(f"{source}\n{labels}".encode(), digest_size=12).hexdigest()


def _silence(row: sqlite3.Row) -> Silence:
    return Silence(
        id=row["id"],
        matchers=tuple(SilenceMatcher(name=name, operator=operator, value=value)
                       for name, operator, value in json.loads(row["matchers"])),
        starts_at=from_seconds(row["starts_at"]),  # type: ignore[arg-type]
        ends_at=from_seconds(row["ends_at"]),  # type: ignore[arg-type]
        reason=row["reason"], created_by=row["created_by"])


class Reader:
    """Queries; every method is one SELECT or a few, no writes."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection
        """Inside the store only (and tests' set-up, which may write rows no view writes):
        the rest of router goes through the methods and the views below."""

    @property
    def outbox(self) -> OutboxReader:
        """The deliverer's queries and the delivery log (store/outbox.py)."""
        return OutboxReader(self.connection)

    @property
    def overrides(self) -> OverridesReader:
        """Run-time rota overrides (store/overrides.py)."""
        return OverridesReader(self.connection)

    @property
    def retention(self) -> RetentionReader:
        """The store's size and what a prune would remove (store/retention.py)."""
        return RetentionReader(self.connection)

    def incident(self, number: int) -> Incident | None:
        row = self.connection.execute(_SELECT_NUMBER, (number,)).fetchone()
        return _incident(row)[0] if row else None

    def open_incident(self, dedup_key: str) -> tuple[Incident, frozenset[str]] | None:
        row = self.connection.execute(_SELECT_OPEN, (dedup_key,)).fetchone()
        return self._loaded(row) if row else None

    def _loaded(self, row: sqlite3.Row) -> tuple[Incident, frozenset[str]]:
        return _incident(row)

    def incidents(self, *, states: Sequence[str] = (), service: str | None = None,
                  since: datetime | None = None, limit: int = 100) -> list[Incident]:
        clauses: list[str] = ["1 = 1"]
        values: list[str | float] = []
        if states:
            clauses.append(f"state IN ({', '.join('?' * len(states))})")
            values.extend(states)
        if service is not None:
            clauses.append("service = ?")
            values.append(service)
        if since is not None:
            clauses.append("opened_at >= ?")
            values.append(since.timestamp())
        rows = self.connection.execute(
            f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE {' AND '.join(clauses)} "
            "ORDER BY number DESC LIMIT ?", (*values, limit)).fetchall()
        return [_incident(row)[0] for row in rows]

    def detail(self, number: int) -> IncidentDetail | None:
        incident = self.incident(number)
        if incident is None:
            return None
        alerts = tuple(
            {"received_at": from_seconds(row["received_at"]),
             "last_received_at": from_seconds(row["last_received_at"] or row["received_at"]),
             "count": row["count"], "source": row["source"],
             "status": row["status"], "summary": row["summary"], "severity": row["severity"],
             "labels": json.loads(row["labels"]), "annotations": json.loads(row["annotations"]),
             "suppressed_by": row["suppressed_by"]}
            for row in self.connection.execute(
                "SELECT * FROM alerts WHERE incident_number = ? ORDER BY id", (number,)))
        timeline = tuple(
            TimelineEntry(at=from_seconds(row["at"]), actor=row["actor"],  # type: ignore[arg-type]
                          action=row["action"], details=json.loads(row["details"]))
            for row in self.connection.execute(
                "SELECT * FROM timeline WHERE incident_number = ? ORDER BY id", (number,)))
        return IncidentDetail(incident, alerts, timeline)

    def pending_notifications(self, limit: int = 1000) -> list[Notification]:
        rows = self.connection.execute(
            "SELECT * FROM outbox WHERE state = 'pending' ORDER BY due_at LIMIT ?", (limit,))
        return [Notification(id=row["id"], incident_number=row["incident_number"],
                             channel=row["channel"], target=row["target"],
                             address=row["address"], event=row["event"],
                             created_at=from_seconds(row["created_at"]),  # type: ignore[arg-type]
                             note=row["note"])
                for row in rows]

    def earliest_timer(self) -> tuple[int, str, datetime] | None:
        row = self.connection.execute(
            "SELECT incident_number, kind, due_at FROM timers ORDER BY due_at LIMIT 1"
        ).fetchone()
        return (row[0], row[1], from_seconds(row[2])) if row else None  # type: ignore[return-value]

    def earliest_timer_after(self, instant: datetime) -> datetime | None:
        row = self.connection.execute(
            "SELECT min(due_at) FROM timers WHERE due_at > ?", (instant.timestamp(),)
        ).fetchone()
        return from_seconds(row[0]) if row and row[0] is not None else None

    def due_timers(self, now: datetime, limit: int) -> list[tuple[int, str, datetime]]:
        rows = self.connection.execute(
            "SELECT incident_number, kind, due_at FROM timers WHERE due_at <= ? "
            "ORDER BY due_at LIMIT ?", (now.timestamp(), limit)).fetchall()
        return [(row[0], row[1], from_seconds(row[2])) for row in rows]  # type: ignore[misc]

    def incident_with_firing(self, number: int) -> tuple[Incident, frozenset[str]] | None:
        row = self.connection.execute(_SELECT_NUMBER, (number,)).fetchone()
        return self._loaded(row) if row else None

    def notified_channels(self, number: int) -> list[str]:
        """Channels that were sent this incident's trigger (not people's contact methods)."""
        return [row[0] for row in self.connection.execute(
            "SELECT DISTINCT channel FROM outbox WHERE incident_number = ? AND event = "
            "'trigger' AND target LIKE 'channel:%' ORDER BY channel", (number,))]

    def silences(self, active_at: datetime | None = None) -> list[Silence]:
        """Silences in force at `active_at`, or every silence when it is None."""
        query, values = "SELECT * FROM silences", ()
        if active_at is not None:
            query += " WHERE starts_at <= ? AND ends_at > ?"
            values = (active_at.timestamp(),) * 2  # type: ignore[assignment]
        return [_silence(row) for row in self.connection.execute(query + " ORDER BY id",
                                                                 values)]

    def active_silences(self, now: datetime) -> list[Silence]:
        return self.silences(now)

    def pages(self, start: datetime, end: datetime) -> dict[str, list[datetime]]:
        """When each person was paged (a trigger or escalation reaching them) in [start, end).

        One page per incident and moment, however many contact methods carried it.
        """
        pages: dict[str, list[datetime]] = {}
        for target, created_at, _ in self.connection.execute(
                "SELECT DISTINCT target, created_at, incident_number FROM outbox "
                "WHERE target LIKE 'person:%' AND event IN ('trigger', 'escalate') "
                "AND created_at >= ? AND created_at < ? ORDER BY created_at",
                (start.timestamp(), end.timestamp())).fetchall():
            pages.setdefault(target.removeprefix("person:"), []).append(
                from_seconds(created_at))  # type: ignore[arg-type]
        return pages

    def counts(self) -> dict[str, int]:
        return {row[0]: row[1] for row in self.connection.execute(
            "SELECT state, count(*) FROM incidents GROUP BY state")}

    def timer_count(self) -> int:
        """Timers waiting in the store (escalations, acknowledgement timeouts)."""
        return int(self.connection.execute("SELECT count(*) FROM timers").fetchone()[0])


class _Flushing:
    """The connection as a Transaction's queries see it: the rows the transaction holds back
    are written before any statement runs, so every query sees every write made before it."""

    __slots__ = ("_connection", "_flush")

    def __init__(self, connection: sqlite3.Connection, flush: Callable[[], None]) -> None:
        self._connection = connection
        self._flush = flush

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> sqlite3.Cursor:
        self._flush()
        return self._connection.execute(sql, parameters)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> sqlite3.Cursor:
        self._flush()
        return self._connection.executemany(sql, rows)


class Transaction(Reader):
    """The writes of one use case; runs inside the store's group-committed transaction.

    One Transaction serves every unit of a group commit. What ingest does for every alert
    is made cheap here, with the same end state as one statement per call:
    - rows that are only ever appended (alerts, timeline, outbox) and the incident counter
      are held back and written by `flush` in one statement per table: at the end of the
      unit (the store calls it before releasing the unit's savepoint) or before any other
      statement (`self.connection` flushes first), so no query misses them;
    - the silences not yet over are read once (again after a unit writes a silence);
    - the JSON text of a label mapping is made once per mapping (an incident's labels are
      the labels of the alert that opened it, or the text read with the incident), and that
      of timeline details once per distinct details ("notified" lines repeat).
    `forget` drops all of it when the store rolls a unit back.
    """

    def __init__(self, connection: sqlite3.Connection) -> None:
        super().__init__(cast(sqlite3.Connection, _Flushing(connection, self.flush)))
        self._raw = connection
        self._alerts: list[tuple[Any, ...]] = []
        self._timeline: list[tuple[Any, ...]] = []
        self._outbox: list[tuple[Any, ...]] = []
        self._number: int | None = None  # the incident counter as this transaction moved it
        self._number_written = True
        self._silences: list[tuple[float, float, Silence]] | None = None
        self._silences_since = 0.0
        self._texts: dict[int, tuple[Mapping[str, Any], str]] = {}
        self._details: dict[tuple[tuple[str, Any], ...], str] = {}
        self.trace_id = ""
        """The request a unit of work serves, stamped on the notifications it writes so the
        deliverer's log lines carry it (units set it as they begin)."""
        self.earliest_timer_set: float | None = None
        """The earliest deadline (seconds) any unit set, kept when a unit rolls back: the
        scheduler needs waking only for a deadline before the one it sleeps until."""

    @property
    def outbox(self) -> OutboxWriter:
        return OutboxWriter(self.connection)

    @property
    def overrides(self) -> OverridesWriter:
        return OverridesWriter(self.connection)

    @property
    def retention(self) -> RetentionWriter:
        return RetentionWriter(self.connection)

    def flush(self) -> None:
        """Write the rows held back."""
        if self._alerts:
            self._raw.executemany(_INSERT_ALERT, self._alerts)
            self._alerts.clear()
        if self._timeline:
            self._raw.executemany(_INSERT_TIMELINE, self._timeline)
            self._timeline.clear()
        if self._outbox:
            self._raw.executemany(_INSERT_OUTBOX, self._outbox)
            self._outbox.clear()
        if not self._number_written:
            self._raw.execute("UPDATE counters SET value = ? WHERE name = 'incident'",
                              (self._number,))
            self._number_written = True

    def forget(self) -> None:
        """Drop what is held back and what was read (the unit was rolled back)."""
        self._alerts.clear()
        self._timeline.clear()
        self._outbox.clear()
        self._number, self._number_written = None, True
        self._silences = None
        self.trace_id = ""

    def open_incident(self, dedup_key: str) -> tuple[Incident, frozenset[str]] | None:
        # Incidents are written at once, so this needs no flush.
        row = self._raw.execute(_SELECT_OPEN, (dedup_key,)).fetchone()
        return self._loaded(row) if row else None

    def active_silences(self, now: datetime) -> list[Silence]:
        """As `Reader.active_silences`, from one query per group commit."""
        seconds = now.timestamp()
        if self._silences is None or seconds < self._silences_since:
            since = seconds - _SILENCES_SINCE
            self._silences = [
                (row["starts_at"], row["ends_at"], _silence(row))
                for row in self._raw.execute(
                    "SELECT * FROM silences WHERE ends_at > ? ORDER BY id", (since,))]
            self._silences_since = since
        return [silence for starts_at, ends_at, silence in self._silences
                if starts_at <= seconds < ends_at]

    def _loaded(self, row: sqlite3.Row) -> tuple[Incident, frozenset[str]]:
        incident, firing = _incident(row)
        self._remember(incident.labels, row["labels"])
        return incident, firing

    def _remember(self, mapping: Mapping[str, Any], text: str) -> None:
        if len(self._texts) >= 256:
            self._texts.clear()
        self._texts[id(mapping)] = (mapping, text)

    def _labels(self, mapping: Mapping[str, Any]) -> str:
        """`_json(mapping)`, encoded once for the mapping object."""
        known = self._texts.get(id(mapping))
        if known is not None and known[0] is mapping:
            return known[1]
        text = _json(mapping)
        self._remember(mapping, text)
        return text

    def _details_json(self, details: Mapping[str, Any]) -> str:
        key = tuple(details.items())
        if not all(isinstance(value, str) for _, value in key):  # 1 == True, yet not in JSON
            return _json(details)
        text = self._details.get(key)
        if text is None:
            if len(self._details) >= 1024:
                self._details.clear()
            text = self._details[key] = _json(details)
        return text

    def next_incident_number(self) -> int:
        if self._number is None:
            self._number = int(self._raw.execute(
                "SELECT value FROM counters WHERE name = 'incident'").fetchone()[0])
        self._number += 1
        self._number_written = False
        return self._number

    def save_incident(self, incident: Incident, firing: Iterable[str]) -> None:
        self._raw.execute(
            _SAVE_INCIDENT,
            (incident.number, incident.dedup_key, incident.service, incident.summary,
             incident.severity.value, incident.state.value, incident.source,
             incident.escalation_policy, incident.level, incident.assigned_to,
             incident.alert_count, incident.suppressed_by, to_seconds(incident.opened_at),
             to_seconds(incident.updated_at), to_seconds(incident.acknowledged_at),
             incident.acknowledged_by, to_seconds(incident.resolved_at),
             self._labels(incident.labels), json.dumps(sorted(firing)), incident.repeats))

    def record_alert(self, alert: Alert, incident_number: int | None, dedup_key: str,
                     received_at: datetime, suppressed_by: str | None) -> None:
        labels, seconds = self._labels(alert.labels), received_at.timestamp()
        self._alerts.append(
            (incident_number, seconds, alert.source, alert.status.value, dedup_key,
             alert.summary, alert.severity.value, labels, _json(alert.annotations),
             suppressed_by, _identity(alert.source, labels), seconds))

    def add_timeline(self, number: int, entries: Iterable[TimelineEntry]) -> None:
        self._timeline.extend(
            (number, entry.at.timestamp(), entry.actor, entry.action,
             self._details_json(entry.details))
            for entry in entries)

    def add_notifications(self, notifications: Iterable[Notification]) -> None:
        self._outbox.extend(
            (item.id, item.incident_number, item.channel, item.target, item.address,
             item.event, item.created_at.timestamp(), item.created_at.timestamp(), item.note,
             self.trace_id)
            for item in notifications)

    def set_timer(self, number: int, kind: str, due_at: datetime) -> None:
        seconds = due_at.timestamp()
        if self.earliest_timer_set is None or seconds < self.earliest_timer_set:
            self.earliest_timer_set = seconds
        self._raw.execute(
            "INSERT INTO timers (incident_number, kind, due_at) VALUES (?, ?, ?) "
            "ON CONFLICT (incident_number, kind) DO UPDATE SET due_at = excluded.due_at",
            (number, kind, seconds))

    def add_silence(self, silence: Silence) -> None:
        self._silences = None
        self.connection.execute(
            "INSERT INTO silences (id, matchers, starts_at, ends_at, reason, created_by, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (silence.id, json.dumps([[m.name, m.operator, m.value] for m in silence.matchers]),
             silence.starts_at.timestamp(), silence.ends_at.timestamp(), silence.reason,
             silence.created_by, silence.starts_at.timestamp()))

    def expire_silence(self, silence_id: str, now: datetime) -> bool:
        """End a silence now; False if there is no such silence in force."""
        self._silences = None
        cursor = self.connection.execute(
            "UPDATE silences SET ends_at = ? WHERE id = ? AND ends_at > ?",
            (now.timestamp(), silence_id, now.timestamp()))
        return cursor.rowcount == 1

    def timers_of(self, number: int) -> dict[str, datetime]:
        """The timers of one incident (0: those that belong to no incident), by kind."""
        return {row[0]: from_seconds(row[1]) for row in self.connection.execute(  # type: ignore[misc]
            "SELECT kind, due_at FROM timers WHERE incident_number = ?", (number,))}

    def delete_timer(self, number: int, kind: str) -> None:
        self.connection.execute("DELETE FROM timers WHERE incident_number = ? AND kind = ?",
                                (number, kind))

    def take_timer(self, number: int, kind: str, due_at: datetime) -> bool:
        """Remove the timer if it is still the one that fell due at `due_at`."""
        cursor = self.connection.execute(
            # within a millisecond: the instant went through a datetime and back
            "DELETE FROM timers WHERE incident_number = ? AND kind = ? AND abs(due_at - ?) < 1e-3",
            (number, kind, due_at.timestamp()))
        return cursor.rowcount == 1

    def cancel_timers(self, number: int, *, keep: str = "") -> None:
        """Remove the incident's timers, but those whose kind starts with `keep` (if any)."""
        if not keep:
            self.connection.execute("DELETE FROM timers WHERE incident_number = ?", (number,))
            return
        self.connection.execute(
            "DELETE FROM timers WHERE incident_number = ? AND substr(kind, 1, ?) != ?",
            (number, len(keep), keep))
