"""The web interface's logins as the daemon runs them (room: daemon): one WebAccess for the
daemon's life (its login throttle lives as long), its session key read at start and again on
each reload (`settings.web.session_secret` may change): the secret's, else the shared
store's (PostgreSQL: a login on one node holds on every node), else the state directory's
(daemon/shared_keys.py)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from router.config.model import Config
from router.daemon.shared_keys import web_session_key
from router.engine import Engine
from router.errors import StoreError
from router.web.access import WebAccess
from router.web.assets import Assets
from router.web.render import Renderer


class SessionKeyUnusable(Exception):
    """The session key cannot be read or made, or does not hold a key."""


async def read_session_key(engine: Engine, config: Config, state_dir: Path, *,
                           shared: bool) -> bytes:
    """The session key of `config`.

    Raises:
        SessionKeyUnusable: saying where and why.
    """
    try:
        return await web_session_key(engine, config.settings.web, state_dir,
                                     shared=shared)
    except (OSError, ValueError, StoreError) as error:
        where = "the store" if shared else str(state_dir)
        raise SessionKeyUnusable(f"the web's session key in {where}: {error}") from None


async def start_web(engine: Engine, state_dir: Path, *, tls: bool, shared: bool) -> WebAccess:
    key = await read_session_key(engine, engine.config, state_dir, shared=shared)
    return WebAccess(engine, Renderer(Assets()), tls=tls, key=key)


async def prepare_key(web: WebAccess, engine: Engine, state_dir: Path, config: Config, *,
                      shared: bool) -> Callable[[], None]:
    """The reload hook: read the new config's key; the swap uses it once the config is in.
    A shared store that cannot be read keeps the key in use when it is the store's already
    (neither config sets a secret): a database outage does not refuse a reload."""
    try:
        key = await read_session_key(engine, config, state_dir, shared=shared)
    except SessionKeyUnusable:
        kept = web.key
        if kept is None or not shared or config.settings.web.session_secret is not None \
                or engine.config.settings.web.session_secret is not None:
            raise
        key = kept
    return functools.partial(web.use_key, key)
