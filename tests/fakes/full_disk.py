"""A SQLite write connection whose commits fail as on a full disk, for `Store.open(...,
writer_factory=)`: everything else is the real sqlite3 on a real file.

    disk = full_disk()
    store = await Store.open(path, writer_factory=disk)
    disk.full = True         # every COMMIT raises OperationalError("database or disk is full")
    disk.full = False        # space freed

`disk.refused` counts the commits refused. Each call of `full_disk` makes a class of its own,
so tests never share the switch.
"""

from __future__ import annotations

import sqlite3
from typing import Any, ClassVar


class FullDiskConnection(sqlite3.Connection):
    full: ClassVar[bool] = False
    refused: ClassVar[int] = 0
    error: ClassVar[str] = "database or disk is full"

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        if type(self).full and sql == "COMMIT":
            type(self).refused += 1
            raise sqlite3.OperationalError(type(self).error)
        return super().execute(sql, parameters)


def full_disk(error: str = "database or disk is full") -> type[FullDiskConnection]:
    """A fresh switchable connection class; `error` is the message its commits fail with."""
    return type("Disk", (FullDiskConnection,), {"full": False, "refused": 0, "error": error})
