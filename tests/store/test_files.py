"""The state directory's modes and admin token (store/files.py, Store.open): new files are
private, existing ones that other users may read are tightened with a log line, and a mode
the operator narrowed to a group (0640, 0750) is left alone.

SQLite only: files and their modes.
"""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from router.store import Store
from router.store.files import (
    prepare_directory,
    read_admin_token,
    read_or_create_admin_token,
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def modes_in(directory: Path) -> dict[str, int]:
    return {path.name: mode(path) for path in directory.iterdir()}


async def test_a_new_store_and_its_wal_files_are_0600(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "router.db")
    try:
        await store.write(lambda transaction: transaction.connection.execute("SELECT 1"))
        modes = modes_in(tmp_path)
    finally:
        await store.close()
    assert modes == {"router.db": 0o600, "router.db-wal": 0o600, "router.db-shm": 0o600}


async def test_an_open_store_is_tightened_with_a_log_line(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = await Store.open(tmp_path / "router.db")
    await store.close()
    (tmp_path / "router.db").chmod(0o644)
    (tmp_path / "router.db-wal").write_bytes(b"")
    (tmp_path / "router.db-wal").chmod(0o666)
    with caplog.at_level(logging.WARNING):
        store = await Store.open(tmp_path / "router.db")
    await store.close()
    assert mode(tmp_path / "router.db") == 0o600
    assert f"{tmp_path / 'router.db'} was mode 0644, readable or writable by other users: " \
           "set to 0600" in caplog.messages
    assert f"{tmp_path / 'router.db-wal'} was mode 0666, readable or writable by other " \
           "users: set to 0600" in caplog.messages


async def test_a_group_readable_store_is_left_as_the_operator_set_it(tmp_path: Path) -> None:
    (tmp_path / "router.db").write_bytes(b"")
    (tmp_path / "router.db").chmod(0o640)
    store = await Store.open(tmp_path / "router.db")
    await store.close()
    assert mode(tmp_path / "router.db") == 0o640


def test_the_state_directory_is_made_0750_or_tightened(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    fresh = tmp_path / "a" / "state"
    prepare_directory(fresh)
    assert mode(fresh) == 0o750
    old = tmp_path / "old"
    old.mkdir()
    old.chmod(0o755)
    with caplog.at_level(logging.WARNING):
        prepare_directory(old)
    assert mode(old) == 0o750
    assert caplog.messages == [
        f"{old} was mode 0755, readable or writable by other users: set to 0750"]
    narrow = tmp_path / "narrow"
    narrow.mkdir(mode=0o700)
    prepare_directory(narrow)
    assert mode(narrow) == 0o700


def test_the_admin_token_is_written_once_0600_and_read_back(tmp_path: Path) -> None:
    assert read_admin_token(tmp_path) is None
    token = read_or_create_admin_token(tmp_path)
    assert len(token) >= 40
    assert mode(tmp_path / "admin.token") == 0o600
    assert read_or_create_admin_token(tmp_path) == token == read_admin_token(tmp_path)
    (tmp_path / "admin.token").chmod(0o644)
    assert read_or_create_admin_token(tmp_path) == token
    assert mode(tmp_path / "admin.token") == 0o600
    assert [path.name for path in tmp_path.iterdir()] == ["admin.token"]
