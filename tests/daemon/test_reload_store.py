"""A reload that changes settings.store keeps the running store and warns that the change
takes effect at the next start (issue 18 item 1); the warning names the stores without
their passwords."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
import trio

from router.clock import FixedClock
from router.config import load_config
from router.config.model import Config
from router.daemon.reload import Reloader
from router.engine import Engine
from router.store import Store

START = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
CONFIG = "channels: [{id: log, type: log}]\n"
SECRET = "hunter2"
URL = "postgresql://router:${env:ROUTER_TEST_PG}@db1/router"


async def load(paths: Sequence[Path]) -> Config:
    environ = {**os.environ, "ROUTER_TEST_PG": SECRET}
    return await trio.to_thread.run_sync(lambda: load_config(list(paths), environ=environ))


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "router.yaml").write_text(CONFIG)
    store = await Store.open(tmp_path / "state.db")
    try:
        yield Engine(load_config([tmp_path / "config"]), store, FixedClock(START))
    finally:
        await store.close()


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records
            if record.levelno == logging.WARNING and record.name == "router.daemon.reload"]


async def reload_with(engine: Engine, tmp_path: Path, text: str,
                      caplog: pytest.LogCaptureFixture, *, given: bool = False) -> list[str]:
    (tmp_path / "config" / "router.yaml").write_text(text)
    reloader = Reloader(engine, [tmp_path / "config"], FixedClock(START), load=load,
                        store_given=given)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="router.daemon.reload"):
        assert (await reloader.reload("signal")).ok
    return warnings_of(caplog)


async def test_a_changed_store_warns_and_the_running_store_stays(
        engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    running = engine.store
    changed = CONFIG + f"settings:\n  store: {{url: '{URL}'}}\n"
    assert await reload_with(engine, tmp_path, changed, caplog) == [
        "settings.store: it changed from sqlite to postgresql://db1/router; that takes effect "
        "at the next start, the running store stays in use until then"]
    assert engine.store is running
    assert engine.config.settings.store != "sqlite"  # the rest of the config is in force
    assert await reload_with(engine, tmp_path, changed, caplog) == []  # the same again
    other = changed.replace("${env:ROUTER_TEST_PG}", "${file:pg-password}")
    (tmp_path / "config" / "pg-password").write_text(SECRET)
    assert await reload_with(engine, tmp_path, other, caplog) == [
        "settings.store: its URL changed (user, password or options); that takes effect at "
        "the next start, the running store stays in use until then"]
    assert SECRET not in caplog.text


async def test_with_the_store_given_by_flag_the_setting_is_said_to_be_unused(
        engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    changed = CONFIG + f"settings:\n  store: {{url: '{URL}'}}\n"
    assert await reload_with(engine, tmp_path, changed, caplog, given=True) == [
        "settings.store changed to postgresql://db1/router, but router run --store names "
        "the store: the setting is not used"]
    assert await reload_with(engine, tmp_path, CONFIG, caplog, given=True) == [
        "settings.store changed to sqlite, but router run --store names the store: the "
        "setting is not used"]
