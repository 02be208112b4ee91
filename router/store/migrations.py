"""Versioned schema migrations for both backends of the store (room: store), from one list.

Each entry moves the schema one version up; SQLite's `PRAGMA user_version` records where a
state directory is, PostgreSQL's `schema_version` table where a database is. Entries are
never edited once released: a change is a new entry. An entry is SQL both backends run (a
plain string, or a `Migration`'s `sqlite`), which PostgreSQL gets translated by
`postgresql_of` (column types and SQLite's words), or a `Migration` that gives
PostgreSQL's text itself and/or what PostgreSQL needs besides (`postgresql_extra`: the
incident number sequence, order columns where SQLite orders by its implicit rowid, the
counter behind `overrides.data_version`). The `Migration` type, the translation and those
extras are store/postgresql_schema.py's; the list and SQLite's migrating are here.
"""

from __future__ import annotations

import sqlite3

from router.errors import StoreError
from router.store.postgresql_schema import (
    POSTGRESQL_1,
    POSTGRESQL_3,
    POSTGRESQL_JOBS,
    POSTGRESQL_LABELS,
    Migration,
    postgresql_of,
    sqlite_of,
)

__all__ = ["MIGRATIONS", "Migration", "check_version", "migrate", "postgresql_of", "sqlite_of"]


