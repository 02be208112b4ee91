"""The writes of one unit of work on PostgreSQL (room: store; issue 18, D3): store/writes.py's
`Transaction` without the store's memory.

On SQLite the store keeps the open incidents, the incident counter and the silences in
memory between transactions (store/memory.py), which holds only while this process is the
one writer. On PostgreSQL other nodes commit, so the answers come from the database:
`open_incident` selects the key's open incident, `save_incident` writes the whole row (an
upsert on the number), and incident numbers come from the sequence `incident_numbers` (a
number taken by a unit that rolled back is a gap). What the SQLite Transaction holds back
until the end of a unit (alert, timeline and outbox rows, timers) it still holds back,
within the transaction: that is this process's alone.

It also notes what other nodes must hear of (`announced`: notifications added, timers set,
by the units that were kept), which the store announces with NOTIFY at the commit
(store/postgres_listen.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import datetime
from typing import cast

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
        """The whole row, inserted or updated by number; a second open incident of the same
        dedup key breaks `incidents_open_key` (the store retries that unit: postgres.py)."""
        row = self._incident_row(incident, frozenset(firing), None)
        self.connection.execute(writes._SAVE_INCIDENT, row)

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
        self.announced.dropped()
