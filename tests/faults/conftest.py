"""Fixtures of the fault suite: the daemon as a subprocess, as tests/e2e/ starts it.

`start_daemon(config=..., env=...)` and `daemon` are tests/e2e/conftest.py's own fixtures
(on SQLite: `backend` is not parametrized here; the fault suite is about one daemon's
process, disk and peers, and tests/ha/ has PostgreSQL's faults);
`module_daemons` starts daemons that live for a whole module (a scenario several tests read).
The helpers that are not fixtures are in tests/faults/support.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.conftest import Daemons, backend, daemon, start_daemon

__all__ = ["backend", "daemon", "module_daemons", "start_daemon"]


@pytest.fixture(scope="module")
def module_daemons(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemons]:
    """Daemons for a whole module (`module_daemons.start(config)`), killed at its end."""
    daemons = Daemons(tmp_path_factory.mktemp("faults"))
    try:
        yield daemons
    finally:
        daemons.close()
