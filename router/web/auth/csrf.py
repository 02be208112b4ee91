"""CSRF tokens for the web interface's forms (room: web; pure: the standard library only).

Every form a logged-in page renders carries a hidden `csrf_token`, and every form POST is
refused unless it sends back the token of its own session: an HMAC-SHA256 of the session's
random id under the session key. Nothing is stored, a token dies with its session (logging
out or in again makes a new id), and another site, which can make a browser post but not
read the page, cannot know it. SameSite=Strict cookies and the server's Origin check
(server/api_access.py) already stop most forged posts; the token also covers browsers that
ignore SameSite. htmx sends the same token in the `X-CSRF-Token` header.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

FIELD = "csrf_token"
"""The hidden form field that carries the token."""
HEADER = "x-csrf-token"
"""The request header that may carry it instead (htmx's requests), lower-cased."""
_CONTEXT = b"router-csrf-v1\n"
"""Domain separation: a session's CSRF token is never a valid signature of anything else."""


def token(key: bytes, session_id: str) -> str:
    """The CSRF token of the session with `session_id` (43 base64url characters)."""
    digest = hmac.new(key, _CONTEXT + session_id.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def holds(key: bytes, session_id: str, given: str | None) -> bool:
    """Whether `given` (the form field or header, None when absent) is the session's token,
    compared in constant time (bytes, so a non-ASCII guess is just wrong, not an error)."""
    return matches(token(key, session_id), given)


def matches(expected: str, given: str | None) -> bool:
    """Whether `given` is the token `expected` (a viewer's own, made by `token`), in
    constant time; an empty `expected` matches nothing."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode("ascii"),
                               given.encode("utf-8", "surrogateescape"))
