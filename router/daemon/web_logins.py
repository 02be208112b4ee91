"""The web interface's logins as the daemon runs them (room: daemon): one WebAccess for the
daemon's life (its login throttle lives as long), its session key read in a worker thread at
start and again on each reload (`settings.web.session_secret` may change)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import trio

from router.config.model import Config
from router.engine import Engine
from router.web.access import WebAccess
from router.web.assets import Assets
from router.web.auth.keys import session_key
from router.web.render import Renderer


class SessionKeyUnusable(Exception):
    """The session key file cannot be read or made, or does not hold a key."""


async def read_session_key(config: Config, state_dir: Path) -> bytes:
    """The session key (web/auth/keys.py), off the event loop.

    Raises:
        SessionKeyUnusable: saying which file and why.
    """
    try:
        return await trio.to_thread.run_sync(session_key, config.settings.web, state_dir)
    except (OSError, ValueError) as error:
        raise SessionKeyUnusable(f"the web's session key in {state_dir}: {error}") from None


async def start_web(engine: Engine, state_dir: Path, *, tls: bool) -> WebAccess:
    key = await read_session_key(engine.config, state_dir)
    return WebAccess(engine, Renderer(Assets()), tls=tls, key=key)


async def prepare_key(web: WebAccess, state_dir: Path, config: Config) -> Callable[[], None]:
    """The reload hook: read the new config's key; the swap uses it once the config is in."""
    return functools.partial(web.use_key, await read_session_key(config, state_dir))
