"""Durable state (room: store; imports config.model, alerts.model, errors).

The rest of router sees the store through store/interface.py (`Store`, `Reader`,
`Transaction` and their views, `StoreError` in errors.py) and opens it here; the SQLite
implementation (store/sqlite.py and the query modules) stays behind it.
"""

from __future__ import annotations

from pathlib import Path

from router.store.interface import Reader, Transaction
from router.store.sqlite import DATABASE_NAME, Store
from router.store.values import IncidentDetail

__all__ = ["DATABASE_NAME", "DEFAULT_STATE_DIR", "IncidentDetail", "Reader", "Store",
           "Transaction"]

DEFAULT_STATE_DIR = Path("state")
"""Where the daemon and the CLI keep the store (and the socket) unless told otherwise."""
