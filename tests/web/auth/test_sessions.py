"""web/auth/sessions.py and keys.py (issue 22 item 3): a signed cookie that refuses
tampering, expiry (by the clock passed in), another key, and a user removed or given another
role; its attributes; the key kept in the state directory with mode 0600."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from router.config.model import Secret, User, WebSettings
from router.web.auth import keys, sessions
from router.web.auth.sessions import SessionRefused

KEY = b"k" * 32
NOW = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
LIFETIME = timedelta(hours=12)
ANN = User(name="ann", role="respond")
USERS = {"ann": ANN}


def refusal(value: str, *, key: bytes = KEY, now: datetime = NOW,
            users: dict[str, User] = USERS, lifetime: timedelta = LIFETIME) -> str:
    with pytest.raises(SessionRefused) as caught:
        sessions.read(key, value, now, users, lifetime)
    return caught.value.reason


def test_a_session_reads_back_until_it_expires() -> None:
    session, value = sessions.issue(KEY, ANN, NOW, LIFETIME)
    assert (session.user, session.role, session.issued, session.expires) == (
        "ann", "respond", NOW, NOW + LIFETIME)
    assert len(session.id) >= 22
    later = NOW + LIFETIME - timedelta(seconds=1)
    assert sessions.read(KEY, value, later, USERS, LIFETIME) == session
    assert refusal(value, now=NOW + LIFETIME) == "the session of 'ann' expired"


def test_a_shorter_lifetime_in_the_config_ends_older_sessions_at_once() -> None:
    _, value = sessions.issue(KEY, ANN, NOW, LIFETIME)
    assert refusal(value, now=NOW + timedelta(hours=2), lifetime=timedelta(hours=1)) == (
        "the session of 'ann' expired")


def test_each_session_has_its_own_id() -> None:
    assert sessions.issue(KEY, ANN, NOW, LIFETIME)[0].id != \
        sessions.issue(KEY, ANN, NOW, LIFETIME)[0].id


@pytest.mark.parametrize("change", ["role", "user", "expiry", "signature"])
def test_a_tampered_cookie_is_refused(change: str) -> None:
    session, value = sessions.issue(KEY, ANN, NOW, LIFETIME)
    forged = {
        "role": {"role": "admin"}, "user": {"user": "bob"},
        "expiry": {"expires": NOW + timedelta(days=365)}, "signature": {},
    }[change]
    other = sessions.encode(b"x" * 32, type(session)(**{
        "user": session.user, "role": session.role, "issued": session.issued,
        "expires": session.expires, "id": session.id, **forged}))
    tampered = value.split(".")[0] + "." + other.split(".")[1] if change == "signature" \
        else other.split(".")[0] + "." + value.split(".")[1]
    users = {**USERS, "bob": User(name="bob", role="respond")}
    assert refusal(tampered, users=users) == (
        "the signature does not hold (tampered with, or another key)")


def test_a_changed_secret_refuses_every_session() -> None:
    _, value = sessions.issue(KEY, ANN, NOW, LIFETIME)
    assert refusal(value, key=b"K" * 32) == (
        "the signature does not hold (tampered with, or another key)")


def test_a_user_removed_or_given_another_role_is_refused() -> None:
    _, value = sessions.issue(KEY, ANN, NOW, LIFETIME)
    assert refusal(value, users={}) == "no user 'ann' in the config any more"
    assert refusal(value, users={"ann": User(name="ann", role="admin")}) == (
        "the role of 'ann' changed from 'respond' to 'admin'")


@pytest.mark.parametrize("value", ["", ".", "x" * 600, "abc.def", "é" * 10 + "." + "a" * 43,
                                   "!!!." + "a" * 43, "a." + "a" * 43])
def test_garbage_is_refused_as_not_a_cookie_or_unsigned(value: str) -> None:
    assert refusal(value) in ("not a session cookie",
                              "the signature does not hold (tampered with, or another key)")


def test_the_cookie_attributes() -> None:
    _, value = sessions.issue(KEY, ANN, NOW, LIFETIME)
    assert sessions.set_cookie(value, now=NOW, expires=NOW + LIFETIME, secure=False) == (
        f"router_session={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200")
    assert sessions.set_cookie(value, now=NOW, expires=NOW + LIFETIME, secure=True).endswith(
        "; Max-Age=43200; Secure")
    assert sessions.clear_cookie(secure=True) == (
        "router_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0; Secure")


def test_the_flash_cookie_is_made_by_the_same_code() -> None:
    """web/access.py's flash message cookie gets its attributes and its base64 from here,
    not from a copy of them: the two cookies cannot drift apart."""
    assert sessions.cookie_header("router_flash", "x.y", 60, secure=True) == (
        "router_flash=x.y; HttpOnly; SameSite=Strict; Path=/; Max-Age=60; Secure")
    assert sessions.unb64(sessions.b64(b"\xff\x00ok")) == b"\xff\x00ok"
    with pytest.raises(ValueError, match="not ASCII"):
        sessions.unb64("\u00e9")


def test_cookies_are_secure_over_tls_or_behind_an_https_proxy() -> None:
    assert sessions.secure_cookies(True, "http://127.0.0.1:9080")
    assert sessions.secure_cookies(False, "HTTPS://router.example.com")
    assert not sessions.secure_cookies(False, "http://router.internal:9080")


def test_the_key_is_made_once_with_mode_0600_and_kept(tmp_path: Path) -> None:
    first = keys.session_key(WebSettings(), tmp_path)
    path = tmp_path / "session.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) == 32
    assert keys.session_key(WebSettings(), tmp_path) == first  # a restart keeps sessions
    assert not (tmp_path / "link.key").exists()


def test_a_broken_key_file_says_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "session.key").write_text("short\n")
    with pytest.raises(ValueError) as caught:
        keys.session_key(WebSettings(), tmp_path)
    assert str(caught.value) == (
        f"{tmp_path / 'session.key'} does not hold a session key (64 hex digits); remove it "
        "to have a new one made (everyone logged in must log in again)")


def test_a_configured_secret_is_the_key_and_no_file_is_made(tmp_path: Path) -> None:
    web = WebSettings(session_secret=Secret("a secret of any length", "${env:X}"))
    key = keys.session_key(web, tmp_path)
    assert len(key) == 32 and key == keys.session_key(web, tmp_path / "elsewhere")
    assert list(tmp_path.iterdir()) == []
