"""The key that signs the web's session cookies (room: web; imports config.model, links).

`settings.web.session_secret` when the config sets one (several daemons behind one URL then
accept each other's sessions); otherwise `session.key` in the state directory, made once by
the same code as the link key (32 random bytes as hex, mode 0600, linked into place), so a
restart does not log everyone out. This is the module's only I/O: the daemon runs it in a
worker thread at start and on reload.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from router.config.model import WebSettings
from router.links import read_or_create_key

KEY_NAME = "session.key"
"""The key's file in the state directory when `settings.web.session_secret` is not set."""


def session_key(web: WebSettings, state_dir: Path) -> bytes:
    """The session key: the configured secret's SHA-256 (any length of text gives a
    32-byte key), else the state directory's key, made on first use.

    Raises:
        ValueError: `session.key` exists but does not hold a 64-digit hex key.
        OSError: it cannot be read or written.
    """
    if web.session_secret is not None:
        return hashlib.sha256(web.session_secret.reveal().encode("utf-8")).digest()
    return read_or_create_key(state_dir, KEY_NAME, kind="session key",
                              lost="everyone logged in must log in again")
