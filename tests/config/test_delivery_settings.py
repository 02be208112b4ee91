"""`settings.delivery`: the outbox claims' lease (issue 18 item 4, docs/delivery.md)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from router.config import load_config
from tests.config.support import problems, write

BASE = """
    channels:
      - {id: log, type: log}
    services:
      - {id: api, channels: [log]}
    routes:
      - service: api
    """


def test_the_lease_is_a_minute_unless_set(tmp_path: Path) -> None:
    write(tmp_path, "router.yaml", BASE)
    assert load_config([tmp_path]).settings.delivery.lease == timedelta(seconds=60)
    write(tmp_path, "settings.yaml", "settings:\n  delivery: {lease: 30s}\n")
    assert load_config([tmp_path]).settings.delivery.lease == timedelta(seconds=30)


def test_a_lease_of_nothing_is_an_error_at_its_place(tmp_path: Path) -> None:
    write(tmp_path, "router.yaml", BASE)
    path = write(tmp_path, "settings.yaml", "settings:\n  delivery: {lease: 0s}\n")
    assert problems([tmp_path]) == [
        f"{path}:2:21: settings.delivery.lease: expected a duration longer than zero, got '0s'"]
