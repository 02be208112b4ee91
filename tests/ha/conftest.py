"""Fixtures of the failure tests (issue 18 item 5): the receivers, and a cluster of routers
on this test's own PostgreSQL database (`postgres_url`, tests/postgres_server.py).

    def test_x(routers: Routers, pager: Pager, pagerduty: PagerDuty) -> None:
        routers.write_config(config(pager=pager.url, pagerduty=pagerduty.url))
        first, second, third = routers.start_many(3)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes import serve_in_thread
from tests.ha.cluster import Pager, PagerDuty, Routers, serve_pager, serve_pagerduty


@pytest.fixture
def pager() -> Iterator[Pager]:
    """The webhook that pages people, counting pages per notification id."""
    with serve_in_thread(serve_pager) as fake:
        yield fake


@pytest.fixture
def pagerduty() -> Iterator[PagerDuty]:
    """The PagerDuty Events API v2 stand-in, counting triggers per notification id."""
    with serve_in_thread(serve_pagerduty) as fake:
        yield fake


@pytest.fixture
def routers(tmp_path: Path, postgres_url: str) -> Iterator[Routers]:
    """No router yet: the test writes the config and starts the nodes it needs, all on one
    fresh database; every one still running at the end is killed."""
    cluster = Routers(tmp_path, postgres_url)
    try:
        yield cluster
    finally:
        cluster.close()
