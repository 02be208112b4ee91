"""The throwaway PostgreSQL plugin (tests/postgres_server.py) itself: a test gets a database
it can use, and two tests never share one."""

from __future__ import annotations

import psycopg
import pytest

from tests.postgres_server import MISSING, server_programs

_SEEN: list[str] = []


@pytest.mark.parametrize("turn", [1, 2])
def test_each_test_gets_a_fresh_database(postgres_url: str, turn: int) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        assert connection.execute("SELECT 1").fetchone() == (1,)
        name = connection.execute("SELECT current_database()").fetchone()
        assert name is not None
        # Fresh: no table in it, whatever the other test made.
        assert connection.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone() == (0,)
        connection.execute("CREATE TABLE made_here (n integer)")
    assert name[0] not in _SEEN
    _SEEN.append(name[0])
    assert len(_SEEN) == turn


def test_a_missing_postgresql_says_how_to_install_it() -> None:
    assert server_programs() is not None, MISSING
    assert "apt-get install postgresql" in MISSING
