"""Incident analysis as the store keeps it (room: store): `analysis_runs`, the audit trail
of every run, and the past incidents an analysis cites (issue 21).

A run is written pending in the unit that commits the incident's first page, and saved
again as it starts and ends; a restart finds the runs left pending or running through a
partial index. Past incidents are read through `incidents_by_key` and
`incidents_by_labels` (dedup key or label text, then opening time), so their cost grows
with the incidents of that key in the window, not with the table. Times are Unix seconds.
"""

from __future__ import annotations

import json
import sqlite3
import statistics
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from router.store.dialect import SQLITE, dialect, upsert
from router.store.rows import from_seconds, to_seconds
from router.store.values import AnalysisRun, PastIncidents

_COLUMNS = ("id", "incident_number", "provider", "model", "status", "error", "fallback_used",
            "input_summary", "recommendations", "summary", "probable_cause", "confidence",
            "prompt_tokens", "completion_tokens", "total_tokens", "settings", "findings",
            "created_at", "started_at", "completed_at", "duration_ms", "trace_id")
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM analysis_runs"
_SAVE = upsert("analysis_runs", _COLUMNS, ("id",))
RESOLUTIONS = 5
"""How many of the latest resolved incidents' resolvers and notes a summary cites."""
NOTES = 5
"""How many of a resolved incident's latest notes a summary cites."""


def _run(row: sqlite3.Row) -> AnalysisRun:
    created_at = from_seconds(row["created_at"])
    assert created_at is not None
    return AnalysisRun(
        id=row["id"], incident_number=row["incident_number"], provider=row["provider"],
        model=row["model"], status=row["status"], error=row["error"],
        fallback_used=bool(row["fallback_used"]), input_summary=row["input_summary"],
        recommendations=tuple(MappingProxyType(item)
                              for item in json.loads(row["recommendations"])),
        summary=row["summary"], probable_cause=row["probable_cause"],
        confidence=row["confidence"], prompt_tokens=row["prompt_tokens"],
        completion_tokens=row["completion_tokens"], total_tokens=row["total_tokens"],
        settings=MappingProxyType(json.loads(row["settings"])),
        findings=MappingProxyType(json.loads(row["findings"])), created_at=created_at,
        started_at=from_seconds(row["started_at"]),
        completed_at=from_seconds(row["completed_at"]), duration_ms=row["duration_ms"],
        trace_id=row["trace_id"])


def _row(run: AnalysisRun) -> tuple[Any, ...]:
    return (run.id, run.incident_number, run.provider, run.model, run.status, run.error,
            int(run.fallback_used), run.input_summary,
            json.dumps([dict(item) for item in run.recommendations], sort_keys=True),
            run.summary, run.probable_cause, run.confidence, run.prompt_tokens,
            run.completion_tokens, run.total_tokens,
            json.dumps(dict(run.settings), sort_keys=True, default=str),
            json.dumps(dict(run.findings), sort_keys=True, default=str),
            to_seconds(run.created_at), to_seconds(run.started_at),
            to_seconds(run.completed_at), run.duration_ms, run.trace_id)


class AnalysisReader:
    """Analysis runs and past incidents as a Reader sees them (`reader.analysis`)."""

    __slots__ = ("_connection",)

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def runs(self, incident_number: int) -> list[AnalysisRun]:
        """The incident's runs, newest first."""
        return [_run(row) for row in self._connection.execute(
            f"{_SELECT} WHERE incident_number = ? ORDER BY created_at DESC, id DESC",
            (incident_number,))]

    def run(self, run_id: str) -> AnalysisRun | None:
        row = self._connection.execute(f"{_SELECT} WHERE id = ?", (run_id,)).fetchone()
        return None if row is None else _run(row)

    def unfinished(self) -> list[AnalysisRun]:
        """Runs left pending or running (a restart queues them again), oldest first."""
        return [_run(row) for row in self._connection.execute(
            f"{_SELECT} WHERE status IN ('pending', 'running') ORDER BY created_at, id")]

    def past_by_key(self, dedup_key: str, since: datetime, before: int) -> PastIncidents:
        """Incidents of `dedup_key` opened since `since`, numbered below `before`."""
        return self._past("dedup_key", dedup_key, since, before)

    def past_by_labels(self, labels: Mapping[str, str], since: datetime,
                       before: int) -> PastIncidents:
        """Incidents with exactly these labels opened since `since`, numbered below
        `before` (the labels' text as the store writes it: sorted, compact)."""
        text = json.dumps(dict(labels), separators=(",", ":"), ensure_ascii=False,
                          sort_keys=True)
        return self._past("labels", text, since, before)

    def _past(self, column: str, value: str, since: datetime, before: int) -> PastIncidents:
        # SQLite is told the index; PostgreSQL has no INDEXED BY (its planner picks it), and
        # indexes the labels by their hash (store/migrations.py: a B-tree entry is bounded).
        indexed = (f"INDEXED BY incidents_by_{'key' if column == 'dedup_key' else column} "
                   if dialect(self._connection) == SQLITE else "")
        hashed = column == "labels" and not indexed
        rows = self._connection.execute(
            f"SELECT number, opened_at, acknowledged_at, resolved_at FROM incidents {indexed}"
            f"WHERE {'md5(labels) = md5(?) AND ' if hashed else ''}{column} = ? "
            "AND opened_at >= ? AND number < ? ORDER BY opened_at DESC",
            ((value,) if hashed else ()) + (value, since.timestamp(), before)).fetchall()
        acknowledge = [(row["acknowledged_at"] - row["opened_at"]) / 60 for row in rows
                       if row["acknowledged_at"] is not None]
        resolve = [(row["resolved_at"] - row["opened_at"]) / 60 for row in rows
                   if row["resolved_at"] is not None]
        resolved = [row["number"] for row in rows if row["resolved_at"] is not None]
        return PastIncidents(
            count=len(rows), last_opened_at=from_seconds(rows[0]["opened_at"]) if rows else None,
            median_minutes_to_acknowledge=statistics.median(acknowledge) if acknowledge
            else None,
            median_minutes_to_resolve=statistics.median(resolve) if resolve else None,
            resolutions=tuple(self._resolution(number) for number in resolved[:RESOLUTIONS]))

    def _resolution(self, number: int) -> Mapping[str, Any]:
        """Who resolved incident `number` last and the latest `NOTES` notes left on it,
        oldest first (an incident's notes have no count limit)."""
        resolved = self._connection.execute(
            "SELECT actor FROM timeline WHERE incident_number = ? AND action = 'resolved' "
            "ORDER BY id DESC LIMIT 1", (number,)).fetchone()
        notes = [json.loads(row["details"]).get("text", "") for row in self._connection.execute(
            "SELECT details FROM timeline WHERE incident_number = ? AND action = 'note' "
            "ORDER BY id DESC LIMIT ?", (number, NOTES))]
        return MappingProxyType({"incident": number,
                                 "resolved_by": resolved["actor"] if resolved else "",
                                 "notes": tuple(reversed(notes))})


class AnalysisWriter(AnalysisReader):
    """`AnalysisReader` and the write (`transaction.analysis`)."""

    __slots__ = ()

    def save(self, run: AnalysisRun) -> None:
        """Keep `run` as it is now (a new one, or a later state of one kept before)."""
        self._connection.execute(_SAVE, _row(run))
