"""web/auth/principal.py (issue 22 item 3): a web user is the API's Principal with the
scopes their role implies; a login checks the password with the same work whether or not
the user exists; a trusted proxy's header counts only from its addresses, for declared
users."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta

import pytest

from router.config.model import TrustedProxy, User
from router.config.passwords import hash_password, parse_hash
from router.server.api_access import Principal
from router.web.auth import principal as web_principal
from router.web.auth import sessions
from router.web.auth.principal import actor, check_password, principal_of, proxy_user

HASH = hash_password("correct horse", cost=16)
USERS = {"ann": User(name="ann", role="admin", password_hash=HASH),
         "rob": User(name="rob", role="read", password_hash=HASH),
         "pat": User(name="pat", role="respond")}  # through the proxy only
PROXY = TrustedProxy(sources=(ipaddress.ip_network("10.0.0.5"),
                              ipaddress.ip_network("fd00::/64")))


@pytest.mark.parametrize(("role", "may", "may_not"), [
    ("read", {"read"}, {"respond", "admin", "ingest"}),
    ("respond", {"read", "respond"}, {"admin", "ingest"}),
    ("admin", {"read", "respond", "admin"}, {"ingest"}),
])
def test_a_role_grants_what_the_api_s_scope_grants(role: str, may: set[str],
                                                   may_not: set[str]) -> None:
    principal = principal_of(User(name="ann", role=role))
    assert isinstance(principal, Principal) and principal.name == "ann"
    assert {scope for scope in may | may_not if principal.may(scope)} == may


def test_a_session_s_principal_and_its_timeline_actor() -> None:
    now = datetime(2026, 12, 5, tzinfo=UTC)
    session, _ = sessions.issue(b"k" * 32, USERS["rob"], now, timedelta(hours=1))
    principal = principal_of(session)
    assert (principal.name, principal.may("respond"), principal.may("read")) == (
        "rob", False, True)
    assert actor(principal) == "web:rob"


def test_a_login_needs_the_user_s_own_password() -> None:
    assert check_password(USERS, "ann", "correct horse") == USERS["ann"]
    assert check_password(USERS, "ann", "correct horsE") is None
    assert check_password(USERS, "nobody", "correct horse") is None
    assert check_password(USERS, "pat", "") is None  # no password: the proxy's only


def test_an_unknown_user_costs_the_same_scrypt_work() -> None:
    parsed = parse_hash(web_principal.NO_SUCH_USER_HASH)
    assert (parsed.cost, parsed.block_size, parsed.parallelism, len(parsed.digest)) == (
        32768, 8, 1, 32)


@pytest.mark.parametrize(("peer", "headers", "expected"), [
    ("10.0.0.5", {"x-forwarded-user": "ann"}, "ann"),
    ("::ffff:10.0.0.5", {"x-forwarded-user": "pat"}, "pat"),
    ("fd00::17", {"x-forwarded-user": " rob "}, "rob"),
    ("10.0.0.6", {"x-forwarded-user": "ann"}, None),        # not the proxy
    ("127.0.0.1", {"x-forwarded-user": "ann"}, None),
    (None, {"x-forwarded-user": "ann"}, None),              # the unix socket
    ("10.0.0.5", {"x-forwarded-user": "mallory"}, None),    # not a declared user
    ("10.0.0.5", {"x-forwarded-user": "ann, rob"}, None),   # the header sent twice
    ("10.0.0.5", {}, None),
    ("not an address", {"x-forwarded-user": "ann"}, None),
])
def test_a_trusted_proxy_s_header(peer: str | None, headers: dict[str, str],
                                  expected: str | None) -> None:
    found = proxy_user(PROXY, USERS, peer, headers)
    assert (found.name if found else None) == expected


def test_no_proxy_configured_trusts_no_header() -> None:
    assert proxy_user(None, USERS, "10.0.0.5", {"x-forwarded-user": "ann"}) is None
    other = TrustedProxy(header="X-Remote-User", sources=PROXY.sources)
    assert proxy_user(other, USERS, "10.0.0.5", {"x-forwarded-user": "ann"}) is None
    assert proxy_user(other, USERS, "10.0.0.5", {"x-remote-user": "ann"}) == USERS["ann"]
