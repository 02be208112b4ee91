"""The writes of one unit of work for the SQLite store (room: store; imports alerts.model,
errors): `Transaction`, the `Reader` of store/records.py with the writes a use case makes
inside one store transaction, made cheap for ingest (see the class). Synchronous: it runs
in the store's worker thread, never on the trio thread.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, cast

import msgspec

from router.alerts.model import Alert, Incident, Notification, Silence, TimelineEntry
from router.store.analysis import AnalysisWriter
from router.store.checks import ChecksWriter
from router.store.dialect import Dialect, dialect
from router.store.heartbeats import HeartbeatsWriter
from router.store.jobs import JobsWriter
from router.store.memory import Memory, Open, Row, Silences, in_force
from router.store.nodes import NodesWriter
from router.store.outbox import OutboxWriter
from router.store.overrides import OverridesWriter
from router.store.records import Reader, _silence
from router.store.retention import RetentionWriter
from router.store.rows import _INCIDENT_COLUMNS, _incident, from_seconds, to_seconds
from router.store.secrets import SecretsWriter

# An upsert on the number only: OR REPLACE would also delete a row that clashes on the
# one-open-incident-per-dedup-key index, and that clash must be an error instead.
_UPDATE_ALL = ", ".join(f"{column.strip()} = excluded.{column.strip()}"
                        for column in _INCIDENT_COLUMNS.split(",")[1:])
_SAVE_INCIDENT = (f"INSERT INTO incidents ({_INCIDENT_COLUMNS}) VALUES ({', '.join('?' * 20)}) "
                  f"ON CONFLICT (number) DO UPDATE SET {_UPDATE_ALL}")
_COLUMNS = tuple(column.strip() for column in _INCIDENT_COLUMNS.split(","))
_SILENCES_SINCE = 3600.0  # seconds before a transaction's first `now` that its cache covers
# A repeat (same incident, dedup key, status, source and labels) counts on the row it
# repeats; the newest arrival's words win. The conflict target is the unique index
# `alerts_repeat`.
_INSERT_ALERT = (
    "INSERT INTO alerts (incident_number, received_at, source, status, dedup_key, summary, "
    "severity, labels, annotations, suppressed_by, identity, last_received_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (ifnull(incident_number, 0), dedup_key, status, identity) "
    "WHERE identity IS NOT NULL DO UPDATE SET count = alerts.count + 1, "
    "last_received_at = excluded.last_received_at, "
    "summary = excluded.summary, severity = excluded.severity, "
    "annotations = excluded.annotations, suppressed_by = excluded.suppressed_by")
_REPEAT_ALERT = ("UPDATE alerts SET count = count + 1, last_received_at = ? "
                 "WHERE ifnull(incident_number, 0) = ? AND dedup_key = ? AND status = ? "
                 "AND identity = ?")
_INSERT_TIMELINE = ("INSERT INTO timeline (incident_number, at, actor, action, details, more) "
                    "VALUES (?, ?, ?, ?, ?, ?)")
_SET_TIMER = ("INSERT INTO timers (incident_number, kind, due_at) VALUES (?, ?, ?) "
              "ON CONFLICT (incident_number, kind) DO UPDATE SET due_at = excluded.due_at")
_INSERT_OUTBOX = ("INSERT INTO outbox (id, incident_number, channel, target, address, event, "
                  "created_at, due_at, note, trace_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


# One encoder, built once: json.dumps with these options would build a new one per call.
_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, sort_keys=True).encode
# The same text as _ENCODE's (so alert identities stay as older routers wrote them), about
# five times faster: ingest encodes an alert's labels and annotations for every new alert.
_FAST_ENCODE = msgspec.json.Encoder(order="sorted").encode


def _json(mapping: Mapping[str, Any]) -> str:
    plain = mapping if type(mapping) is dict else dict(mapping)
    try:
        return _FAST_ENCODE(plain).decode()
    except (TypeError, ValueError):  # what msgspec will not take (a lone surrogate): as before
        return _ENCODE(plain)


def _json_list(items: list[Any]) -> str:
    """`_json` for a list (the timeline's `more`)."""
    try:
        return _FAST_ENCODE(items).decode()
    except (TypeError, ValueError):
        return _ENCODE(items)


def _identity(source: str, labels: str) -> str:
    """What tells one alert of an incident from another: a hash of its source and its
    labels' JSON text (the same alert through two formats stays two rows, each counted)."""
    return hashlib.blake2b(f"{source}\n{labels}".encode(), digest_size=12).hexdigest()


@lru_cache(maxsize=256)
def _update_incident(columns: tuple[int, ...]) -> str:
    """UPDATE of the incident columns at these positions only: SQLite then touches only the
    indexes on those columns (a repeat changes the count and the time, which none has)."""
    assignments = ", ".join(f"{_COLUMNS[index]} = ?" for index in columns)
    return f"UPDATE incidents SET {assignments} WHERE number = ?"


class _Flushing:
    """The connection as a Transaction's queries see it: the rows the transaction holds back
    are written before any statement runs, so every query sees every write made before it;
    a statement that writes the incidents table by hand makes the store's memory of them
    (store/memory.py) load again."""

    __slots__ = ("_connection", "_flush", "_memory")

    def __init__(self, connection: sqlite3.Connection, flush: Callable[[], None],
                 memory: Memory) -> None:
        self._connection = connection
        self._flush = flush
        self._memory = memory

    @property
    def dialect(self) -> Dialect:
        return dialect(self._connection)

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> sqlite3.Cursor:
        self._flush()
        self._check(sql)
        return self._connection.execute(sql, parameters)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> sqlite3.Cursor:
        self._flush()
        self._check(sql)
        return self._connection.executemany(sql, rows)

    def defer(self, sql: str, rows: list[Sequence[Any]]) -> None:
        """PostgreSQL's connection only (store/dialect.py `send`): `sql` for each row, sent
        with the next statement, after the rows held back."""
        self._flush()
        self._check(sql)
        self._connection.defer(sql, rows)  # type: ignore[attr-defined]

    def _check(self, sql: str) -> None:
        if sql.lstrip().upper().startswith("SELECT"):
            return
        if _HOLDS_INCIDENTS.search(sql):
            self._memory.drop()
        elif _HOLDS_SILENCES.search(sql):
            self._memory.silences = None


_HOLDS_INCIDENTS = re.compile(r"\b(?:incidents|alerts)\b")
"""A statement by hand on the tables the store's memory mirrors (whole names: `job_alerts`
is not `alerts`)."""
_HOLDS_SILENCES = re.compile(r"\bsilences\b")


class Transaction(Reader):
    """The writes of one use case; runs inside the store's group-committed transaction.

    One Transaction serves every unit of a group commit. What ingest does for every alert
    is made cheap here, with the same end state as one statement per call:
    - rows that are only ever appended (alerts, timeline, outbox), repeats' counts and
      timers are held back and written by `flush` in one statement per table: at the end of
      the unit (the store calls it before releasing the unit's savepoint) or before any
      other statement (`self.connection` flushes first), so no query misses them;
    - the silences not yet over are read once and kept in the store's memory (read again
      after a silence is written);
    - open incidents and the incident counter come from the store's memory (store/memory.py),
      and an incident is written back as an UPDATE of the columns that changed (none: no
      write); the counter is written once, as the transaction ends (`finish`);
    - a repeat of an alert row the memory knows (same incident, key, status, source,
      labels and words) is one UPDATE of its count, with nothing encoded or hashed;
    - the JSON text of a label mapping is made once per mapping (an incident's labels are
      the labels of the alert that opened it, or the text read with the incident), and all
      JSON with msgspec (`_json`).
    `forget` drops all of it when the store rolls a unit back, `lost` when it rolls back the
    whole transaction.
    """

    def __init__(self, connection: sqlite3.Connection, memory: Memory | None = None) -> None:
        self._memory = Memory() if memory is None else memory
        super().__init__(cast(sqlite3.Connection,
                              _Flushing(connection, self.flush, self._memory)))
        self._raw = connection
        self._alerts: list[tuple[Any, ...]] = []
        self._repeats: list[tuple[Any, ...]] = []
        self._timers: list[tuple[Any, ...]] = []
        self._timeline: list[tuple[Any, ...]] = []
        self._outbox: list[tuple[Any, ...]] = []
        self._checked = False  # whether the memory was checked against other connections
        self._number_read: int | None = None  # the counter as the transaction found it
        self._number_kept: int | None = None  # ... as the last unit that succeeded left it
        self._texts: dict[int, tuple[Mapping[str, Any], str]] = {}
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

    @property
    def checks(self) -> ChecksWriter:
        return ChecksWriter(self.connection)

    @property
    def heartbeats(self) -> HeartbeatsWriter:
        return HeartbeatsWriter(self.connection)

    @property
    def jobs(self) -> JobsWriter:
        return JobsWriter(self.connection)

    @property
    def analysis(self) -> AnalysisWriter:
        return AnalysisWriter(self.connection)

    @property
    def nodes(self) -> NodesWriter:
        return NodesWriter(self.connection)

    @property
    def secrets(self) -> SecretsWriter:
        return SecretsWriter(self.connection)

    def flush(self) -> None:
        """Write the rows held back."""
        if self._alerts:
            self._raw.executemany(_INSERT_ALERT, self._alerts)
            self._alerts.clear()
        if self._repeats:
            self._raw.executemany(_REPEAT_ALERT, self._repeats)
            self._repeats.clear()
        if self._timers:
            self._raw.executemany(_SET_TIMER, self._timers)
            self._timers.clear()
        if self._timeline:
            self._raw.executemany(_INSERT_TIMELINE, self._timeline)
            self._timeline.clear()
        if self._outbox:
            self._raw.executemany(_INSERT_OUTBOX, self._outbox)
            self._outbox.clear()
        self._number_kept = self._memory.number

    def forget(self) -> None:
        """Drop what is held back and what was read (the unit was rolled back)."""
        self._alerts.clear()
        self._repeats.clear()
        self._timers.clear()
        self._timeline.clear()
        self._outbox.clear()
        self._memory.drop()
        self._memory.number = self._number_kept
        self.trace_id = ""

    def finish(self) -> None:
        """The last writes before the commit: the incident counter, if units moved it."""
        if self._memory.number != self._number_read:
            self._raw.execute("UPDATE counters SET value = ? WHERE name = 'incident'",
                              (self._memory.number,))

    def lost(self) -> None:
        """The whole transaction was rolled back: what the memory holds may not be so."""
        self._memory.drop()
        self._memory.number = None

    def _remembered(self) -> Memory:
        """The store's memory, checked against other connections once per transaction (the
        store holds the write lock by then: nobody else commits until it ends)."""
        if not self._checked:
            self._memory.check(self._raw)
            self._checked = True
            if self._memory.number is None:
                self._memory.number = int(self._raw.execute(
                    "SELECT value FROM counters WHERE name = 'incident'").fetchone()[0])
            self._number_read = self._number_kept = self._memory.number
        return self._memory

    def open_incident(self, dedup_key: str) -> tuple[Incident, frozenset[str]] | None:
        # Incidents are written at once, so this needs no flush.
        return self._remembered().get(self._raw, dedup_key)

    def active_silences(self, now: datetime) -> list[Silence]:
        """As `Reader.active_silences`, from the silences the store's memory holds (one
        query after each change of silences)."""
        seconds, memory = now.timestamp(), self._remembered()
        if memory.silences is None or seconds < memory.silences_since:
            since = seconds - _SILENCES_SINCE
            memory.silences = [
                (row["starts_at"], row["ends_at"], _silence(row))
                for row in self._raw.execute(
                    "SELECT * FROM silences WHERE ends_at > ? ORDER BY id", (since,))]
            memory.silences_since = since
        return in_force(memory.silences, seconds)

    def unchanged(self, seen: object) -> bool:
        """Whether the open incident and the silences a `Peek` saw are still what the store
        holds (the memory checked against other connections first)."""
        memory = self._remembered()
        dedup_key, entry, silences = cast(tuple[str, Open | None, Silences], seen)
        if memory.silences is not silences:
            return False
        if entry is None:  # what `peek_absent` saw: still no open incident for the key
            return dedup_key not in memory.open_incidents(self._raw)
        return memory.peek(dedup_key) is entry

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

    def next_incident_number(self) -> int:
        memory = self._remembered()
        assert memory.number is not None  # read by _remembered
        memory.number += 1
        return memory.number

    def save_incident(self, incident: Incident, firing: Iterable[str]) -> None:
        memory, firing = self._remembered(), frozenset(firing)
        known = memory.written(self._raw, incident.number)
        row = self._incident_row(incident, firing, known)
        if known is None:
            self._raw.execute(_SAVE_INCIDENT, row)
        else:
            changed = tuple(index for index in range(1, len(row)) if row[index] != known.row[index])
            if changed:
                self._raw.execute(_update_incident(changed),
                                  (*(row[index] for index in changed), incident.number))
        memory.save(incident, firing, row)

    def _incident_row(self, incident: Incident, firing: frozenset[str],
                      known: Open | None) -> Row:
        """The incident's column values; the JSON texts of the row last written are kept
        when its labels and firing set are the same."""
        decoded = known.decoded if known is not None else None
        if decoded is not None and decoded[0].labels is incident.labels:
            labels = known.row[17]  # type: ignore[union-attr]
        else:
            labels = self._labels(incident.labels)
        if decoded is not None and decoded[1] == firing:
            firing_text = known.row[18]  # type: ignore[union-attr]
        else:
            firing_text = _FAST_ENCODE(sorted(firing)).decode()
        return (incident.number, incident.dedup_key, incident.service, incident.summary,
                incident.severity.value, incident.state.value, incident.source,
                incident.escalation_policy, incident.level, incident.assigned_to,
                incident.alert_count, incident.suppressed_by, to_seconds(incident.opened_at),
                to_seconds(incident.updated_at), to_seconds(incident.acknowledged_at),
                incident.acknowledged_by, to_seconds(incident.resolved_at), labels,
                firing_text, incident.repeats)

    def record_alert(self, alert: Alert, incident_number: int | None, dedup_key: str,
                     received_at: datetime, suppressed_by: str | None) -> None:
        seconds, status = received_at.timestamp(), alert.status.value
        memory = self._remembered()
        key = (incident_number, dedup_key, status, alert.source, tuple(alert.labels.items()))
        words = (alert.summary, alert.severity.value, tuple(alert.annotations.items()),
                 suppressed_by)
        known = memory.alerts.get(key)
        if known is not None and known[1] == words:  # a repeat: it only counts
            self._repeats.append((seconds, incident_number or 0, dedup_key, status, known[0]))
            return
        labels = self._labels(alert.labels)
        identity = _identity(alert.source, labels)
        self._alerts.append(
            (incident_number, seconds, alert.source, status, dedup_key, alert.summary,
             alert.severity.value, labels, _json(alert.annotations), suppressed_by, identity,
             seconds))
        memory.remember_alert(key, identity, words)

    def add_timeline(self, number: int, entries: Iterable[TimelineEntry]) -> None:
        """One row for the entries of one call (migration 8): the first in its columns, the
        others in `more`, which the Reader expands."""
        listed = list(entries)
        if not listed:
            return
        first, others = listed[0], listed[1:]
        more = _json_list([[entry.at.timestamp(), entry.actor, entry.action,
                            entry.details if type(entry.details) is dict
                            else dict(entry.details)] for entry in others]) if others else None
        self._timeline.append((number, first.at.timestamp(), first.actor, first.action,
                               _json(first.details), more))

    def add_notifications(self, notifications: Iterable[Notification]) -> None:
        rows, trace_id = self._outbox, self.trace_id
        for item in notifications:
            created_at = item.created_at.timestamp()
            rows.append((item.id, item.incident_number, item.channel, item.target, item.address,
                         item.event, created_at, created_at, item.note, trace_id))

    def set_timer(self, number: int, kind: str, due_at: datetime) -> None:
        seconds = due_at.timestamp()
        if self.earliest_timer_set is None or seconds < self.earliest_timer_set:
            self.earliest_timer_set = seconds
        self._timers.append((number, kind, seconds))

    def add_silence(self, silence: Silence) -> None:
        self.connection.execute(
            "INSERT INTO silences (id, matchers, starts_at, ends_at, reason, created_by, "
            "created_at, covers) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (silence.id, json.dumps([[m.name, m.operator, m.value] for m in silence.matchers]),
             silence.starts_at.timestamp(), silence.ends_at.timestamp(), silence.reason,
             silence.created_by, silence.starts_at.timestamp(), json.dumps(silence.covers)))

    def expire_silence(self, silence_id: str, now: datetime) -> bool:
        """End a silence now; False if there is no such silence in force."""
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

    def hurry_timers(self, kind: str, now: datetime) -> int:
        """Make every timer of `kind` due later than `now` due at `now` (a re-check that
        cannot wait: a silence ended early); returns how many moved."""
        seconds = now.timestamp()
        cursor = self.connection.execute(
            "UPDATE timers SET due_at = ? WHERE kind = ? AND due_at > ?", (seconds, kind, seconds))
        if cursor.rowcount and (self.earliest_timer_set is None
                                or seconds < self.earliest_timer_set):
            self.earliest_timer_set = seconds
        return cursor.rowcount

    def cancel_timers(self, number: int, *, keep: str = "") -> None:
        """Remove the incident's timers, but those whose kind starts with `keep` (if any)."""
        if not keep:
            self.connection.execute("DELETE FROM timers WHERE incident_number = ?", (number,))
            return
        self.connection.execute(
            "DELETE FROM timers WHERE incident_number = ? AND substr(kind, 1, ?) != ?",
            (number, len(keep), keep))
