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


@pytest.mark.parametrize(("expected", "given", "matches"), [
    ("abc", "abc", True), ("abc", "abd", False), ("abc", None, False), ("abc", "", False),
    ("", "", False), ("abc", "\udcff", False)])
def test_matches_is_the_one_comparison_forms_use(expected: str, given: str | None,
                                                  matches: bool) -> None:
    """forms.py compares the viewer's token through it (one constant-time check, not two
    copies): an empty token, which a viewer without a key has, matches nothing."""
    assert csrf.matches(expected, given) is matches
