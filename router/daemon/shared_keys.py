"""The keys and feed tokens a daemon signs and checks with (room: daemon; issue 18 item 3).

On SQLite (one host) they are the files of the state directory, as before: `link.key`,
`session.key` (router/links.py, web/auth/keys.py) and `feeds.json` (store/feeds.py). On a
shared store (PostgreSQL) they are the store's (engine/secrets.py, store/secrets.py), so an
acknowledge link mailed by one node, a login made on one and a feed URL listed on one hold
on every node behind the balancer. `settings.link_secret` and `settings.web.session_secret`
win over both wherever they are set (LinkPages and `session_key` read them).
"""

from __future__ import annotations

from pathlib import Path

import trio

from router.config.model import WebSettings
from router.engine import Engine
from router.errors import StoreError
from router.links import read_or_create_key
from router.server.api_access import FeedToken
from router.store.feeds import FeedTokens
from router.web.auth.keys import session_key

LINK = "link"
"""The link key's row in the store (shared_secrets.name)."""
SESSION = "session"
"""The web session key's row in the store."""


async def link_key(engine: Engine, state_dir: Path, *, shared: bool) -> bytes:
    """The key of the acknowledge links when `settings.link_secret` is not set.

    Raises:
        ValueError, OSError, StoreError: the key cannot be read or made.
    """
    if shared:
        return await engine.secrets.key(LINK)
    return await trio.to_thread.run_sync(read_or_create_key, state_dir)


async def web_session_key(engine: Engine, web: WebSettings, state_dir: Path, *,
                          shared: bool) -> bytes:
    """The web's session key: `settings.web.session_secret`'s when set, else the store's
    (shared) or the state directory's.

    Raises:
        ValueError, OSError, StoreError: the key cannot be read or made.
    """
    if shared and web.session_secret is None:
        return await engine.secrets.key(SESSION)
    return await trio.to_thread.run_sync(session_key, web, state_dir)


def feed_tokens(engine: Engine, state_dir: Path, *, shared: bool) -> FeedToken:
    """Each feed's token as the API's gate asks for it at each fetch: from `feeds.json`
    (read again when it changes), or from the store (one row per fetch, so a rotation on
    any node holds at the next fetch on every node). A store that fails opens no feed; the
    bearer token still works."""
    if not shared:
        tokens = FeedTokens(state_dir)

        async def from_file(feed: str) -> str | None:
            return tokens.token(feed)
        return from_file

    async def from_store(feed: str) -> str | None:
        try:
            return await engine.secrets.feed_token(feed)
        except StoreError:
            return None
    return from_store
