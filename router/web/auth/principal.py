"""Who a web request acts as (room: web; imports config.model, config.passwords,
server.api_access; pure but for scrypt's CPU, which callers run in a worker thread).

A logged-in user is the API's own `Principal` (server/api_access.py): their name and the
scopes their role grants through `IMPLIED`, so a page asks `principal.may("respond")`
exactly as the API's gate asks of a token, and a role means the same in both. What they do
is recorded in the timeline as `web:NAME`, beside the API's `api:` and the CLI's `cli:`.

Three ways in: a session cookie (sessions.py), a password checked at login, or a trusted
proxy's header, believed only from the proxy's own addresses and only for a declared user.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from router.config.model import TrustedProxy, User
from router.config.passwords import BLOCK_SIZE, COST, PARALLELISM, verify
from router.server.api_access import IMPLIED, Principal
from router.web.auth.sessions import Session

ACTOR_PREFIX = "web:"
NO_SUCH_USER_HASH = f"scrypt${COST}${BLOCK_SIZE}${PARALLELISM}${'A' * 22}${'A' * 43}"
"""Verified against when the name is unknown (or has no password), so that a login for a
user who does not exist takes as long as one with a wrong password: the time does not tell
an attacker which names exist. No password derives to all zero bytes."""


def principal_of(user: User | Session) -> Principal:
    """The principal of a declared user, or of a session's user (its role as signed)."""
    name = user.user if isinstance(user, Session) else user.name
    return Principal(name, IMPLIED[user.role])


def actor(principal: Principal) -> str:
    """How the timeline names what this principal did: `web:ann`."""
    return f"{ACTOR_PREFIX}{principal.name}"


def check_password(users: Mapping[str, User], name: str, password: str) -> User | None:
    """The user `name` if `password` is theirs; None otherwise, after the same work whether
    or not the name exists (CPU-bound: run it in a worker thread)."""
    user = users.get(name)
    stored = user.password_hash if user is not None and user.password_hash else NO_SUCH_USER_HASH
    matches = verify(password, stored)
    return user if matches and user is not None and user.password_hash else None


def proxy_user(proxy: TrustedProxy | None, users: Mapping[str, User], peer: str | None,
               headers: Mapping[str, str]) -> User | None:
    """The user a trusted proxy names in its header, if the request came from one of its
    addresses and the name is a declared user; else None (the login page then applies).

    Args:
        peer: the address the connection came from (not any forwarded address).
        headers: the request's headers, names lower-cased.
    """
    if proxy is None or peer is None or not _from_proxy(proxy, peer):
        return None
    name = headers.get(proxy.header.lower(), "").strip()
    return users.get(name) if name else None


def _from_proxy(proxy: TrustedProxy, peer: str) -> bool:
    try:
        address = ipaddress.ip_address(peer.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in proxy.sources)
