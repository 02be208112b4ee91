"""Local health checks' decisions (room: core; imports config.model, alerts.model): how a
reading grades against its thresholds, when a change of status opens or resolves an alert,
and that alert. Pure: the probes (router/probes/) measure, the engine records.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Literal

from router.alerts.model import Alert, Severity, Status
from router.config.model import Check, Thresholds

SOURCE = "check"
"""The source of every alert a check raises (route on `source=check`)."""


class CheckStatus(StrEnum):
    """Nagios' four statuses; `rank` orders them by how bad (critical worst, then unknown)."""

    OK = "ok"
    WARNING = "warning"
    UNKNOWN = "unknown"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return list(CheckStatus).index(self)


SEVERITIES: Mapping[CheckStatus, Severity] = MappingProxyType({
    CheckStatus.WARNING: Severity.WARNING, CheckStatus.UNKNOWN: Severity.ERROR,
    CheckStatus.CRITICAL: Severity.CRITICAL, CheckStatus.OK: Severity.INFO})
"""The severity of a check's alert: an unknown (a probe that failed or timed out) is an
error, as the host may be in any state."""

NOT_GRADED = frozenset({"status_code", "exit_code"})
"""Figures kept with a run but never compared with thresholds."""


def _empty() -> Mapping[str, float]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True, kw_only=True)
class Reading:
    """What a probe measured: figures by name (`disk_percent:/var`, `processes:sshd`,
    `connect_ms`), a message, and a status when the probe decides it itself (a command's
    exit status, a refused connection, a wrong HTTP status); None: grade the figures."""

    metrics: Mapping[str, float] = field(default_factory=_empty)
    message: str = ""
    status: CheckStatus | None = None
    error: str | None = None
    """Why the probe could not measure (a command that would not start or was killed at
    its timeout), kept with the run; a measure of something broken is not an error."""


@dataclass(frozen=True, slots=True)
class Verdict:
    status: CheckStatus
    message: str


def grade(value: float, thresholds: Thresholds) -> CheckStatus:
    """critical at or beyond `critical`, warning at or beyond `warning` (beyond = below when
    inverted), else ok."""
    def reached(limit: float | None) -> bool:
        if limit is None:
            return False
        return value <= limit if thresholds.inverted else value >= limit

    if reached(thresholds.critical):
        return CheckStatus.CRITICAL
    if reached(thresholds.warning):
        return CheckStatus.WARNING
    return CheckStatus.OK


def worst(statuses: Iterable[CheckStatus]) -> CheckStatus:
    return max(statuses, key=lambda status: status.rank, default=CheckStatus.OK)


def nagios_status(exit_code: int) -> CheckStatus:
    """A plugin's exit status: 0 ok, 1 warning, 2 critical, 3 (or anything else) unknown."""
    return {0: CheckStatus.OK, 1: CheckStatus.WARNING,
            2: CheckStatus.CRITICAL}.get(exit_code, CheckStatus.UNKNOWN)


def thresholds_for(check: Check, metric: str) -> Thresholds | None:
    """Which thresholds a figure is graded by: swap and inodes have their own."""
    kind = metric.partition(":")[0]
    if kind in NOT_GRADED:
        return None
    if kind == "swap_percent":
        return check.swap
    if kind == "inodes_percent":
        return check.inodes
    return check.thresholds


def evaluate(check: Check, reading: Reading) -> Verdict:
    """The status of one run and its message: the probe's own when it decided, else the
    worst grade of the figures, naming each figure past a threshold."""
    if reading.status is not None:
        return Verdict(reading.status, reading.message)
    graded: list[tuple[CheckStatus, str]] = []
    for metric, value in sorted(reading.metrics.items()):
        thresholds = thresholds_for(check, metric)
        if thresholds is None:
            continue
        status = grade(value, thresholds)
        if status is not CheckStatus.OK:
            limit = thresholds.critical if status is CheckStatus.CRITICAL else \
                thresholds.warning
            word = "at or below" if thresholds.inverted else "at or above"
            graded.append((status, f"{metric} is {value:g}, {word} the {status} "
                                   f"threshold {limit:g}"))
    status = worst(status for status, _ in graded)
    if status is CheckStatus.OK:
        return Verdict(status, reading.message)
    return Verdict(status, "; ".join(text for _, text in graded))


Change = Literal["open", "change", "resolve"]


def transition(previous: CheckStatus | None, current: CheckStatus) -> Change | None:
    """What a run does to the check's alert: a check that leaves ok opens it (its first run
    too), one that moves between bad statuses changes its severity, one that returns to ok
    resolves it; a first run that is ok, and a status that holds, do nothing."""
    was_ok = previous in (None, CheckStatus.OK)
    if current is CheckStatus.OK:
        return None if was_ok else "resolve"
    if was_ok:
        return "open"
    return "change" if previous is not current else None


def alert_of(check: Check, verdict: Verdict, metrics: Mapping[str, float], host: str,
             now: datetime) -> Alert:
    """The check's alert: firing while it is not ok (severity by status), resolved when it
    is, one dedup key per check so every change lands on the same incident; the figures
    are annotations (`metric.disk_percent:/`)."""
    resolved = verdict.status is CheckStatus.OK
    annotations = {"message": verdict.message, "check_status": verdict.status.value,
                   **{f"metric.{name}": f"{value:g}" for name, value in metrics.items()}}
    return Alert(
        summary=f"check {check.id} on {host} is {verdict.status}: {verdict.message}",
        source=SOURCE, severity=SEVERITIES[verdict.status],
        status=Status.RESOLVED if resolved else Status.FIRING,
        labels=MappingProxyType({"alertname": check.id, "check": check.id,
                                 "check_type": check.type, "host": host, **check.labels}),
        annotations=MappingProxyType(annotations), service=check.service,
        dedup_key=f"check:{check.id}", starts_at=now)
