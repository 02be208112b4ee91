"""The `users` section and `settings.web` (issue 22 item 3): built into the model, a plain
password or an inline session secret refused at its file:line:col without repeating it."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from pathlib import Path

import pytest

from router.config import load_config
from router.config.passwords import hash_password
from tests.config.support import problems, write

HASH = hash_password("correct horse", cost=2, salt=b"0123456789abcdef")


def test_users_and_web_settings_are_built_with_their_defaults(tmp_path: Path) -> None:
    write(tmp_path, "secret", "s" * 40)
    write(tmp_path, "users.yaml", f"""
        settings:
          web:
            session_secret: "${{file:secret}}"
            trusted_proxy: {{from: [10.0.0.5, "fd00::/64"]}}
        users:
          - {{name: ann, role: admin, password_hash: "{HASH}"}}
          - {{name: bob, role: read}}
    """)
    config = load_config([tmp_path])
    web = config.settings.web
    assert web.session_secret is not None and web.session_secret.reveal() == "s" * 40
    assert web.session_lifetime == timedelta(hours=12)
    assert web.trusted_proxy is not None
    assert web.trusted_proxy.header == "X-Forwarded-User"
    assert web.trusted_proxy.sources == (ipaddress.ip_network("10.0.0.5"),
                                         ipaddress.ip_network("fd00::/64"))
    ann, bob = config.users["ann"], config.users["bob"]
    assert (ann.role, ann.password_hash, ann.where.line) == ("admin", HASH, 6)
    assert (bob.role, bob.password_hash) == ("read", None)
    assert config.warnings == ()
    assert config.summary().endswith("0 suppressions, 2 users from 1 file")


def test_no_web_settings_gives_the_defaults(tmp_path: Path) -> None:
    write(tmp_path, "people.yaml", "people: []\n")
    config = load_config([tmp_path])
    assert (config.settings.web.session_secret, config.settings.web.trusted_proxy) == (
        None, None)
    assert config.users == {}


def test_a_plain_password_is_an_error_at_its_line_that_does_not_repeat_it(
        tmp_path: Path) -> None:
    path = write(tmp_path, "users.yaml", """
        users:
          - name: ann
            role: admin
            password_hash: hunter2hunter2
    """)
    found = problems([tmp_path])
    assert found == [
        f"{path}:4:20: users[0].password_hash: expected a hash printed by `router passwd` "
        "(scrypt$N$r$p$SALT$HASH); a plain password must never be written in the config"]
    assert "hunter2" not in "".join(found)


@pytest.mark.parametrize(("text", "message"), [
    ("scrypt$1000$8$1$MDEyMzQ1Njc4OWFiY2RlZg$MDEyMzQ1Njc4OWFiY2RlZg",
     "scrypt's N must be a power of 2 from 2 to 1048576, got 1000"),
    ("scrypt$2097152$8$1$MDEyMzQ1Njc4OWFiY2RlZg$MDEyMzQ1Njc4OWFiY2RlZg",
     "scrypt's N must be a power of 2 from 2 to 1048576, got 2097152"),
    ("scrypt$1024$64$1$MDEyMzQ1Njc4OWFiY2RlZg$MDEyMzQ1Njc4OWFiY2RlZg",
     "scrypt's r must be 1 to 32 and p 1 to 16, got r=64 p=1"),
    ("scrypt$1024$8$1$MDEyMzQ1Njc4OWFiY2RlZ$MDEyMzQ1Njc4OWFiY2RlZg",
     "expected a hash printed by `router passwd` (scrypt$N$r$p$SALT$HASH): its salt or "
     "hash is not base64"),
])
def test_a_hash_out_of_bounds_is_an_error(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, "users.yaml", f"users:\n  - {{name: ann, role: read, "
                                         f"password_hash: '{text}'}}\n")
    assert problems([tmp_path]) == [f"{path}:2:44: users[0].password_hash: {message}"]


def test_shape_problems_are_reported_all_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, "users.yaml", f"""
        users:
          - {{name: ann, role: root, password_hash: "{HASH}"}}
          - {{name: ann, role: read, password_hash: "{HASH}"}}
          - {{role: read}}
    """)
    assert problems([tmp_path]) == [
        f"{path}:2:23: users[0].role: expected read, respond or admin, got 'root'",
        f"{path}:4:5: users[2]: missing required key 'name'",
    ]


def test_a_user_name_declared_twice_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "users.yaml", f"""
        users:
          - {{name: ann, role: read, password_hash: "{HASH}"}}
          - {{name: ann, role: admin, password_hash: "{HASH}"}}
    """)
    assert problems([tmp_path]) == [
        f"{path}:3:5: users[1]: user name 'ann' is defined twice: here and at {path}:2:5"]


def test_a_session_secret_written_inline_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "settings.yaml", """
        settings:
          web: {session_secret: not-a-reference, session_lifetime: 0s}
    """)
    found = problems([tmp_path])
    assert found == [
        f"{path}:2:25: settings.web.session_secret: write the session secret as "
        "${file:PATH} or ${env:NAME}, not in the config itself (or leave it out: the daemon "
        "then keeps one in its state directory)",
        f"{path}:2:60: settings.web.session_lifetime: expected a duration longer than zero, "
        "got '0s'",
    ]


def test_a_short_session_secret_is_an_error_that_does_not_show_it(tmp_path: Path) -> None:
    path = write(tmp_path, "settings.yaml", "settings:\n  web: {session_secret: '${env:WEB}'}\n")
    assert problems([tmp_path], environ={"WEB": "tooshort"}) == [
        f"{path}:2:25: settings.web.session_secret: a session secret must be at least 32 "
        "characters (it signs every login; try `openssl rand -hex 32` in a file read with "
        "${file:...})"]
    assert problems([tmp_path], environ={"WEB": ""}) != []


def test_a_session_secret_reference_passes_validate_without_secrets(tmp_path: Path) -> None:
    write(tmp_path, "settings.yaml", "settings:\n  web: {session_secret: '${env:ROUTER_WEB}'}\n")
    assert problems([tmp_path], resolve_secrets=False) == []
    assert problems([tmp_path], environ={"ROUTER_WEB": "x" * 32}) == []


def test_trusted_proxy_addresses_are_checked(tmp_path: Path) -> None:
    path = write(tmp_path, "settings.yaml", """
        settings:
          web:
            trusted_proxy: {header: X-Remote-User, from: [10.0.0.0/33, 10.0.0.1/24]}
        users:
          - {name: ann, role: read}
    """)
    expected = "expected an address or network such as 10.0.0.5 or 10.0.0.0/24 (host bits zero)"
    assert problems([tmp_path]) == [
        f"{path}:3:51: settings.web.trusted_proxy.from[0]: {expected}, got '10.0.0.0/33'",
        f"{path}:3:64: settings.web.trusted_proxy.from[1]: {expected}, got '10.0.0.1/24'",
    ]


def test_who_could_never_log_in_is_warned_about(tmp_path: Path) -> None:
    path = write(tmp_path, "users.yaml", "users:\n  - {name: bob, role: respond}\n")
    assert problems([tmp_path]) == [
        f"{path}:2:5: warning: users[0].password_hash: user 'bob' has no password_hash and "
        "there is no settings.web.trusted_proxy, so they cannot log in (make one with "
        "`router passwd`)"]
    write(tmp_path, "users.yaml", "settings:\n  web: {trusted_proxy: {from: [10.0.0.5]}}\n")
    assert [problem.split(": ", 1)[1] for problem in problems([tmp_path])] == [
        "warning: settings.web.trusted_proxy: a trusted proxy names users, but no `users:` "
        "are declared"]


@pytest.mark.parametrize("network", ["0.0.0.0/0", "::/0"])
def test_a_trusted_proxy_open_to_every_address_is_warned_about(tmp_path: Path,
                                                               network: str) -> None:
    """Every client could name any user in the header and be logged in as them."""
    path = write(tmp_path, "settings.yaml", f"""
        settings:
          web:
            trusted_proxy: {{from: [10.0.0.5, "{network}"]}}
        users:
          - {{name: ann, role: read}}
    """)
    assert problems([tmp_path]) == [
        f"{path}:3:38: warning: settings.web.trusted_proxy.from[1]: {network} is every "
        "address: any client that reaches router can send X-Forwarded-User and be logged in "
        "as any user; list only the proxy's own addresses"]
