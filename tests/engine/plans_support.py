"""What tests/engine/test_trio_openings.py and test_trio_repeats.py share: an engine on a
config of its own (a real SQLite file, a fixed clock, counted ids), a scenario's steps, and
the rows of chosen tables, by which an engine that plans on the trio thread is compared
with one that takes the ordinary way."""

from __future__ import annotations

import itertools
import textwrap
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path

from router.clock import FixedClock
from router.config import load_config
from router.engine import Engine
from router.store import Store

Step = Callable[[Engine], Awaitable[object]]


def config_in(directory: Path, config: str) -> Path:
    """`config` (dedented) written to a new `directory`, as config.yaml."""
    directory.mkdir()
    (directory / "config.yaml").write_text(textwrap.dedent(config))
    return directory / "config.yaml"


async def an_engine(directory: Path, config: str, start: datetime) -> Engine:
    """An engine on `config` in `directory` at `start`."""
    path = config_in(directory, config)
    store = await Store.open(directory / "state.db")
    numbers = itertools.count()
    return Engine(load_config([path]), store, FixedClock(start),
                  new_id=lambda: f"{next(numbers):026d}")


def later(minutes: int) -> Step:
    """A step that moves the engine's fixed clock on."""
    async def step(engine: Engine) -> None:
        clock = engine.clock
        assert isinstance(clock, FixedClock)
        clock.advance(timedelta(minutes=minutes))
    return step


async def rows(engine: Engine, tables: Mapping[str, str]) -> dict[str, list[tuple[object, ...]]]:
    """Each table's rows as `tables` selects them (name -> query)."""
    return await engine.store.read(lambda reader: {
        table: [tuple(row) for row in reader.connection.execute(query)]
        for table, query in tables.items()})
