"""The `jobs` section (issue 19 items 2 and 6): built into the model, and every problem
reported at its file:line:col with its path, all at once, as `router validate` prints it."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

from router.cli import main
from router.config import load_config
from tests.config.support import problems, write

SERVICES = """
services:
  - {id: database}
"""


def test_jobs_are_built_with_their_defaults(tmp_path: Path) -> None:
    write(tmp_path, "services.yaml", SERVICES)
    write(tmp_path, "jobs.yaml", """
        jobs:
          - {id: backup, service: database, timeout: 1h30m, severity: error}
          - {id: report}
    """)
    config = load_config([tmp_path])
    backup, report = config.jobs["backup"], config.jobs["report"]
    assert (backup.service, backup.timeout, backup.severity) == (
        "database", timedelta(minutes=90), "error")
    assert (report.service, report.timeout, report.severity, report.description) == (
        None, None, "critical", "")
    assert backup.where.line == 2


def test_every_problem_is_reported_at_its_place(tmp_path: Path) -> None:
    write(tmp_path, "services.yaml", SERVICES)
    path = write(tmp_path, "jobs.yaml", """
        jobs:
          - {id: backup, service: database, timeout: 0s}
          - {id: backup}
          - {id: report, timeout: soon, severity: fatal}
          - {id: "no spaces"}
    """)
    assert problems([tmp_path]) == [
        f"{path}:2:46: jobs[0].timeout: expected a duration longer than zero, got '0s'",
        f"{path}:3:5: jobs[1]: id 'backup' is defined twice: here and at {path}:2:5",
        f"{path}:4:27: jobs[2].timeout: expected a duration like 30s, 15m, 1h30m or 2w, "
        "got 'soon'",
        f"{path}:4:43: jobs[2].severity: expected one of critical, error, warning, info, "
        "got 'fatal'",
        f"{path}:5:10: jobs[3].id: expected an id of letters, digits, '.', '_' and '-', "
        "starting with a letter or digit, got 'no spaces'",
    ]


def test_a_service_no_config_declares(tmp_path: Path) -> None:
    write(tmp_path, "services.yaml", SERVICES)
    path = write(tmp_path, "jobs.yaml", "jobs:\n  - {id: backup, service: databse}\n")
    assert problems([tmp_path]) == [
        f"{path}:2:27: jobs[0].service: no service with id 'databse' (did you mean "
        "'database'?)"]


def test_router_validate_prints_them_with_file_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "jobs.yaml", "jobs:\n  - {id: backup, service: nowhere}\n")
    out, err = io.StringIO(), io.StringIO()
    assert main(["validate", str(tmp_path)], out, err) == 1
    assert err.getvalue().splitlines()[0] == (
        f"{path}:2:27: jobs[0].service: no service with id 'nowhere'")
