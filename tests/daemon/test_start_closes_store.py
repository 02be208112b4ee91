"""A daemon whose start fails after it opened its store closes the store again (issue 18):
on PostgreSQL an open store is a pool of server connections and threads, which a start that
fails must not leave behind (a supervisor restarting it would pile them up on the server).
The daemon runs in-process; its store is a real PostgreSQL database of the test's own."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from router.config import ConfigInvalid
from router.daemon import Options
from router.daemon.root import run


def other_connections(url: str) -> int:
    """The connections to the test's database besides this one."""
    with psycopg.connect(url, autocommit=True) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()").fetchone()
    assert row is not None
    return int(row[0])


async def test_a_start_that_fails_after_the_store_opened_closes_the_store(
        tmp_path: Path, postgres_url: str) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "router.yaml").write_text(
        f"channels: [{{id: log, type: log}}]\nsettings:\n  store: {{url: '{postgres_url}'}}\n")
    options = Options(config_paths=[config], state_dir=tmp_path / "state", listen="127.0.0.1:0",
                      tls_certificate=tmp_path / "missing.pem", tls_key=tmp_path / "missing.key",
                      node_id="test")
    # The TLS files are read after the store opened (and migrated the database).
    with pytest.raises(ConfigInvalid, match=r"missing\.pem"):
        await run(options)
    assert other_connections(postgres_url) == 0
