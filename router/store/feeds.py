"""The calendar feeds' secret tokens, in the state directory (room: store; the standard
library only).

Calendar apps (Google Calendar, Outlook, Thunderbird) subscribe to a URL and can send no
bearer token, so each rota's and each person's iCal feed has a secret of its own in its URL:
`feeds.json`, 0600 beside the admin token, maps a feed (`rota:web`, `person:ann`) to its
token. It grants that one feed and nothing else, so a leaked URL (proxy logs, a calendar's
sync settings) shows one calendar, and rotating its token revokes it alone.

`router oncall feeds` makes the missing ones and lists the URLs; `router oncall feeds rotate`
replaces tokens. The daemon reads the file again whenever it changes on disk, so a rotation
takes effect at the next fetch without a reload. Written under a temporary name and renamed
into place: a reader never sees half a file.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path

from router.store.files import FILE_MODE

FEEDS_FILE = "feeds.json"
_TOKEN_BYTES = 24


def read_feed_tokens(directory: Path) -> dict[str, str]:
    """Feed -> token; empty when the file does not exist yet.

    Raises:
        OSError: the file cannot be read.
        ValueError: the file is not the JSON object this module writes.
    """
    try:
        text = (directory / FEEDS_FILE).read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    found = json.loads(text)
    if not isinstance(found, dict) or not all(
            isinstance(key, str) and isinstance(value, str) for key, value in found.items()):
        raise ValueError(f"{directory / FEEDS_FILE} is not a JSON object of feed tokens")
    return found


def ensure_feed_tokens(directory: Path, feeds: Iterable[str]) -> dict[str, str]:
    """The token of each feed in `feeds`, made for those that have none (others kept)."""
    tokens = read_feed_tokens(directory)
    missing = [feed for feed in feeds if feed not in tokens]
    if missing:
        tokens.update({feed: secrets.token_urlsafe(_TOKEN_BYTES) for feed in missing})
        _write(directory, tokens)
    return tokens


def rotate_feed_tokens(directory: Path, feeds: Iterable[str]) -> dict[str, str]:
    """A new token for each feed in `feeds`: the old URLs stop working at once."""
    tokens = read_feed_tokens(directory)
    tokens.update({feed: secrets.token_urlsafe(_TOKEN_BYTES) for feed in feeds})
    _write(directory, tokens)
    return tokens


def _write(directory: Path, tokens: Mapping[str, str]) -> None:
    temporary = directory / f".{FEEDS_FILE}.{os.getpid()}"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        json.dump(dict(sorted(tokens.items())), file, indent=2)
        file.write("\n")
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, directory / FEEDS_FILE)


class FeedTokens:
    """The daemon's view of `feeds.json`: read again when its modification time or size
    changes, so `router oncall feeds rotate` needs no reload."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / FEEDS_FILE
        self._seen: tuple[int, int] | None = None
        self._tokens: dict[str, str] = {}

    def token(self, feed: str) -> str | None:
        """The token of `feed` (`rota:web`, `person:ann`); None if it has none (or the file
        cannot be read: a feed token then opens nothing, the bearer token still works)."""
        try:
            status = self.path.stat()
            seen = (status.st_mtime_ns, status.st_size)
            if seen != self._seen:
                self._tokens, self._seen = read_feed_tokens(self.path.parent), seen
        except FileNotFoundError:
            self._tokens, self._seen = {}, None
        except (OSError, ValueError):
            return None
        return self._tokens.get(feed)
