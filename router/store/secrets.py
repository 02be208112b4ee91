"""Secrets every node of a cluster must share, kept in the store (room: store; issue 18
item 3): the key of the acknowledge links in emails, the key of the web's session cookies,
and the calendar feeds' tokens.

On PostgreSQL several routers, each with its own state directory, take each other's
requests, so a link mailed by one node, a login made on one, or a feed URL listed on one must
hold on all of them. The keys live in the `shared_secrets` table: the first node that asks
for a key makes it, in one statement (`INSERT ... ON CONFLICT DO NOTHING`), and every node
then reads the one row that won, so two nodes starting at once end with one key. Feed tokens
are rows named `feed:rota:web`, `feed:person:ann`; a rotation rewrites them and every node
reads the token again at each fetch (one indexed row).

On SQLite (one host) nothing here is used: `shared` is False and the daemon keeps the files
in its state directory (`link.key`, `session.key`, `feeds.json`), which existing state
directories already hold. A key in the database is as secret as the database: who can read
the table is in docs/ha.md.
"""

from __future__ import annotations

import secrets
import sqlite3
import string
from collections.abc import Iterable
from pathlib import Path

from router.errors import StoreError
from router.store.dialect import POSTGRESQL, dialect
from router.store.feeds import FEEDS_FILE, read_feed_tokens

KEY_BYTES = 32
"""A link or session key's length (as router/links.py's files hold)."""
_TOKEN_BYTES = 24
"""A feed token's random bytes (as store/feeds.py makes them)."""
_FEED = "feed:"
_MAKE = "INSERT INTO shared_secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING"
_SET = ("INSERT INTO shared_secrets (name, value) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET value = excluded.value")
_GET = "SELECT value FROM shared_secrets WHERE name = ?"


def shared(connection: sqlite3.Connection) -> bool:
    """Whether the store is shared by several nodes (PostgreSQL), so secrets live in it."""
    return dialect(connection) == POSTGRESQL


def key(connection: sqlite3.Connection, name: str) -> bytes:
    """The key called `name` (`link`, `session`), made on first use: 32 random bytes. Two
    transactions making it at once both read the one that committed first (the loser's
    INSERT waits on the winner's row and then does nothing).

    Raises:
        ValueError: the row does not hold a 64-digit hex key (written by hand?).
    """
    connection.execute(_MAKE, (name, secrets.token_hex(KEY_BYTES)))
    text = connection.execute(_GET, (name,)).fetchone()[0]
    try:
        found = bytes.fromhex(text)
    except ValueError:
        found = b""
    if len(found) != KEY_BYTES:
        raise ValueError(f"the store's {name} key (table shared_secrets) does not hold "
                         f"{KEY_BYTES * 2} hex digits; delete its row to have a new one made")
    return found


def feed_token(connection: sqlite3.Connection, feed: str) -> str | None:
    """The token of `feed` (`rota:web`, `person:ann`); None if it has none."""
    row = connection.execute(_GET, (_FEED + feed,)).fetchone()
    return None if row is None else str(row[0])


def feed_tokens(connection: sqlite3.Connection) -> dict[str, str]:
    """Every feed's token, by feed."""
    rows = connection.execute("SELECT name, value FROM shared_secrets WHERE name LIKE ?",
                              (_FEED + "%",)).fetchall()
    return {str(row[0])[len(_FEED):]: str(row[1]) for row in rows}


def ensure_feed_tokens(connection: sqlite3.Connection, feeds: Iterable[str]) -> dict[str, str]:
    """Every feed's token, made for those of `feeds` that have none (others kept; two
    commands at once agree on one token)."""
    for feed in feeds:
        connection.execute(_MAKE, (_FEED + feed, secrets.token_urlsafe(_TOKEN_BYTES)))
    return feed_tokens(connection)


def rotate_feed_tokens(connection: sqlite3.Connection, feeds: Iterable[str]) -> dict[str, str]:
    """A new token for each feed in `feeds`: the old URLs stop working on every node."""
    for feed in feeds:
        connection.execute(_SET, (_FEED + feed, secrets.token_urlsafe(_TOKEN_BYTES)))
    return feed_tokens(connection)


KEY_FILES = {"link": "link.key", "session": "session.key"}
"""Each key's file in a SQLite host's state directory (router/links.py, web/auth/keys.py)."""


def adopt_files(connection: sqlite3.Connection, state_dir: Path) -> list[str]:
    """Copy a SQLite host's keys and feed tokens from `state_dir` into the table, for
    `router store migrate-to`: links already mailed, logins and feed URLs hold on the
    nodes. The names of the files copied; a file that is missing is skipped.

    Raises:
        StoreError: a file cannot be read or holds no key or tokens (nothing is written:
            the caller's transaction rolls back).
    """
    adopted = []
    for name, file in KEY_FILES.items():
        path = state_dir / file
        try:
            text = path.read_text(encoding="ascii", errors="replace").strip().lower()
        except FileNotFoundError:
            continue
        except OSError as error:
            raise StoreError(f"cannot read {path}: {error}") from None
        if len(text) != KEY_BYTES * 2 or not set(text) <= set(string.hexdigits):
            raise StoreError(f"{path} does not hold a key ({KEY_BYTES * 2} hex digits): "
                             "remove it, or fix it, and copy again")
        connection.execute(_SET, (name, text))
        adopted.append(file)
    try:
        tokens = read_feed_tokens(state_dir)
    except (OSError, ValueError) as error:
        raise StoreError(f"cannot copy {state_dir / FEEDS_FILE}: {error}") from None
    for feed, token in tokens.items():
        connection.execute(_SET, (_FEED + feed, token))
    return adopted + ([FEEDS_FILE] if tokens else [])


class SecretsReader:
    """The shared secrets as a Reader sees them (`reader.secrets`)."""

    __slots__ = ("_connection",)

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    @property
    def shared(self) -> bool:
        return shared(self._connection)

    def feed_token(self, feed: str) -> str | None:
        return feed_token(self._connection, feed)

    def feed_tokens(self) -> dict[str, str]:
        return feed_tokens(self._connection)


class SecretsWriter(SecretsReader):
    """`SecretsReader` and the writes (`transaction.secrets`)."""

    __slots__ = ()

    def key(self, name: str) -> bytes:
        return key(self._connection, name)

    def ensure_feed_tokens(self, feeds: Iterable[str]) -> dict[str, str]:
        return ensure_feed_tokens(self._connection, feeds)

    def rotate_feed_tokens(self, feeds: Iterable[str]) -> dict[str, str]:
        return rotate_feed_tokens(self._connection, feeds)
