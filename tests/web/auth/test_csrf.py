"""web/auth/csrf.py (issue 22 item 3): a token per session that only its session's forms
send back; absent, another session's, another key's or a mangled token is refused."""

from __future__ import annotations

import pytest

from router.web.auth import csrf

KEY = b"k" * 32


def test_a_session_s_own_token_holds() -> None:
    given = csrf.token(KEY, "session-one")
    assert len(given) == 43
    assert csrf.holds(KEY, "session-one", given)
    assert csrf.token(KEY, "session-one") == given  # stable for the session's life


@pytest.mark.parametrize("given", [
    None, "", csrf.token(KEY, "session-two"), csrf.token(b"K" * 32, "session-one"),
    csrf.token(KEY, "session-one")[:-1], csrf.token(KEY, "session-one") + "A", "é" * 43,
    "\udcff" * 43,
])
def test_anything_else_is_refused(given: str | None) -> None:
    assert not csrf.holds(KEY, "session-one", given)


def test_each_session_has_its_own_token() -> None:
    assert csrf.token(KEY, "a") != csrf.token(KEY, "b")
