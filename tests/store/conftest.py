"""The store's tests on both backends (issue 18, D7): `store` is an open store of each, one
test run per backend, and `backend` says where it is, so a test can open it again (another
"node" on the same database, or a reopen after close). Tests about SQLite's files, PRAGMAs,
WAL or file modes open `router.store.Store` themselves and say so in their docstring."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from router.store import DATABASE_NAME, interface, postgres, sqlite


@dataclass(frozen=True)
class Backend:
    """Where a test's store lives: `name` is "sqlite" or "postgresql"."""

    name: str
    where: str

    async def open(self) -> interface.Store:
        """The store (opened again if it was before: the same data)."""
        if self.name == "postgresql":
            return await postgres.Store.open(self.where)
        return await sqlite.Store.open(Path(self.where))


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "postgresql":
        return Backend("postgresql", request.getfixturevalue("postgres_url"))
    return Backend("sqlite", str(tmp_path / DATABASE_NAME))


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[interface.Store]:
    opened = await backend.open()
    yield opened
    await opened.close()
