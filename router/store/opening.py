"""Opening the store a setting names (room: store; imports config.model, errors): SQLite in
the state directory, or PostgreSQL at a URL (`settings.store`, `--store`).

The one place the daemon and the CLI open a store, so the choice and its failures read the
same everywhere. `router.store.postgres` (and psycopg with it) is imported only for a URL:
a host that keeps SQLite needs neither. A failure is one line that names the store as
`DatabaseUrl.shown` shows it; the database's own words pass with the URL and its password
taken out, since libpq repeats a connection string it cannot parse.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import cast
from urllib.parse import quote

from router.config.model import DatabaseUrl, StoreSetting
from router.errors import StoreError, StoreUnavailable
from router.store import interface
from router.store.sqlite import DATABASE_NAME
from router.store.sqlite import Store as SqliteStore

POSTGRES_MODULE = "router.store.postgres"


class BackendMissing(StoreError):
    """This router cannot open the store named: its PostgreSQL support is not installed."""


def describe(setting: StoreSetting, state_dir: Path) -> str:
    """The store as messages, logs and the status page name it: a path, or a URL without
    user, password or query."""
    return str(state_dir / DATABASE_NAME) if isinstance(setting, str) else setting.shown


async def open_store(setting: StoreSetting, state_dir: Path, *,
                     backend: str = POSTGRES_MODULE) -> interface.Store:
    """Open (creating and migrating as needed) the store `setting` names; a URL with the
    `Store.open(url)` of the module `backend` (tests name a stand-in).

    Raises:
        BackendMissing: a URL, and no PostgreSQL support in this router.
        StoreError: the store cannot be opened (a server that cannot be reached, a
            password it refused, a newer router's schema); one line that names the store,
            never its password.
    """
    if isinstance(setting, str):
        return await SqliteStore.open(state_dir / DATABASE_NAME)
    return await _open_postgres(setting, backend)


async def _open_postgres(setting: DatabaseUrl, backend: str) -> interface.Store:
    if setting.url is None:  # a caller that loaded the config without its secrets
        raise StoreError(f"cannot open the store {setting.shown}: its URL's references "
                         "were not resolved")
    try:
        module = importlib.import_module(backend)
    except ImportError as error:
        missing = error.name or backend
        reason = ("this router has no PostgreSQL support" if missing == backend
                  else f"PostgreSQL support needs the {missing} package, which is not "
                       "installed")
        raise BackendMissing(f"cannot open the store {setting.shown}: {reason}") from None
    try:
        return cast(interface.Store, await module.Store.open(setting.url.reveal()))
    except Exception as error:  # StoreError, or a foreign one the backend did not translate
        reason = error.cause if isinstance(error, StoreUnavailable) else str(error)
        raise StoreError(f"cannot open the store {setting.shown}: "
                         f"{without_secrets(reason, setting)}") from None


def without_secrets(text: str, setting: DatabaseUrl) -> str:
    """`text`'s first line with the URL and its password (as read and as encoded) replaced."""
    line = next((part.strip() for part in text.splitlines() if part.strip()), "failed")
    if setting.url is not None:
        line = line.replace(setting.url.reveal(), setting.shown)
    if setting.password is not None and setting.password.reveal():
        password = setting.password.reveal()
        for form in sorted({password, quote(password, safe="")}, key=len, reverse=True):
            line = line.replace(form, "<redacted>")
    return line
