"""Signed, expiring links that act on an incident without a login, and the plain link to an
incident's page (room: links; imports the standard library only).

An acknowledge link in an email must work from a phone with no token, yet nobody who merely
guesses an incident number may use it. So the link carries its own authority: an expiry
instant and an HMAC-SHA256, under a key only the daemon holds, over the action, the incident
id and that instant:

    {public_url}/v1/incidents/INC3/acknowledge-link?expires=1795435200&signature=<43 chars>

The signature is base64url without padding (URL-safe, 43 characters for 32 bytes). Changing
any of the three signed parts, or using the link after `expires`, makes `check` refuse it.
Signing the action means a link to acknowledge can never be replayed to resolve.

The key is `settings.link_secret` when the config sets one (several daemons behind one URL
then accept each other's links); otherwise `link.key` in the state directory: 32 random bytes
written once, as hex, with mode 0600, so links survive restarts. `read_or_create_key` is this
module's only I/O (the daemon runs it in a worker thread); everything else is pure.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlencode

KEY_NAME = "link.key"
"""The key's file in the state directory when `settings.link_secret` is not set."""
KEY_BYTES = 32
ACKNOWLEDGE = "acknowledge"
_CONTEXT = b"router-link-v1"
"""Domain separation: the key signs nothing else, but a version word lets the format change."""
_SIGNATURE_CHARACTERS = 43  # base64url of 32 bytes, unpadded


class LinkRefused(Exception):
    """A link that does not hold: `reason` is safe to show to whoever presented it.

    `expired` tells a genuine but stale link (the page can say "ask for a new one") from one
    that was never signed by this daemon.
    """

    def __init__(self, reason: str, *, expired: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.expired = expired


def sign(key: bytes, action: str, incident_id: str, expires: int) -> str:
    """The signature of (action, incident id, expiry in unix seconds) under `key`."""
    message = b"\n".join((_CONTEXT, action.encode(), incident_id.encode(), str(expires).encode()))
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def make_link(key: bytes, public_url: str, incident_id: str, expires_at: datetime, *,
              action: str = ACKNOWLEDGE) -> str:
    """The full URL of a signed link; `expires_at` is cut to whole seconds."""
    expires = int(expires_at.timestamp())
    query = urlencode({"expires": expires,
                       "signature": sign(key, action, incident_id, expires)})
    return (f"{public_url.rstrip('/')}/v1/incidents/{quote(incident_id, safe='')}/"
            f"{action}-link?{query}")


def incident_page(public_url: str, incident_id: str) -> str:
    """The incident's page in the web interface: where Slack's "View Details" button, the
    email's "Incident:" line and every other notification's link take a person."""
    return f"{public_url.rstrip('/')}/ui/incidents/{quote(incident_id, safe='')}"


def check(key: bytes, incident_id: str, expires: str | None, signature: str | None,
          now: datetime, *, action: str = ACKNOWLEDGE) -> datetime:
    """The link's expiry instant if the link holds at `now`.

    The signature is checked before the expiry, in constant time, so a forged link learns
    nothing about which part was wrong.

    Raises:
        LinkRefused: a part is missing or malformed, the signature does not match, or the
            link expired (`expired=True`).
    """
    if not expires or not signature:
        raise LinkRefused("the link is incomplete: it needs both expires and signature "
                          "(was it cut when copied?)")
    if not expires.isascii() or not expires.isdigit() or len(expires) > 12:
        raise LinkRefused("the link's expiry is not a number of seconds")
    if len(signature) != _SIGNATURE_CHARACTERS or not signature.isascii():
        raise LinkRefused("the link's signature is malformed (was it cut when copied?)")
    expected = sign(key, action, incident_id, int(expires))
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise LinkRefused("the link's signature does not match: it was altered, or signed "
                          "with another key")
    expiry = datetime.fromtimestamp(int(expires), UTC)
    if now >= expiry:
        raise LinkRefused(f"the link expired at {expiry:%Y-%m-%d %H:%M} UTC", expired=True)
    return expiry


def key_from_secret(secret: str) -> bytes:
    """The key for a configured `settings.link_secret` (its UTF-8 bytes)."""
    return secret.encode()


def read_or_create_key(state_dir: Path, name: str = KEY_NAME, *, kind: str = "link key",
                       lost: str = "links already sent stop working") -> bytes:
    """The key kept in `state_dir/link.key` (or `name`: the web's sessions keep theirs the
    same way), created (32 random bytes as hex, mode 0600) on first use. Created under a
    temporary name and linked into place, so a reader never sees half a key and two daemons
    starting at once agree on one. `kind` and `lost` word the error for a broken file.

    Raises:
        ValueError: the file exists but does not hold a 64-digit hex key.
        OSError: the file cannot be read or written.
    """
    path = state_dir / name
    try:
        return _read_key(path, kind, lost)
    except FileNotFoundError:
        pass
    temporary = state_dir / f".{name}.{os.getpid()}"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(os.urandom(KEY_BYTES).hex() + "\n")
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileExistsError):  # another process won: use its key
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return _read_key(path, kind, lost)


def _read_key(path: Path, kind: str, lost: str) -> bytes:
    text = path.read_text(encoding="ascii", errors="replace").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise ValueError(f"{path} does not hold a {kind} ({KEY_BYTES * 2} hex digits); "
                         f"remove it to have a new one made ({lost})")
    return key
