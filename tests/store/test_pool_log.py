"""psycopg_pool's own lines while PostgreSQL cannot be reached (issue 18): unthrottled, a
node wrote about 25 WARNING lines in the first minute of an outage, each with libpq's hint
on a line of its own, and a CLI command printed them bare on stderr next to its one error
line. Now they are one line per cause every ten seconds, hint dropped, the rest DEBUG, and
a CLI (which configures no logging) prints none. Real pools on a loopback port that nothing
listens on."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import time

import pytest

from router.store.health import LibraryLog
from router.store.postgres import _new_pool


def nowhere() -> str:
    """A PostgreSQL URL at a loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"postgresql://router:hunter2@127.0.0.1:{port}/router"


def test_pools_that_cannot_connect_log_a_line_or_two(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    url = nowhere()
    pools = [_new_pool(url, readers=2, wait=1.0) for _ in range(3)]  # as the store re-pools
    try:
        for pool in pools:
            pool.open(wait=False)
        time.sleep(3.5)  # each pool tries at once, then after about 1 s and 2 s more
    finally:
        for pool in pools:
            pool.close(timeout=1.0)
    lines = [record for record in caplog.records
             if record.name.startswith("psycopg") and record.levelno >= logging.WARNING]
    assert 1 <= len(lines) <= 2, [record.getMessage() for record in lines]
    assert all("\n" not in record.getMessage() for record in lines)
    assert "Connection refused" in lines[0].getMessage()


def test_the_same_cause_is_logged_again_after_every_seconds() -> None:
    now = [0.0]
    throttle = LibraryLog(every=10.0, now=lambda: now[0])
    logger = logging.getLogger("tests.pool_log")

    def record(text: str) -> logging.LogRecord:
        return logger.makeRecord(logger.name, logging.WARNING, __file__, 1, text, (), None)
    first = record("error connecting in 'p': refused\n\tIs the server running?")
    assert throttle.filter(first)
    assert first.getMessage() == "error connecting in 'p': refused"
    again = record("error connecting in 'p': refused\n\tIs the server running?")
    throttle.filter(again)
    assert again.levelno == logging.DEBUG
    now[0] = 10.0
    later = record("error connecting in 'p': refused\n\tIs the server running?")
    assert throttle.filter(later)
    assert later.levelno == logging.WARNING
    assert later.getMessage() == "error connecting in 'p': refused (1 more like it not logged)"


def test_a_cli_prints_none_of_the_pool_s_lines() -> None:
    script = (f"import time; from router.store.postgres import _new_pool\n"
              f"pool = _new_pool({nowhere()!r}, readers=2, wait=1.0)\n"
              "pool.open(wait=False); time.sleep(1.5); pool.close(timeout=1.0)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=30, check=True)
    assert done.stderr == ""
