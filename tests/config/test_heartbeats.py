"""The `heartbeats` section: periods, cron schedules with their timezone, ping tokens and
alert matchers built into the model; every mistake reported at its file, line and field,
all at once (issue 19 items 1 and 6)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from router.config import load_config
from tests.config.support import EXAMPLE, problems, write

SERVICES = """
settings: {timezone: Europe/Berlin}
services:
  - id: backups
  - id: monitoring
"""


def test_heartbeats_are_built_with_their_defaults(tmp_path: Path) -> None:
    write(tmp_path, "token", "0123456789abcdef0123\n")
    write(tmp_path, "router.yaml", SERVICES + f"""
heartbeats:
  - id: nightly-backup
    service: backups
    schedule: '30 2 * * *'
    timezone: America/New_York
    grace: 1h
    token: ${{file:{tmp_path / 'token'}}}
  - id: watchdog
    service: monitoring
    period: 5m
    match: {{alertname: Watchdog}}
    severity: error
""")
    config = load_config([tmp_path / "router.yaml"])
    backup, watchdog = config.heartbeats["nightly-backup"], config.heartbeats["watchdog"]
    assert backup.schedule == "30 2 * * *" and backup.period is None
    assert backup.timezone == ZoneInfo("America/New_York")
    assert backup.grace == timedelta(hours=1)
    assert backup.token is not None and backup.token.reveal() == "0123456789abcdef0123"
    assert "0123456789" not in repr(backup)
    assert backup.severity == "critical" and dict(backup.match) == {}
    assert watchdog.period == timedelta(minutes=5) and watchdog.token is None
    assert watchdog.grace == timedelta(minutes=5)
    assert watchdog.timezone == ZoneInfo("Europe/Berlin")  # settings.timezone
    assert dict(watchdog.match) == {"alertname": "Watchdog"} and watchdog.severity == "error"


def test_every_mistake_is_reported_at_its_place(tmp_path: Path) -> None:
    path = write(tmp_path, "heartbeats.yaml", SERVICES + """
heartbeats:
  - id: bad-cron
    service: backups
    schedule: '61 2 * * *'
    token: short
  - id: both
    service: backups
    period: 1h
    schedule: '0 * * * *'
    match: {alertname: Watchdog}
  - id: neither
    service: backupz
    token: 0123456789abcdef0123
  - id: six-fields
    service: backups
    schedule: '0 0 2 * * *'
    timezone: Europe/Berln
    match: {job: x}
  - id: lonely
    service: backups
    period: 0s
    timezone: UTC
  - id: never
    service: backups
    schedule: '0 0 31 2 *'
    token: 0123456789abcdef0123
""")
    found = [problem.replace(f"{tmp_path}/", "") for problem in problems([path])]
    assert found == [
        "heartbeats.yaml:9:15: heartbeats[0].schedule: '61 2 * * *' is not a cron schedule: "
        "Bad minute (expected 5 fields such as '0 2 * * *' or '*/15 * * * 1-5')",
        "heartbeats.yaml:10:12: heartbeats[0].token: a ping token must be at least 16 "
        "characters (it is the URL's only credential; try `openssl rand -hex 16` in a file "
        "read with ${file:...})",
        "heartbeats.yaml:14:15: heartbeats[1].schedule: give `period` or `schedule`, not both",
        "heartbeats.yaml:16:5: heartbeats[2]: expected `period` (a duration such as 1h) or "
        "`schedule` (cron, such as '0 2 * * *')",
        "heartbeats.yaml:17:14: heartbeats[2].service: no service with id 'backupz' (did you "
        "mean 'backups'?)",
        "heartbeats.yaml:21:15: heartbeats[3].schedule: expected a cron schedule of 5 fields "
        "(minute hour day-of-month month day-of-week), got 6: '0 0 2 * * *'",
        "heartbeats.yaml:22:15: heartbeats[3].timezone: 'Europe/Berln' is not a known "
        "timezone (did you mean 'Europe/Berlin'?)",
        "heartbeats.yaml:24:5: heartbeats[4]: a heartbeat needs a `token` (its ping URL's "
        "secret) or a `match` (alerts that feed it), or nothing can ping it",
        "heartbeats.yaml:26:13: heartbeats[4].period: expected a duration longer than zero, "
        "got '0s'",
        "heartbeats.yaml:27:15: heartbeats[4].timezone: a timezone applies to a `schedule` "
        "only",
        "heartbeats.yaml:30:15: heartbeats[5].schedule: '0 0 31 2 *' is not a cron schedule: "
        "Bad day-of-month (expected 5 fields such as '0 2 * * *' or '*/15 * * * 1-5')",
    ]


def test_a_heartbeat_id_defined_twice_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "router.yaml", SERVICES + """
heartbeats:
  - {id: job, service: backups, period: 1h, match: {a: b}}
  - {id: job, service: backups, period: 2h, match: {a: b}}
""")
    found = problems([path])
    assert len(found) == 1 and "id 'job' is defined twice" in found[0]


def test_shape_errors_name_the_field(tmp_path: Path) -> None:
    path = write(tmp_path, "router.yaml", SERVICES + """
heartbeats:
  - {id: job, service: backups, period: 1h, match: {a: 1}, colour: red}
""")
    found = problems([path])
    assert any("heartbeats[0]" in problem and "colour" in problem for problem in found)
    assert any("heartbeats[0].match.a" in problem for problem in found)


def test_without_secrets_a_token_reference_is_not_measured(tmp_path: Path) -> None:
    path = write(tmp_path, "router.yaml", SERVICES + """
heartbeats:
  - {id: job, service: backups, period: 1h, token: '${env:T}'}
""")
    assert problems([path], resolve_secrets=False) == []
    assert problems([path], environ={"T": "short"})[0].endswith(
        "heartbeats[0].token: a ping token must be at least 16 characters (it is the URL's "
        "only credential; try `openssl rand -hex 16` in a file read with ${file:...})")


def test_the_example_config_has_a_heartbeat_with_its_token_from_a_file() -> None:
    config = load_config([EXAMPLE])
    backup = config.heartbeats["nightly-backup"]
    assert (backup.service, backup.schedule, backup.grace) == (
        "database", "30 2 * * *", timedelta(hours=1))
    assert backup.token is not None and str(backup.token) == (
        "<secret ${file:secrets/backup-heartbeat.token}>")
