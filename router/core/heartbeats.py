"""Heartbeats' decisions (room: core; imports config.model, alerts.model): when a heartbeat
is next due, what a ping says, and the alerts a miss, a failure and a recovery raise.

Pure: `now` and the last ping are passed in. A heartbeat with a `period` is due a period
after its last ping (or after router started watching it), plus its grace. One with a
cron `schedule` is due at the schedule's next run after its last ping, in the schedule's
timezone, plus its grace: a ping for the 02:00 run moves the deadline to the next run, not
to a fixed interval, so a daily job that ran late is not missed twice.

Schedules are read by cronsim (the library healthchecks.io's cron checks use), which runs
them as Debian's cron does across a DST change: a run at a time the clock skips (02:30 on
the night clocks go forward) happens when the clock jumps, one at a time it passes twice
happens once; a schedule of every minute or hour (`*` in either field) follows real time.

The three alerts share one dedup key (`heartbeat:<id>`), so a failure and a miss are one
incident on the heartbeat's service, and the recovery (a resolve with no labels) resolves
all of it: core/incidents.py's rule for a resolve that names only the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from cronsim import CronSim, CronSimError

from router.alerts.model import Alert, Severity, Status
from router.config.model import Heartbeat

SOURCE = "heartbeat"
"""The alerts' source name (matchers: `source=heartbeat`)."""
MESSAGE_BYTES = 4096
"""How much of a ping's body is kept as its last message: the end, where a job's error is."""


class Signal(StrEnum):
    """What a ping reports: success (a plain ping or exit code 0), a start, a failure."""

    SUCCESS = "success"
    START = "start"
    FAILURE = "failure"


class State(StrEnum):
    """A heartbeat's state as listed: waiting for its first ping, up, missed, failed."""

    NEW = "new"
    UP = "up"
    MISSED = "missed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True, kw_only=True)
class Ping:
    """One check-in: what it reports, the exit code it carried, the body kept."""

    signal: Signal
    exit_code: int | None = None
    message: str = ""


def signal_of(action: str) -> Ping:
    """The ping a URL's last segment makes: "" (a plain ping), `start`, `fail`, or an exit
    code 0-255 (0 success, any other a failure).

    Raises:
        ValueError: anything else.
    """
    if action == "":
        return Ping(signal=Signal.SUCCESS)
    if action == "start":
        return Ping(signal=Signal.START)
    if action == "fail":
        return Ping(signal=Signal.FAILURE)
    if action.isascii() and action.isdigit() and int(action) <= 255:
        code = int(action)
        return Ping(signal=Signal.SUCCESS if code == 0 else Signal.FAILURE, exit_code=code)
    raise ValueError(f"expected start, fail or an exit code 0-255, got {action[:40]!r}")


def kept_message(body: bytes) -> str:
    """The last MESSAGE_BYTES of a ping's body as text (invalid UTF-8 replaced)."""
    tail = body[-MESSAGE_BYTES:]
    text = tail.decode("utf-8", errors="replace")
    return text if len(body) <= MESSAGE_BYTES else "…" + text.lstrip("\ufffd")


def next_run(schedule: str, heartbeat: Heartbeat, after: datetime) -> datetime:
    """The schedule's first run strictly after `after`, as an aware datetime.

    Raises:
        ValueError: the schedule does not parse, or never runs (within 50 years).
    """
    local = after.astimezone(heartbeat.timezone)
    try:
        return next(CronSim(schedule, local))
    except CronSimError as error:
        raise ValueError(f"{schedule!r} is not a cron schedule: {error}") from None
    except StopIteration:
        raise ValueError(f"{schedule!r} never runs") from None


def deadline(heartbeat: Heartbeat, since: datetime) -> datetime:
    """When `heartbeat` is missed if no ping arrives after `since` (its last successful
    ping, or when router started watching it)."""
    # In UTC: Python adds a timedelta to a zoned datetime on the wall clock, which would make
    # a day's period 23 or 25 hours long on the nights the clocks change.
    if heartbeat.schedule is not None:
        run = next_run(heartbeat.schedule, heartbeat, since)
        return run.astimezone(UTC) + heartbeat.grace
    assert heartbeat.period is not None  # the config has one or the other
    return since.astimezone(UTC) + heartbeat.period + heartbeat.grace


def fed_by(heartbeats: tuple[Heartbeat, ...], labels: Mapping[str, str]) -> list[Heartbeat]:
    """The heartbeats whose `match` every one of `labels` (an alert's) satisfies."""
    return [heartbeat for heartbeat in heartbeats
            if all(labels.get(name) == value for name, value in heartbeat.match.items())]


def dedup_key(heartbeat: Heartbeat) -> str:
    """The one key of a heartbeat's alerts."""
    return f"{SOURCE}:{heartbeat.id}"


def missed_alert(heartbeat: Heartbeat, due_at: datetime,
                 last_ping: datetime | None) -> Alert:
    """The alert of a heartbeat that did not check in by `due_at`."""
    last = "never" if last_ping is None else _moment(last_ping)
    return Alert(
        summary=heartbeat.summary or f"Heartbeat {heartbeat.id} missed its deadline",
        labels={"alertname": "HeartbeatMissed", "heartbeat": heartbeat.id},
        annotations={"deadline": _moment(due_at), "last_ping": last},
        source=SOURCE, service=heartbeat.service, dedup_key=dedup_key(heartbeat),
        severity=Severity(heartbeat.severity))


def failed_alert(heartbeat: Heartbeat, ping: Ping) -> Alert:
    """The alert of a heartbeat whose job reported a failure (`/fail`, a non-zero code)."""
    code = "" if ping.exit_code is None else f" (exit code {ping.exit_code})"
    annotations = {"exit_code": str(ping.exit_code)} if ping.exit_code is not None else {}
    if ping.message:
        annotations["message"] = ping.message
    return Alert(
        summary=heartbeat.summary or f"Heartbeat {heartbeat.id} reported a failure{code}",
        labels={"alertname": "HeartbeatFailed", "heartbeat": heartbeat.id},
        annotations=annotations, source=SOURCE, service=heartbeat.service,
        dedup_key=dedup_key(heartbeat), severity=Severity(heartbeat.severity))


def recovered_alert(heartbeat: Heartbeat) -> Alert:
    """The resolve of a missed or failed heartbeat: no labels, so every alert of the
    incident goes (core/incidents.py)."""
    return Alert(summary=f"Heartbeat {heartbeat.id} checked in", status=Status.RESOLVED,
                 source=SOURCE, service=heartbeat.service, dedup_key=dedup_key(heartbeat),
        severity=Severity(heartbeat.severity))


def _moment(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")
