"""Session cookies for the web interface (room: web; pure: imports config.model).

A login gives the browser one cookie whose value carries its own authority, so the daemon
keeps no session table: the user's name and role, when it was issued, when it expires and a
random id (which the CSRF token is made from), then an HMAC-SHA256 over all of them under
the session key (keys.py):

    router_session=<base64url of the fields>.<base64url of the signature, 43 characters>

`read` refuses a value whose signature does not hold (tampered, or signed under another
key: changing the secret logs everyone out), one past its expiry or past the lifetime the
config now gives (shortening `session_lifetime` takes effect at once), and one whose user
the config no longer declares or declares with another role. Time is a parameter.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from router.config.model import User

COOKIE_NAME = "router_session"
_CONTEXT = b"router-session-v1"
"""Domain separation from the link key's signatures, and a version for the format."""
_ID_BYTES = 16
_FIELDS = 5  # name, role, issued, expires, id
_SIGNATURE_CHARACTERS = 43  # base64url of 32 bytes, unpadded
MAX_VALUE_CHARACTERS = 512
"""A longer cookie was not made here: refused before any decoding work."""


class SessionRefused(Exception):
    """A cookie that does not make a session; `reason` is for the log, not the page (which
    just asks to log in again)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True, kw_only=True)
class Session:
    """A logged-in user's session, as its cookie carries it."""

    user: str
    role: str
    issued: datetime
    expires: datetime
    id: str


def issue(key: bytes, user: User, now: datetime, lifetime: timedelta) -> tuple[Session, str]:
    """A new session for `user` from `now`, and the cookie value that carries it."""
    issued = now.astimezone(UTC).replace(microsecond=0)
    session = Session(user=user.name, role=user.role, issued=issued,
                      expires=issued + lifetime, id=secrets.token_urlsafe(_ID_BYTES))
    return session, encode(key, session)


def encode(key: bytes, session: Session) -> str:
    fields = (session.user, session.role, str(int(session.issued.timestamp())),
              str(int(session.expires.timestamp())), session.id)
    payload = "\n".join(fields).encode("utf-8")
    return f"{b64(payload)}.{b64(_sign(key, payload))}"


def read(key: bytes, value: str, now: datetime, users: Mapping[str, User],
         lifetime: timedelta) -> Session:
    """The session `value` carries, if it still holds.

    Raises:
        SessionRefused: tampered with or signed under another key, expired, or for a user
            the config no longer has with that role.
    """
    session = _decode(key, value)
    if now >= min(session.expires, session.issued + lifetime):
        raise SessionRefused(f"the session of {session.user!r} expired")
    user = users.get(session.user)
    if user is None:
        raise SessionRefused(f"no user {session.user!r} in the config any more")
    if user.role != session.role:
        raise SessionRefused(f"the role of {session.user!r} changed from {session.role!r} "
                             f"to {user.role!r}")
    return session


def _decode(key: bytes, value: str) -> Session:
    payload_text, _, signature = value.partition(".")
    if len(value) > MAX_VALUE_CHARACTERS or len(signature) != _SIGNATURE_CHARACTERS:
        raise SessionRefused("not a session cookie")
    try:
        payload, given = unb64(payload_text), unb64(signature)
    except (binascii.Error, ValueError):
        raise SessionRefused("not a session cookie") from None
    if not hmac.compare_digest(_sign(key, payload), given):
        raise SessionRefused("the signature does not hold (tampered with, or another key)")
    fields = payload.decode("utf-8").split("\n")  # signed by us: well formed
    if len(fields) != _FIELDS:
        raise SessionRefused("not a session cookie")
    name, role, issued, expires, session_id = fields
    return Session(user=name, role=role, issued=datetime.fromtimestamp(int(issued), UTC),
                   expires=datetime.fromtimestamp(int(expires), UTC), id=session_id)


def secure_cookies(served_over_tls: bool, public_url: str) -> bool:
    """Whether cookies are marked Secure: when router serves TLS itself, or when people
    reach it over https (`public_url`) through a proxy that terminates TLS, where router
    cannot see the scheme its clients used."""
    return served_over_tls or public_url.strip().lower().startswith("https://")


def set_cookie(value: str, *, now: datetime, expires: datetime, secure: bool) -> str:
    """The `Set-Cookie` header value for a session: never readable by scripts, never sent
    with a request another site starts, sent to every path, and only over TLS when served
    over TLS (a cookie marked Secure is dropped by browsers over plain HTTP)."""
    seconds = max(0, int((expires - now).total_seconds()))
    return cookie_header(COOKIE_NAME, value, seconds, secure=secure)


def clear_cookie(*, secure: bool) -> str:
    """The `Set-Cookie` header value that logs out: an empty value that expires at once."""
    return cookie_header(COOKIE_NAME, "", 0, secure=secure)


def cookie_header(name: str, value: str, max_age: int, *, secure: bool) -> str:
    """A `Set-Cookie` value with the attributes every cookie of the web interface has
    (this one, and access.py's flash message)."""
    attributes = [f"{name}={value}", "HttpOnly", "SameSite=Strict", "Path=/",
                  f"Max-Age={max_age}"]
    if secure:
        attributes.append("Secure")
    return "; ".join(attributes)


def _sign(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, _CONTEXT + b"\n" + payload, hashlib.sha256).digest()


def b64(data: bytes) -> str:
    """Unpadded base64url, as the web's signed cookies carry their parts."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    """The bytes of `b64`'s text. Raises ValueError (or binascii.Error) for anything else."""
    if not text.isascii():
        raise ValueError("not ASCII")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
