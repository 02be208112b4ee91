"""How the PostgreSQL store tells its failures apart (room: store; imports errors; issue 18):
a server that cannot be reached or a connection lost (StoreUnavailable, the store marked
down), a conflict with another node's transaction (StoreBusy: the unit failed, the server
is well), and everything else (a plain StoreError, decided by the caller). psycopg makes
deadlocks, serialization failures and cancelled statements OperationalErrors too, so the
SQLSTATE decides, not the class.
"""

from __future__ import annotations

import psycopg
from psycopg import errors
from psycopg.conninfo import conninfo_to_dict

from router.errors import StoreBusy, StoreUnavailable


def place(conninfo: str) -> str:
    """HOST:PORT/DB of a libpq URL or connection string, with libpq's defaults; never its
    user or password."""
    try:
        parts = conninfo_to_dict(conninfo)
    except psycopg.Error:
        return "an unreadable URL"
    host = str(parts.get("host") or parts.get("hostaddr") or "localhost")
    database = parts.get("dbname") or parts.get("user") or "?"
    return f"{host}:{parts.get('port') or 5432}/{database}"


def unavailable(error: BaseException) -> StoreUnavailable | None:
    """The StoreUnavailable `error` amounts to: a server that is down or that cannot be
    reached, a connection lost (the pool replaces it), no connection free in time; or the
    StoreBusy of a conflict with another transaction. None for anything else."""
    if isinstance(error, StoreUnavailable):
        return error
    if isinstance(error, errors.ProgramLimitExceeded):  # the data's fault (too big a row)
        return None
    if not isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
        return None
    cause = str(error).strip().splitlines()[0] if str(error) else type(error).__name__
    if conflict(error):
        return StoreBusy(cause)
    return StoreUnavailable(cause)


def conflict(error: psycopg.Error) -> bool:
    """Whether `error` is a conflict between transactions (psycopg makes these
    OperationalErrors too): a deadlock or a serialization failure (SQLSTATE class 40), a
    statement cancelled (57014, statement_timeout) or a lock not available (55P03). The
    unit failed, the server is well: StoreBusy, not a store that is down."""
    state = error.sqlstate or ""
    return state.startswith("40") or state in _CONFLICTS


_CONFLICTS = frozenset({"57014", "55P03"})
SHUT_DOWN = frozenset({"57P01", "57P02", "57P03"})
"""The server is shutting down, crashed, or not yet taking connections: no connection."""
