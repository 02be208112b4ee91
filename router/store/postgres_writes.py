"""The writes of one unit of work on PostgreSQL (room: store; issue 18, D3): store/writes.py's
`Transaction` without the store's memory.

On SQLite the store keeps the open incidents, the incident counter and the silences in
memory between transactions (store/memory.py), which holds only while this process is the
one writer. On PostgreSQL other nodes commit, so the answers come from the database:
`open_incident` selects the key's open incident, `save_incident` writes the whole row (an
upsert on the number), and incident numbers come from the sequence `incident_numbers` (a
number taken by a unit that rolled back is a gap). What the SQLite Transaction holds back
until the end of a unit (alert, timeline and outbox rows, timers) it still holds back,
within the transaction: that is this process's alone; the incident rows too. Its `flush`
defers them on the connection (store/postgres_wire.py): they go to the server with the
unit's next statement, or at its end with its savepoint's release or the COMMIT, all in
one round trip, where each table was one.

It also notes what other nodes must hear of (`announced`: notifications added, timers set,
by the units that were kept), which the store announces with NOTIFY at the commit
(store/postgres_listen.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from router.alerts.model import Incident, Notification
from router.store import writes
from router.store.memory import Memory
from router.store.postgres_listen import Announced
from router.store.postgres_wire import Connection
from router.store.records import Reader


class Transaction(writes.Transaction):
    """writes.Transaction reading the database where the SQLite one reads its memory. Its
    Memory lives as long as the transaction (one group commit, milliseconds): the alert rows
    it wrote, so a repeat in a later unit counts on its row, and the silences, read once (a
    statement on the silences table, and a unit rolled back, drop them); it is never checked
    against other connections, nor loaded with open incidents."""

    def __init__(self, connection: Connection) -> None:
        super().__init__(cast(sqlite3.Connection, connection), Memory())
        self.announced = Announced()
        self._wire = connection
        self._incidents: list[Sequence[Any]] = []

    def flush(self) -> None:
        """Defer the rows held back (see the module): each table's in one statement."""
        for sql, rows in ((writes._INSERT_ALERT, self._alerts),
                          (writes._REPEAT_ALERT, self._repeats),
                          (writes._SET_TIMER, self._timers),
                          (writes._INSERT_TIMELINE, self._timeline),
                          (writes._INSERT_OUTBOX, self._outbox),
                          (writes._SAVE_INCIDENT, self._incidents)):
            if rows:
                self._wire.defer(sql, list(rows))
                rows.clear()

    def _remembered(self) -> Memory:
        return self._memory

    def open_incident(self, dedup_key: str) -> tuple[Incident, frozenset[str]] | None:
        return Reader.open_incident(self, dedup_key)

    def unchanged(self, seen: object) -> bool:
        """Never: the store peeks at nothing on PostgreSQL (`peek` answers None)."""
        return False

    def next_incident_number(self) -> int:
        return int(self.connection.execute("SELECT nextval('incident_numbers')").fetchone()[0])

    def save_incident(self, incident: Incident, firing: Iterable[str]) -> None:
        """The whole row, inserted or updated by number, held back as the alert rows are; a
        second open incident of the same dedup key breaks `incidents_open_key` when it is
        sent (the store retries that unit: postgres.py)."""
        self._incidents.append(self._incident_row(incident, frozenset(firing), None))

    def add_notifications(self, notifications: Iterable[Notification]) -> None:
        listed = list(notifications)
        super().add_notifications(listed)
        if listed:
            self.announced.notifications_added()

    def set_timer(self, number: int, kind: str, due_at: datetime) -> None:
        super().set_timer(number, kind, due_at)
        self.announced.timer_set(due_at.timestamp())

    def hurry_timers(self, kind: str, now: datetime) -> int:
        moved = super().hurry_timers(kind, now)
        if moved:
            self.announced.timer_set(now.timestamp())
        return moved

    def forget(self) -> None:
        super().forget()
        self._incidents.clear()
        self._wire.discard()
        self.announced.dropped()
