"""Secrets the nodes of a shared store hold in common (room: engine; imports state, store;
issue 18 item 3): the acknowledge links' key, the web's session key and the calendar feeds'
tokens, kept in the store on PostgreSQL (store/secrets.py) so every node signs and checks
with the same ones. On SQLite `shared` is False and the daemon keeps its state directory's
files (daemon/shared_keys.py); nothing here is asked then.
"""

from __future__ import annotations

from collections.abc import Sequence

from router.engine.state import EngineState
from router.store import Transaction


class Secrets:
    """The store's shared keys and feed tokens, for the daemon and `router oncall feeds`."""

    def __init__(self, state: EngineState) -> None:
        self.state = state

    async def shared(self) -> bool:
        """Whether the store is shared by several nodes (PostgreSQL)."""
        return await self.state.store.read(lambda reader: reader.secrets.shared)

    async def key(self, name: str) -> bytes:
        """The store's key `name` (`link`, `session`), made by the first node that asks.

        Raises:
            ValueError: its row does not hold a key.
            StoreError: the store failed.
        """
        return await self.state.store.write(lambda transaction: transaction.secrets.key(name))

    async def feed_token(self, feed: str) -> str | None:
        """The token of `feed` (`rota:web`), read anew: a rotation holds at once."""
        return await self.state.store.read(lambda reader: reader.secrets.feed_token(feed))

    async def feed_tokens(self, feeds: Sequence[str], *, rotate: bool) -> dict[str, str]:
        """Every feed's token after making those of `feeds` that have none, or after
        giving each of `feeds` a new one (`rotate`), in one transaction."""
        def unit(transaction: Transaction) -> dict[str, str]:
            if rotate:
                return transaction.secrets.rotate_feed_tokens(feeds)
            return transaction.secrets.ensure_feed_tokens(feeds)
        return await self.state.store.write(unit)
