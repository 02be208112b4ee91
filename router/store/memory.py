"""What the SQLite store keeps in memory between transactions (room: store; imports
alerts.model): every open incident by dedup key, with the row last written for it, the
incident counter, the alert rows ingest wrote lately, and the silences not yet over.

Ingest asks for the open incident of each alert's dedup key and writes it back changed: kept
here, that costs no SELECT and no decoding of a row, and writing it back costs only an UPDATE
of the columns that changed (store/writes.py); a repeat of an alert it wrote lately (same
incident, dedup key, status, source, labels, words) only counts on its row, with no JSON to
encode or hash to take. It holds exactly what the write connection
would read, so it is dropped whenever that may no longer be so, and loaded again on the
next use:
- a unit of work or a whole transaction rolled back (the store's `forget` and `lost`);
- another connection committed (SQLite's data_version moved: a CLI in another process);
- a statement written by hand (not through the Transaction's methods) touched the
  incidents or the alerts table (retention's deletes, tests' set-up); one on silences drops
  the silences only.

The trio thread may `peek` at an open incident and the silences (engine/repeats.py decides a
repeat from them) but never loads anything: what it saw is compared (by identity: every
change makes new objects) with what the store holds when the unit runs.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from router.alerts.model import Incident, Silence
from router.store.rows import _INCIDENT_COLUMNS, _incident

Row = tuple[object, ...]
"""An incident's column values in _INCIDENT_COLUMNS' order, as written to the table."""
AlertKey = tuple[object, ...]
"""(incident number, dedup key, status, source, the labels' items): one alert row's."""
AlertWords = tuple[object, ...]
"""(summary, severity, the annotations' items, suppressed_by): what a repeat may change."""
ALERTS_HELD = 65_536
"""At most this many alert rows are remembered (then they are forgotten all at once)."""

Silences = list[tuple[float, float, Silence]]
"""(starts_at, ends_at, silence) of each silence not over at `Memory.silences_since`."""

_SELECT_OPEN = f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE state != 'resolved'"


@dataclass(slots=True)
class Open:
    """One open incident: the row as the table holds it, decoded on first use."""

    row: Row
    decoded: tuple[Incident, frozenset[str]] | None = None


class Memory:
    """Open incidents by dedup key and by number, and the incident counter, as the write
    connection sees them. Used only under the store's write limiter."""

    __slots__ = ("_by_key", "_by_number", "_version", "alerts", "number", "silences",
                 "silences_since")

    def __init__(self) -> None:
        self._by_key: dict[str, Open] | None = None  # None: not loaded
        self._by_number: dict[int, Open] = {}
        self._version: int | None = None
        self.number: int | None = None
        """The incident counter, with what this transaction's units took; None: not read."""
        self.alerts: dict[AlertKey, tuple[str, AlertWords]] = {}
        """The identity and words of alert rows written lately (`remember_alert`)."""
        self.silences: Silences | None = None
        """The silences not over at `silences_since` (seconds); None: not read."""
        self.silences_since = 0.0

    def check(self, connection: sqlite3.Connection) -> None:
        """At a transaction's start: drop everything if another connection committed."""
        version = int(connection.execute("PRAGMA data_version").fetchone()[0])
        if version != self._version:
            self.drop()
            self.number = None
            self._version = version

    def drop(self) -> None:
        """Forget the open incidents; the next lookup loads them again."""
        self._by_key = None
        self._by_number = {}
        self.alerts = {}
        self.silences = None

    def open_incidents(self, connection: sqlite3.Connection) -> dict[str, Open]:
        """Every open incident by dedup key, loaded (rows only) if not held."""
        if self._by_key is None:
            self._by_key = {}
            self._by_number = {}
            for row in connection.execute(_SELECT_OPEN):
                entry = Open(tuple(row))
                self._by_key[row["dedup_key"]] = entry
                self._by_number[row["number"]] = entry
        return self._by_key

    def get(self, connection: sqlite3.Connection,
            dedup_key: str) -> tuple[Incident, frozenset[str]] | None:
        entry = self.open_incidents(connection).get(dedup_key)
        if entry is None:
            return None
        if entry.decoded is None:
            entry.decoded = _incident(dict(zip(_COLUMN_NAMES, entry.row, strict=True)))
        return entry.decoded

    def peek(self, dedup_key: str) -> Open | None:
        """The open incident of `dedup_key` if the memory holds it; never loads (for the
        trio thread, while the store's thread may be changing it)."""
        by_key = self._by_key
        entry = by_key.get(dedup_key) if by_key is not None else None
        if entry is not None and entry.decoded is None:
            entry.decoded = _incident(dict(zip(_COLUMN_NAMES, entry.row, strict=True)))
        return entry

    def holds_none(self, dedup_key: str) -> bool:
        """Whether the memory is loaded and holds no open incident for `dedup_key` (for the
        trio thread: never loads)."""
        by_key = self._by_key
        return by_key is not None and dedup_key not in by_key

    def written(self, connection: sqlite3.Connection, number: int) -> Open | None:
        """What was last written for open incident `number`; None if it is not open."""
        self.open_incidents(connection)
        return self._by_number.get(number)

    def remember_alert(self, key: AlertKey, identity: str, words: AlertWords) -> None:
        """An alert row with this key, `identity` and words was written."""
        if len(self.alerts) >= ALERTS_HELD:
            self.alerts = {}
        self.alerts[key] = (identity, words)

    def save(self, incident: Incident, firing: frozenset[str], row: Row) -> None:
        """Incident `row` was written: remember it if open, forget it if resolved."""
        if self._by_key is None:
            return
        old = self._by_number.pop(incident.number, None)
        if old is not None and self._by_key.get(str(old.row[1])) is old:
            del self._by_key[str(old.row[1])]
        if row[5] != "resolved":
            entry = Open(row, (incident, firing))
            self._by_key[incident.dedup_key] = entry
            self._by_number[incident.number] = entry


def in_force(silences: Silences, seconds: float) -> list[Silence]:
    """The silences of `silences` in force at `seconds`."""
    return [silence for starts_at, ends_at, silence in silences
            if starts_at <= seconds < ends_at]


_COLUMN_NAMES = tuple(column.strip() for column in _INCIDENT_COLUMNS.split(","))
