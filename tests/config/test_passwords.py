"""config/passwords.py: the `password_hash` format `router passwd` writes and logins check."""

from __future__ import annotations

import re

import pytest

from router.config.passwords import COST, hash_password, parse_hash, verify


def test_a_hash_describes_itself_and_verifies_only_its_password() -> None:
    text = hash_password("correct horse", cost=16)
    assert re.fullmatch(r"scrypt\$16\$8\$1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}", text)
    assert verify("correct horse", text)
    assert not verify("correct horsf", text)
    assert not verify("", text)


def test_the_default_cost_is_scrypts_advised_one() -> None:
    assert COST == 2**15
    assert hash_password("x").startswith("scrypt$32768$8$1$")


def test_each_hash_has_its_own_salt() -> None:
    assert hash_password("same", cost=4) != hash_password("same", cost=4)


def test_the_same_salt_gives_the_same_hash_and_parses_back() -> None:
    text = hash_password("pw", cost=4, salt=b"0123456789abcdef")
    assert str(parse_hash(text)) == text
    assert parse_hash(text).salt == b"0123456789abcdef"


@pytest.mark.parametrize("stored", ["hunter2", "", "scrypt$", "$argon2id$v=19$m=65536,t=3,p=4$x$y",
                                    "scrypt$3$8$1$MDEyMzQ1Njc4OWFiY2RlZg$MDEyMzQ1Njc4OWFiY2RlZg"])
def test_a_stored_text_that_is_not_a_hash_verifies_nothing(stored: str) -> None:
    assert not verify("pw", stored)
    with pytest.raises(ValueError) as caught:
        parse_hash(stored)
    assert "hunter2" not in str(caught.value)


SALT = "MDEyMzQ1Njc4OWFiY2RlZg"  # 16 bytes


@pytest.mark.parametrize(("stored", "said"), [
    (f"scrypt$1048576$32$1${SALT}${SALT}", "at most 1024 MiB"),  # N=2^20, r=32: 4 GiB
    (f"scrypt$524288$17$1${SALT}${SALT}", "at most 1024 MiB"),  # 1 GiB and 64 MiB
    (f"scrypt$1024$8$1${SALT}${'A' * 20000}", "at most 64 bytes"),  # a 15 KB digest to derive
])
def test_a_hash_cannot_make_a_login_cost_without_bound(stored: str, said: str) -> None:
    """A config's hash sets the work of every login for its user (and, through the throttle,
    memory held while it runs): its memory (128 * N * r) and digest length are bounded."""
    with pytest.raises(ValueError, match=re.escape(said)):
        parse_hash(stored)
    assert not verify("pw", stored)
    assert parse_hash(f"scrypt$1048576$8$1${SALT}${SALT}").cost == 2**20  # 1 GiB: the most