MIGRATIONS: tuple[str | Migration, ...] = (
    # 1: incidents, their alerts and timeline, the outbox, timers, silences
    Migration("""
    CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
    INSERT INTO counters VALUES ('incident', 0);
    CREATE TABLE incidents (
        number INTEGER PRIMARY KEY,
        dedup_key TEXT NOT NULL,
        service TEXT,
        summary TEXT NOT NULL,
        severity TEXT NOT NULL,
        state TEXT NOT NULL,
        source TEXT NOT NULL,
        escalation_policy TEXT,
        level INTEGER NOT NULL,
        assigned_to TEXT,
        alert_count INTEGER NOT NULL,
        suppressed_by TEXT,
        opened_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        acknowledged_at REAL,
        acknowledged_by TEXT,
        resolved_at REAL,
        labels TEXT NOT NULL,
        firing TEXT NOT NULL
    );
    CREATE UNIQUE INDEX incidents_open_key ON incidents (dedup_key) WHERE state != 'resolved';
    CREATE INDEX incidents_by_state ON incidents (state, opened_at);
    CREATE TABLE alerts (
        id INTEGER PRIMARY KEY,
        incident_number INTEGER,
        received_at REAL NOT NULL,
        source TEXT NOT NULL,
        status TEXT NOT NULL,
        dedup_key TEXT NOT NULL,
        summary TEXT NOT NULL,
        severity TEXT NOT NULL,
        labels TEXT NOT NULL,
        annotations TEXT NOT NULL,
        suppressed_by TEXT
    );
    CREATE INDEX alerts_by_incident ON alerts (incident_number, id);
    CREATE TABLE timeline (
        id INTEGER PRIMARY KEY,
        incident_number INTEGER NOT NULL,
        at REAL NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        details TEXT NOT NULL
    );
    CREATE INDEX timeline_by_incident ON timeline (incident_number, id);
    CREATE TABLE outbox (
        id TEXT PRIMARY KEY,
        incident_number INTEGER NOT NULL,
        channel TEXT NOT NULL,
        target TEXT NOT NULL,
        address TEXT NOT NULL,
        event TEXT NOT NULL,
        created_at REAL NOT NULL,
        due_at REAL NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL DEFAULT 'pending',
        last_error TEXT
    );
    CREATE INDEX outbox_pending ON outbox (due_at) WHERE state = 'pending';
    CREATE TABLE timers (
        id INTEGER PRIMARY KEY,
        incident_number INTEGER NOT NULL,
        kind TEXT NOT NULL,
        due_at REAL NOT NULL,
        UNIQUE (incident_number, kind)
    );
    CREATE INDEX timers_due ON timers (due_at);
    CREATE TABLE silences (
        id TEXT PRIMARY KEY,
        matchers TEXT NOT NULL,
        starts_at REAL NOT NULL,
        ends_at REAL NOT NULL,
        reason TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    """, postgresql_extra=POSTGRESQL_1),
    # 2: the delivery log (every attempt), and what the deliverer needs of the outbox
    """
    ALTER TABLE outbox ADD COLUMN finished_at REAL;
    CREATE INDEX outbox_by_incident ON outbox (incident_number, channel, target, created_at)
        WHERE state = 'pending';
    CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY,
        notification_id TEXT NOT NULL,
        incident_number INTEGER,
        channel TEXT NOT NULL,
        target TEXT NOT NULL,
        event TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        attempted_at REAL NOT NULL,
        outcome TEXT NOT NULL,
        status_code INTEGER,
        latency_ms REAL,
        error TEXT
    );
    CREATE INDEX deliveries_by_incident ON deliveries (incident_number, id);
    CREATE INDEX deliveries_failed ON deliveries (id) WHERE outcome = 'failed';
    """,
    # 3: how many times an incident's escalation policy started over; notices that belong to
    # no incident (rota handoffs); run-time rota overrides
    Migration("""
    ALTER TABLE incidents ADD COLUMN repeats INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE outbox ADD COLUMN note TEXT NOT NULL DEFAULT '';
    ALTER TABLE outbox ADD COLUMN trace_id TEXT NOT NULL DEFAULT '';
    CREATE TABLE overrides (
        id TEXT PRIMARY KEY,
        rota TEXT NOT NULL,
        person TEXT NOT NULL,
        replaces TEXT,
        starts_at REAL NOT NULL,
        ends_at REAL NOT NULL,
        reason TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at REAL NOT NULL,
        removed_at REAL
    );
    CREATE INDEX overrides_by_rota ON overrides (rota, ends_at);
    """, postgresql_extra=POSTGRESQL_3),
    # 4: each channel's pending notifications in due order, so the deliverer's pass for one
    # channel never steps through another channel's backlog (issue 13 item 5)
    """
    CREATE INDEX outbox_due_by_channel ON outbox (channel, due_at, id) WHERE state = 'pending';
    """,
    # 5: a repeat of an alert (same incident, dedup key, status, source and labels) updates
    # its row: how many times it arrived and when it last did. `identity` hashes the source
    # and labels; rows written before this version have none and stay as they are
    # (retention removes them).
    """
    ALTER TABLE alerts ADD COLUMN count INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE alerts ADD COLUMN last_received_at REAL;
    ALTER TABLE alerts ADD COLUMN identity TEXT;
    CREATE UNIQUE INDEX alerts_repeat
        ON alerts (ifnull(incident_number, 0), dedup_key, status, identity)
        WHERE identity IS NOT NULL;
    """,
    # 6: what retention looks for: resolved incidents by age, and an incident's notifications
    # in every state (stores created from now on also use incremental auto-vacuum: store/
    # __init__.py sets it before the first table)
    """
    CREATE INDEX incidents_resolved ON incidents (resolved_at) WHERE state = 'resolved';
    CREATE INDEX outbox_by_number ON outbox (incident_number, state);
    """,
    # 7: an until-resolved silence's incidents (a JSON list of numbers; [] for the others)
    """
    ALTER TABLE silences ADD COLUMN covers TEXT NOT NULL DEFAULT '[]';
    """,
    # 8: the entries one call adds to an incident's timeline share one row: the row's columns
    # hold the first, `more` the others as a JSON list of [at, actor, action, details] (a new
    # alert's opened, notified and escalated: one row instead of three). NULL: the row holds
    # one entry, as every row written before this version does.
    """
    ALTER TABLE timeline ADD COLUMN more TEXT;
    """,
    # local health checks: every run (the audit trail, the newest runs per check kept:
    # store/checks.py) and each check's status and since when, so a restart neither opens
    # an alert again nor misses a change
    """
    CREATE TABLE check_runs (
        id INTEGER PRIMARY KEY,
        check_id TEXT NOT NULL,
        started_at REAL NOT NULL,
        status TEXT NOT NULL,
        message TEXT NOT NULL,
        metrics TEXT NOT NULL,
        duration_ms REAL NOT NULL,
        error TEXT,
        trace_id TEXT NOT NULL,
        incident_id TEXT
    );
    CREATE INDEX check_runs_by_check ON check_runs (check_id, id);
    CREATE TABLE check_states (
        check_id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        since REAL NOT NULL,
        last_run INTEGER NOT NULL
    );
    """,
    # heartbeats (issue 19): each configured heartbeat's state and last ping; its deadline is
    # a timer `heartbeat:<id>` on incident number 0 in the timers table
    """
    CREATE TABLE heartbeats (
        id TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        watched_since REAL NOT NULL,
        last_ping_at REAL,
        last_signal TEXT,
        last_exit_code INTEGER,
        last_message TEXT NOT NULL DEFAULT '',
        started_at REAL,
        last_success_at REAL,
        pings INTEGER NOT NULL DEFAULT 0
    );
    """,
    # jobs: batch jobs created over the API (config jobs are the config's), their runs, and
    # their alert targets (issue 19 item 2). A run's `timeout_at` is mirrored by a timer of
    # kind `job:<job>/<run>` on incident 0, which the scheduler fires.
    Migration("""
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        service TEXT,
        timeout REAL,
        severity TEXT NOT NULL,
        description TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE job_runs (
        job TEXT NOT NULL,
        run_id TEXT NOT NULL,
        status TEXT NOT NULL,
        exit_code INTEGER,
        duration REAL,
        output TEXT NOT NULL,
        started_at REAL NOT NULL,
        ended_at REAL,
        timeout_at REAL,
        PRIMARY KEY (job, run_id)
    );
    CREATE INDEX job_runs_by_start ON job_runs (job, started_at);
    CREATE TABLE job_alerts (
        id TEXT PRIMARY KEY,
        job TEXT NOT NULL,
        alert_type TEXT NOT NULL,
        target TEXT NOT NULL,
        channel TEXT,
        on_failure INTEGER NOT NULL,
        on_timeout INTEGER NOT NULL,
        created_at REAL NOT NULL,
        created_by TEXT NOT NULL
    );
    CREATE INDEX job_alerts_by_job ON job_alerts (job);
    """, postgresql_extra=POSTGRESQL_JOBS),
    # analysis: every run of an incident's analysis, its audit trail (issue 21); past
    # incidents of a dedup key or a label set, by when they opened
    Migration("""
    CREATE TABLE analysis_runs (
        id TEXT PRIMARY KEY,
        incident_number INTEGER NOT NULL,
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        status TEXT NOT NULL,
        error TEXT NOT NULL,
        fallback_used INTEGER NOT NULL,
        input_summary TEXT NOT NULL,
        recommendations TEXT NOT NULL,
        summary TEXT NOT NULL,
        probable_cause TEXT NOT NULL,
        confidence REAL,
        prompt_tokens INTEGER,
        completion_tokens INTEGER,
        total_tokens INTEGER,
        settings TEXT NOT NULL,
        findings TEXT NOT NULL,
        created_at REAL NOT NULL,
        started_at REAL,
        completed_at REAL,
        duration_ms REAL,
        trace_id TEXT NOT NULL
    );
    CREATE INDEX analysis_runs_by_incident ON analysis_runs (incident_number, created_at);
    CREATE INDEX analysis_runs_unfinished ON analysis_runs (created_at)
        WHERE status IN ('pending', 'running');
    CREATE INDEX incidents_by_key ON incidents (dedup_key, opened_at, acknowledged_at,
                                                resolved_at);
    CREATE INDEX incidents_by_labels ON incidents (labels, opened_at, acknowledged_at,
                                                   resolved_at);
    """, postgresql_extra=POSTGRESQL_LABELS),
    # claims (issue 18): the node sending a notification and until when its lease holds (a
    # partial index: a claim lasts from its claim to its record, so it holds only the
    # notifications in flight), and each rate-limited channel's next free send instant
    """
    ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
    ALTER TABLE outbox ADD COLUMN lease_until REAL;
    CREATE INDEX outbox_claims ON outbox (lease_until) WHERE claimed_by IS NOT NULL;
    CREATE TABLE channel_pace (channel TEXT PRIMARY KEY, next_free REAL NOT NULL);
    """,
    # nodes (issue 18 D5): each router sharing the store, the config it runs on and when it
    # last beat. One text for both backends: DOUBLE PRECISION is REAL to SQLite and keeps
    # Unix seconds exact on PostgreSQL (whose REAL is 4 bytes).
    """
    CREATE TABLE nodes (
        id TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        started_at DOUBLE PRECISION NOT NULL,
        config_revision TEXT NOT NULL,
        last_beat DOUBLE PRECISION NOT NULL
    );
    """,
    # shared secrets (issue 18 item 3): on PostgreSQL every node signs and checks with the
    # same link key and session key, and takes the same calendar feed tokens
    # (store/secrets.py). SQLite has the table and leaves it empty: its keys stay in the
    # state directory's files.
    """
    CREATE TABLE shared_secrets (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    # the outbox's ordering checks on PostgreSQL (issue 18 item 6; store/outbox.py): the first
    # pending notification of one incident, channel and target, leaving one out. Planned with
    # sorting off, the only plan left reads `outbox_by_incident` (the one index in that
    # order): statistics taken while little was pending made the planner scan every pending
    # row of the channel instead, once per due row. PL/pgSQL keeps the plan for the session
    # (an SQL function was planned again at every call: 183 µs a call). SQLite plans those
    # checks well as they are: nothing to do there.
    Migration("", postgresql="""
    CREATE FUNCTION outbox_first_pending(BIGINT, TEXT, TEXT, TEXT) RETURNS TEXT
        LANGUAGE plpgsql STABLE SET enable_sort = off AS $$
    BEGIN
        RETURN (SELECT id FROM outbox WHERE state = 'pending' AND incident_number = $1
                AND channel = $2 AND target = $3 AND id IS DISTINCT FROM $4
                ORDER BY created_at, rowid LIMIT 1);
    END $$;
    """),
)


def migrate(connection: sqlite3.Connection) -> int:
    """Bring the SQLite schema to the newest version, each step in its own transaction.

    Returns:
        The version the store is now at.

    Raises:
        StoreError: the store was written by a newer router than this one.
    """
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    check_version(version)
    for number, entry in enumerate(MIGRATIONS[version:], start=version + 1):
        connection.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(sqlite_of(entry)):
                connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {number}")
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
    return len(MIGRATIONS)


def check_version(version: int) -> None:
    """StoreError if `version` is newer than this router knows."""
    if version > len(MIGRATIONS):
        raise StoreError(f"the state store is at schema version {version}, newer than this "
                         f"router knows ({len(MIGRATIONS)}); upgrade router")


def _statements(script: str) -> list[str]:
    return [statement.strip() for statement in script.split(";") if statement.strip()]
