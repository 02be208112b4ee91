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
