"""core.heartbeats: deadlines from a period or a cron schedule in its timezone, across both
DST changes; what a ping URL reports; the body kept; the alerts a heartbeat raises."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from router.alerts.model import Severity, Status
from router.config.model import Heartbeat
from router.core.heartbeats import (
    MESSAGE_BYTES,
    Ping,
    Signal,
    deadline,
    failed_alert,
    fed_by,
    kept_message,
    missed_alert,
    next_run,
    recovered_alert,
    signal_of,
)

BERLIN = ZoneInfo("Europe/Berlin")
GRACE = timedelta(minutes=10)


def scheduled(schedule: str, timezone: ZoneInfo = BERLIN) -> Heartbeat:
    return Heartbeat(id="backup", service="backups", schedule=schedule, timezone=timezone,
                     grace=GRACE)


def local(*parts: int, fold: int = 0) -> datetime:
    return datetime(*parts, tzinfo=BERLIN, fold=fold)  # type: ignore[misc]


def test_a_period_counts_from_the_last_ping_in_real_time() -> None:
    daily = Heartbeat(id="sync", service="s", period=timedelta(days=1), grace=GRACE)
    # The night clocks go forward in Berlin: a day of real time is 25:00 on the wall clock.
    ping = local(2026, 3, 28, 12, 0)
    assert deadline(daily, ping) == datetime(2026, 3, 29, 11, 10, tzinfo=UTC)
    assert deadline(daily, ping).astimezone(BERLIN) == local(2026, 3, 29, 13, 10)


def test_a_schedule_is_due_at_its_next_run_plus_grace() -> None:
    nightly = scheduled("30 2 * * *")
    assert deadline(nightly, local(2026, 1, 10, 2, 31)) == local(2026, 1, 11, 2, 40)
    # A ping a little before the run counts for that run's slot: due at today's run.
    assert deadline(nightly, local(2026, 1, 10, 2, 29)) == local(2026, 1, 10, 2, 40)
    # The same schedule in another timezone runs at that zone's 02:30.
    york = scheduled("30 2 * * *", ZoneInfo("America/New_York"))
    assert deadline(york, datetime(2026, 1, 10, 12, tzinfo=UTC)) == datetime(
        2026, 1, 11, 7, 40, tzinfo=UTC)


def test_a_run_at_a_skipped_time_happens_when_the_clock_jumps() -> None:
    # 2026-03-29: Berlin's clocks go from 02:00 to 03:00; 02:30 does not exist that night.
    nightly = scheduled("30 2 * * *")
    run = next_run("30 2 * * *", nightly, local(2026, 3, 28, 2, 31))
    assert run == local(2026, 3, 29, 3, 0)
    assert run.astimezone(UTC) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    # and the night after, 02:30 again.
    assert next_run("30 2 * * *", nightly, run) == local(2026, 3, 30, 2, 30)


def test_a_run_at_a_time_passed_twice_happens_once() -> None:
    # 2026-10-25: Berlin's clocks go from 03:00 back to 02:00; 02:30 happens twice.
    nightly = scheduled("30 2 * * *")
    first = next_run("30 2 * * *", nightly, local(2026, 10, 24, 2, 31))
    assert first.astimezone(UTC) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # CEST
    # A ping after the run (in the hour that repeats) waits for the next night, not for
    # the second 02:30 an hour later.
    after = datetime(2026, 10, 25, 0, 35, tzinfo=UTC)
    assert next_run("30 2 * * *", nightly, after).astimezone(UTC) == datetime(
        2026, 10, 26, 1, 30, tzinfo=UTC)


def test_an_hourly_schedule_follows_real_time_across_the_change() -> None:
    hourly = scheduled("0 * * * *")
    runs, moment = [], datetime(2026, 10, 24, 23, 30, tzinfo=UTC)
    for _ in range(4):
        moment = next_run("0 * * * *", hourly, moment)
        runs.append(moment.astimezone(UTC).hour)
    assert runs == [0, 1, 2, 3]  # 02:00 CEST, 02:00 CET, 03:00 CET, 04:00 CET


@pytest.mark.parametrize(("action", "ping"), [
    ("", Ping(signal=Signal.SUCCESS)),
    ("start", Ping(signal=Signal.START)),
    ("fail", Ping(signal=Signal.FAILURE)),
    ("0", Ping(signal=Signal.SUCCESS, exit_code=0)),
    ("3", Ping(signal=Signal.FAILURE, exit_code=3)),
    ("255", Ping(signal=Signal.FAILURE, exit_code=255)),
])
def test_what_a_ping_url_reports(action: str, ping: Ping) -> None:
    assert signal_of(action) == ping


@pytest.mark.parametrize("action", ["256", "-1", "stop", "１", "1.0"])
def test_anything_else_is_refused(action: str) -> None:
    with pytest.raises(ValueError, match="expected start, fail or an exit code 0-255"):
        signal_of(action)


def test_the_end_of_a_long_body_is_kept() -> None:
    assert kept_message(b"all good\n") == "all good\n"
    body = b"x" * 10_000 + "error: disk full ü".encode()
    kept = kept_message(body)
    assert kept.startswith("…") and kept.endswith("error: disk full ü")
    assert len(kept.encode()) <= MESSAGE_BYTES + len("…".encode())
    assert kept_message(b"\xff\xfe bad") == "\ufffd\ufffd bad"


def test_alerts_share_one_key_so_a_recovery_resolves_them_all() -> None:
    heartbeat = Heartbeat(id="backup", service="backups", period=timedelta(hours=1),
                          severity="error")
    due = datetime(2026, 1, 1, 3, tzinfo=UTC)
    missed = missed_alert(heartbeat, due, None)
    failed = failed_alert(heartbeat, Ping(signal=Signal.FAILURE, exit_code=2,
                                          message="rsync: connection refused"))
    recovered = recovered_alert(heartbeat)
    assert {missed.dedup_key, failed.dedup_key, recovered.dedup_key} == {"heartbeat:backup"}
    assert missed.service == failed.service == "backups" and missed.source == "heartbeat"
    assert missed.severity is Severity.ERROR and missed.status is Status.FIRING
    assert missed.summary == "Heartbeat backup missed its deadline"
    assert dict(missed.annotations) == {"deadline": "2026-01-01T03:00:00+00:00",
                                        "last_ping": "never"}
    assert failed.summary == "Heartbeat backup reported a failure (exit code 2)"
    assert dict(failed.annotations) == {"exit_code": "2",
                                        "message": "rsync: connection refused"}
    assert recovered.status is Status.RESOLVED and dict(recovered.labels) == {}


def test_alerts_feed_the_heartbeats_they_match() -> None:
    watchdog = Heartbeat(id="watchdog", service="s", period=timedelta(minutes=5),
                         match={"alertname": "Watchdog"})
    other = Heartbeat(id="other", service="s", period=timedelta(minutes=5),
                      match={"alertname": "Watchdog", "cluster": "eu"})
    assert fed_by((watchdog, other), {"alertname": "Watchdog", "cluster": "us"}) == [watchdog]
    assert fed_by((watchdog, other), {"alertname": "Watchdog", "cluster": "eu"}) == [
        watchdog, other]
    assert fed_by((watchdog, other), {"alertname": "DiskFull"}) == []
