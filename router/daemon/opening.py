"""What the daemon opens outside its config before it serves (room: daemon; imports
everything): the state directory and its admin token, the store, the listening sockets, and
the keys of the acknowledge links and of the web's sessions.

Each of them fails for a reason the config does not show (a directory it may not write, a
database that is down, a port another process holds), and each failure is one StartFailed
line that says what, where and what to do, never a traceback: `router run` prints it and
exits 1 (cli/main.py).
"""

from __future__ import annotations

from pathlib import Path

import trio

from router.config.model import StoreSetting
from router.daemon.shared_keys import link_key
from router.daemon.web_logins import SessionKeyUnusable, start_web
from router.engine import Engine
from router.errors import StoreError
from router.links import KEY_NAME as LINK_KEY_NAME
from router.server.http import open_listeners
from router.store import files
from router.store.interface import Store
from router.store.opening import BackendMissing, describe, open_store
from router.web.access import WebAccess
from router.web.auth.keys import KEY_NAME as SESSION_KEY_NAME


class StartFailed(Exception):
    """The daemon cannot start for a reason outside the config (a port taken, a state
    directory it cannot write): one line that says what, where and what to do."""


def prepare_state(state_dir: Path) -> str:
    """The state directory 0750 with its key files 0600; the admin token for the CLI."""
    try:
        files.prepare_directory(state_dir)
        files.tighten_files([state_dir / LINK_KEY_NAME, state_dir / SESSION_KEY_NAME])
        return files.read_or_create_admin_token(state_dir)
    except OSError as error:
        raise StartFailed(
            f"cannot use the state directory {state_dir}: {error.strerror or error}; make it "
            f"a directory the user router runs as may write, or give another with --state"
        ) from None


async def open_daemon_store(setting: StoreSetting, state_dir: Path) -> Store:
    """The store `settings.store` or `--store` names; one line when it cannot be opened.

    Raises:
        BackendMissing: a URL, and no PostgreSQL support in this router.
        StartFailed: the store cannot be opened (a newer router's schema, a server that
            cannot be reached, a password it refused).
    """
    try:
        return await open_store(setting, state_dir)
    except BackendMissing:
        raise
    except (StoreError, OSError) as error:
        reason = str(error) if setting != "sqlite" else \
            f"cannot open the store {describe(setting, state_dir)}: {error}"
        raise StartFailed(f"{reason}; check settings.store or --store") from None


async def listen(host: str, port: int) -> list[trio.SocketListener]:
    """The HTTP listeners on `host:port`, bound (not yet accepting)."""
    try:
        return await open_listeners(host, port)
    except OSError as error:
        raise StartFailed(
            f"cannot listen on {host}:{port}: {error.strerror or error}; stop what holds "
            f"that address or choose another with --listen or settings.listen") from None


async def links_key(engine: Engine, state_dir: Path, shared: bool) -> bytes:
    """The acknowledge links' key when `settings.link_secret` is not set: the store's on
    PostgreSQL, else `link.key` in the state directory (daemon/shared_keys.py)."""
    try:
        return await link_key(engine, state_dir, shared=shared)
    except (OSError, ValueError, StoreError) as error:
        where = "the store" if shared else str(state_dir)
        raise StartFailed(f"cannot start: the acknowledge links' key in {where}: "
                          f"{error}") from None


async def open_web(engine: Engine, state_dir: Path, *, tls: bool, shared: bool) -> WebAccess:
    """The web interface's logins with their session key: the store's on PostgreSQL, else
    `session.key` in the state directory (daemon/web_logins.py)."""
    try:
        return await start_web(engine, state_dir, tls=tls, shared=shared)
    except SessionKeyUnusable as error:
        raise StartFailed(f"cannot start: {error}") from None
