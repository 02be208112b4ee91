"""`settings.retention`: how long resolved incidents are kept (issue 13 item 7)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from router.config import load_config
from tests.config.support import problems, write

CHANNELS = "channels: [{id: log, type: log}]\n"


def test_resolved_incidents_are_kept_90_days_unless_told(tmp_path: Path) -> None:
    write(tmp_path, "router.yaml", CHANNELS)
    assert load_config([tmp_path]).settings.retention == timedelta(days=90)


def test_retention_takes_a_duration(tmp_path: Path) -> None:
    write(tmp_path, "router.yaml", CHANNELS + "settings: {retention: 2w}\n")
    assert load_config([tmp_path]).settings.retention == timedelta(days=14)


def test_a_retention_of_nothing_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "router.yaml", CHANNELS + "settings:\n  retention: 0d\n")
    assert problems([tmp_path]) == [
        f"{path}:3:14: settings.retention: expected a duration longer than zero, got '0d'"]
