"""core/checks.py: a reading graded against thresholds (inverted for a process count), the
change of status that opens, changes or resolves a check's alert, and that alert."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from router.alerts.model import Severity, Status
from router.config.model import CHECK_THRESHOLDS, Check, Thresholds
from router.core.checks import (
    CheckStatus,
    Reading,
    Verdict,
    alert_of,
    evaluate,
    grade,
    nagios_status,
    transition,
    worst,
)

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
OK, WARNING, CRITICAL, UNKNOWN = (CheckStatus.OK, CheckStatus.WARNING, CheckStatus.CRITICAL,
                                  CheckStatus.UNKNOWN)
HIGHER = Thresholds(warning=80, critical=90)
FEWER = Thresholds(warning=2, critical=0, inverted=True)


@pytest.mark.parametrize(("value", "thresholds", "expected"), [
    (79.9, HIGHER, OK), (80, HIGHER, WARNING), (89.9, HIGHER, WARNING), (90, HIGHER, CRITICAL),
    (100, HIGHER, CRITICAL), (3, FEWER, OK), (2, FEWER, WARNING), (1, FEWER, WARNING),
    (0, FEWER, CRITICAL), (99, Thresholds(), OK), (99, Thresholds(critical=95), CRITICAL),
])
def test_grade(value: float, thresholds: Thresholds, expected: CheckStatus) -> None:
    assert grade(value, thresholds) is expected


def test_worst_ranks_critical_over_unknown_over_warning() -> None:
    assert [worst(statuses) for statuses in ([], [OK, WARNING], [WARNING, UNKNOWN],
                                             [UNKNOWN, CRITICAL, OK])] == [
        OK, WARNING, UNKNOWN, CRITICAL]


@pytest.mark.parametrize(("code", "expected"), [(0, OK), (1, WARNING), (2, CRITICAL),
                                                (3, UNKNOWN), (4, UNKNOWN), (-9, UNKNOWN)])
def test_nagios_exit_statuses(code: int, expected: CheckStatus) -> None:
    assert nagios_status(code) is expected


def test_a_disk_is_graded_by_its_worst_figure_inodes_by_their_own_thresholds() -> None:
    check = Check(id="disk", type="disk", thresholds=CHECK_THRESHOLDS["disk"],
                  inodes=Thresholds(warning=50, critical=99))
    reading = Reading(metrics={"disk_percent:/": 85.5, "disk_percent:/var": 10,
                               "inodes_percent:/": 60}, message="2 file systems")
    assert evaluate(check, reading) == Verdict(WARNING, (
        "disk_percent:/ is 85.5, at or above the warning threshold 80; "
        "inodes_percent:/ is 60, at or above the warning threshold 50"))
    assert evaluate(check, Reading(metrics={"disk_percent:/": 91, "inodes_percent:/": 99})
                    ).status is CRITICAL
    no_inodes = Check(id="disk", type="disk", thresholds=CHECK_THRESHOLDS["disk"])
    assert evaluate(no_inodes, Reading(metrics={"inodes_percent:/": 100}, message="fine")) \
        == Verdict(OK, "fine")


def test_a_process_count_is_inverted_and_a_probe_s_own_status_wins() -> None:
    check = Check(id="sshd", type="process", names=("sshd",),
                  thresholds=CHECK_THRESHOLDS["process"])
    assert evaluate(check, Reading(metrics={"processes:sshd": 0})) == Verdict(
        CRITICAL, "processes:sshd is 0, at or below the critical threshold 0")
    assert evaluate(check, Reading(metrics={"processes:sshd": 1}, message="1 running")) == \
        Verdict(OK, "1 running")
    http = Check(id="web", type="http", url="http://x/")
    assert evaluate(http, Reading(metrics={"status_code": 500}, message="answered 500",
                                  status=CRITICAL)) == Verdict(CRITICAL, "answered 500")
    assert evaluate(http, Reading(metrics={"status_code": 200, "response_ms": 3})).status is OK


@pytest.mark.parametrize(("previous", "current", "expected"), [
    (None, OK, None), (None, WARNING, "open"), (OK, CRITICAL, "open"), (OK, UNKNOWN, "open"),
    (WARNING, CRITICAL, "change"), (CRITICAL, CRITICAL, None), (CRITICAL, OK, "resolve"),
    (UNKNOWN, OK, "resolve"), (OK, OK, None),
])
def test_transition(previous: CheckStatus | None, current: CheckStatus,
                    expected: str | None) -> None:
    assert transition(previous, current) == expected


def test_the_alert_carries_the_figures_and_one_key_per_check() -> None:
    check = Check(id="disk", type="disk", service="host", labels={"team": "ops"})
    firing = alert_of(check, Verdict(CRITICAL, "disk_percent:/ is 95"),
                      {"disk_percent:/": 95.25}, "db1", NOW)
    assert (firing.summary, firing.source, firing.severity, firing.status, firing.service,
            firing.dedup_key) == ("check disk on db1 is critical: disk_percent:/ is 95",
                                  "check", Severity.CRITICAL, Status.FIRING, "host",
                                  "check:disk")
    assert dict(firing.labels) == {"alertname": "disk", "check": "disk", "check_type": "disk",
                                   "host": "db1", "team": "ops"}
    assert dict(firing.annotations) == {"message": "disk_percent:/ is 95",
                                        "check_status": "critical",
                                        "metric.disk_percent:/": "95.25"}
    resolved = alert_of(check, Verdict(OK, "fine"), {}, "db1", NOW)
    assert (resolved.status, resolved.dedup_key) == (Status.RESOLVED, "check:disk")
    unknown = alert_of(check, Verdict(UNKNOWN, "no answer in 10s"), {}, "db1", NOW)
    assert unknown.severity is Severity.ERROR
