"""Rows <-> records for the SQLite store (room: store; imports alerts.model, errors).

`Reader` holds the queries the read API makes; `Transaction` (store/writes.py) adds the
writes a use case makes inside one store transaction. Both are synchronous: they run in a
worker thread, never on the trio thread. Times are stored as Unix seconds (REAL) so
deadlines compare and index cheaply.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from router.alerts.model import (
    Alert,
    Incident,
    Notification,
    Severity,
    Silence,
    SilenceMatcher,
    Status,
    TimelineEntry,
)
from router.store.analysis import AnalysisReader
from router.store.checks import ChecksReader
from router.store.heartbeats import HeartbeatsReader
from router.store.jobs import JobsReader
from router.store.nodes import NodesReader
from router.store.outbox import OutboxReader
from router.store.overrides import OverridesReader
from router.store.retention import RetentionReader
from router.store.rows import _INCIDENT_COLUMNS, _incident, from_seconds, to_seconds
from router.store.secrets import SecretsReader
from router.store.values import IncidentDetail

__all__ = ["IncidentDetail", "Reader", "from_seconds", "to_seconds"]

_SELECT_OPEN = (f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE dedup_key = ? "
                "AND state != 'resolved'")
_SELECT_NUMBER = f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE number = ?"


def _silence(row: sqlite3.Row) -> Silence:
    return Silence(
        id=row["id"],
        matchers=tuple(SilenceMatcher(name=name, operator=operator, value=value)
                       for name, operator, value in json.loads(row["matchers"])),
        starts_at=from_seconds(row["starts_at"]),  # type: ignore[arg-type]
        ends_at=from_seconds(row["ends_at"]),  # type: ignore[arg-type]
        reason=row["reason"], created_by=row["created_by"],
        covers=tuple(json.loads(row["covers"])))


def _firing_alert(row: sqlite3.Row) -> Alert:
    return Alert(summary=row["summary"], source=row["source"],
                 severity=Severity(row["severity"]), labels=json.loads(row["labels"]))


def _alert_mapping(row: sqlite3.Row) -> Mapping[str, Any]:
    return {"received_at": from_seconds(row["received_at"]),
            "last_received_at": from_seconds(row["last_received_at"] or row["received_at"]),
            "count": row["count"], "source": row["source"],
            "status": row["status"], "summary": row["summary"], "severity": row["severity"],
            "labels": json.loads(row["labels"]), "annotations": json.loads(row["annotations"]),
            "suppressed_by": row["suppressed_by"]}


def timeline_entries(rows: Iterable[sqlite3.Row]) -> Iterator[TimelineEntry]:
    """The entries of timeline rows in order: each row's own, then those of its `more`
    (migration 8: the entries one call added share a row)."""
    for row in rows:
        yield TimelineEntry(at=from_seconds(row["at"]), actor=row["actor"],  # type: ignore[arg-type]
                            action=row["action"], details=json.loads(row["details"]))
        if row["more"] is not None:
            for at, actor, action, details in json.loads(row["more"]):
                yield TimelineEntry(at=from_seconds(at), actor=actor,  # type: ignore[arg-type]
                                    action=action, details=details)


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

    @property
    def checks(self) -> ChecksReader:
        """Local health checks' statuses and runs (store/checks.py)."""
        return ChecksReader(self.connection)

    @property
    def heartbeats(self) -> HeartbeatsReader:
        """Heartbeats' states and deadlines (store/heartbeats.py)."""
        return HeartbeatsReader(self.connection)

    @property
    def jobs(self) -> JobsReader:
        """Jobs created over the API, their runs and alert targets (store/jobs.py)."""
        return JobsReader(self.connection)

    @property
    def analysis(self) -> AnalysisReader:
        """Incident analysis runs and past incidents (store/analysis.py)."""
        return AnalysisReader(self.connection)

    @property
    def nodes(self) -> NodesReader:
        """The routers sharing the store, as they last beat (store/nodes.py)."""
        return NodesReader(self.connection)

    @property
    def secrets(self) -> SecretsReader:
        """Secrets the nodes of a shared store hold in common (store/secrets.py)."""
        return SecretsReader(self.connection)

    def incident(self, number: int) -> Incident | None:
        row = self.connection.execute(_SELECT_NUMBER, (number,)).fetchone()
        return _incident(row)[0] if row else None

    def open_incident(self, dedup_key: str) -> tuple[Incident, frozenset[str]] | None:
        row = self.connection.execute(_SELECT_OPEN, (dedup_key,)).fetchone()
        return self._loaded(row) if row else None

    def _loaded(self, row: sqlite3.Row) -> tuple[Incident, frozenset[str]]:
        return _incident(row)

    def incidents(self, *, states: Sequence[str] = (), service: str | None = None,
                  since: datetime | None = None, limit: int = 100,
                  severities: Sequence[str] = (), offset: int = 0) -> list[Incident]:
        """Newest first; `offset` skips that many (the web interface's pages)."""
        clauses: list[str] = ["1 = 1"]
        values: list[str | float] = []
        for column, wanted in (("state", states), ("severity", severities)):
            if wanted:
                clauses.append(f"{column} IN ({', '.join('?' * len(wanted))})")
                values.extend(wanted)
        if service is not None:
            clauses.append("service = ?")
            values.append(service)
        if since is not None:
            clauses.append("opened_at >= ?")
            values.append(since.timestamp())
        rows = self.connection.execute(
            f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE {' AND '.join(clauses)} "
            "ORDER BY number DESC LIMIT ? OFFSET ?", (*values, limit, offset)).fetchall()
        return [_incident(row)[0] for row in rows]

    def detail(self, number: int, limit: int | None = None) -> IncidentDetail | None:
        """The incident, its alerts and its timeline, oldest first; with `limit`, only the
        newest `limit` of each and how many older ones were left out (the web page's read
        stays bounded however long the incident's history)."""
        incident = self.incident(number)
        if incident is None:
            return None
        alerts, alerts_omitted = self._alerts_of(number, limit)
        timeline, timeline_omitted = self._timeline_of(number, limit)
        return IncidentDetail(incident, alerts, timeline, alerts_omitted=alerts_omitted,
                              timeline_omitted=timeline_omitted)

    def _alerts_of(self, number: int, limit: int | None
                   ) -> tuple[tuple[Mapping[str, Any], ...], int]:
        # No LIMIT for no limit: PostgreSQL refuses SQLite's `LIMIT -1`.
        rows = self.connection.execute(
            "SELECT * FROM alerts WHERE incident_number = ? ORDER BY id DESC"
            + ("" if limit is None else f" LIMIT {int(limit)}"), (number,)).fetchall()
        omitted = 0
        if limit is not None and len(rows) == limit:
            omitted = int(self.connection.execute(
                "SELECT count(*) FROM alerts WHERE incident_number = ?", (number,)
            ).fetchone()[0]) - limit
        return tuple(_alert_mapping(row) for row in reversed(rows)), omitted

    def _timeline_of(self, number: int, limit: int | None
                     ) -> tuple[tuple[TimelineEntry, ...], int]:
        """Newest rows first until they hold `limit` entries (a row may hold several)."""
        rows: list[sqlite3.Row] = []
        held = 0
        cursor = self.connection.execute(
            "SELECT * FROM timeline WHERE incident_number = ? ORDER BY id DESC", (number,))
        for row in cursor:
            if limit is not None and held >= limit:
                break
            rows.append(row)
            held += 1 + (len(json.loads(row["more"])) if row["more"] is not None else 0)
        cursor.close()
        entries = tuple(timeline_entries(reversed(rows)))
        if limit is None or held < limit:
            return entries, 0
        total = int(self.connection.execute(
            "SELECT sum(1 + coalesce(json_array_length(more), 0)) FROM timeline "
            "WHERE incident_number = ?", (number,)).fetchone()[0])
        return entries[len(entries) - limit:], total - limit

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

    def firing_alerts(self, number: int) -> list[Alert]:
        """The firing alerts recorded on an incident, oldest first: summary, source,
        severity and labels (one per arrival that is not a repeat; the caller keeps those
        whose labels are still in the incident's firing set)."""
        return [_firing_alert(row) for row in self.connection.execute(
            "SELECT summary, source, severity, labels FROM alerts "
            "WHERE incident_number = ? AND status = 'firing' ORDER BY id", (number,))]

    def open_firing_alerts(self) -> list[tuple[int, Alert]]:
        """(incident number, alert) of every firing alert recorded on an open incident."""
        return [(row["incident_number"], _firing_alert(row)) for row in self.connection.execute(
            "SELECT alerts.incident_number, alerts.summary, alerts.source, alerts.severity, "
            "alerts.labels FROM incidents JOIN alerts ON alerts.incident_number = "
            "incidents.number WHERE incidents.state != 'resolved' AND alerts.status = ? "
            "ORDER BY alerts.id", (Status.FIRING.value,))]

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

    def silence_listing(self, active_at: datetime | None, limit: int
                        ) -> tuple[list[Silence], int]:
        """The `limit` silences that end last of those `silences(active_at)` lists (in force
        and to come before ended ones), in its order, and how many it lists: the API's read
        stays bounded however many silences ended over the years (issue 22)."""
        where, values = "", ()
        if active_at is not None:
            where = " WHERE starts_at <= ? AND ends_at > ?"
            values = (active_at.timestamp(),) * 2  # type: ignore[assignment]
        rows = self.connection.execute(
            f"SELECT * FROM silences{where} ORDER BY ends_at DESC, id DESC LIMIT ?",
            (*values, limit)).fetchall()
        total = len(rows)
        if total == limit:
            total = int(self.connection.execute(f"SELECT count(*) FROM silences{where}",
                                                values).fetchone()[0])
        return sorted(map(_silence, rows), key=lambda silence: silence.id), total

    def active_silences(self, now: datetime) -> list[Silence]:
        return self.silences(now)

    def unexpired_silences(self, now: datetime) -> list[Silence]:
        """Silences in force or to come at `now` (the web page's list; all of them, as the
        store holds them in memory anyway for muting)."""
        return [_silence(row) for row in self.connection.execute(
            "SELECT * FROM silences WHERE ends_at > ? ORDER BY id", (now.timestamp(),))]

    def expired_silences(self, now: datetime, limit: int) -> tuple[list[Silence], int]:
        """The `limit` silences that ended last by `now`, latest first, and how many ended
        in all: history grows for ever, the web page's read stays bounded (issue 22)."""
        rows = self.connection.execute(
            "SELECT * FROM silences WHERE ends_at <= ? ORDER BY ends_at DESC, id DESC LIMIT ?",
            (now.timestamp(), limit)).fetchall()
        total = len(rows)
        if total == limit:
            total = int(self.connection.execute(
                "SELECT count(*) FROM silences WHERE ends_at <= ?", (now.timestamp(),)
            ).fetchone()[0])
        return [_silence(row) for row in rows], total

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
