"""The recorder's log lines (notify/recorder.py `log_attempts`, issue 15): a commit that
recorded one page logs it at INFO as before; one that recorded several writes one INFO
line for them (`notifications delivered`, tallied) and each page's own line at DEBUG; a
failure is always its own WARNING or ERROR line."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from router.errors import Outcome
from router.notify.recorder import log_attempts
from router.store.outbox import Attempt

AT = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def an_attempt(number: int, channel: str = "log", outcome: Outcome = "delivered") -> Attempt:
    return Attempt(notification_id=f"n{number}", incident_number=number, channel=channel,
                   target=f"channel:{channel}", event="trigger", attempt=1, attempted_at=AT,
                   outcome=outcome, error=None if outcome != "retry" else "503")


def lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [(record.levelname, record.getMessage()) for record in caplog.records]


def test_a_lone_page_keeps_its_own_info_line(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="router.notify.deliver"):
        log_attempts([(an_attempt(1), None, "trace-1")])
    assert lines(caplog) == [("INFO", "notification delivered: log channel:log")]
    assert (caplog.records[0].incident, caplog.records[0].trace_id) == (  # type: ignore[attr-defined]
        "INC1", "trace-1")


def test_pages_of_one_commit_share_an_info_line_and_each_has_its_own_at_debug(
        caplog: pytest.LogCaptureFixture) -> None:
    attempts = [(an_attempt(1), None, "a"), (an_attempt(2, "hook"), None, "b"),
                (an_attempt(3, "hook", "skipped"), None, ""),
                (an_attempt(4, "hook", "retry"), AT + timedelta(seconds=5), "c")]
    with caplog.at_level(logging.INFO, logger="router.notify.deliver"):
        log_attempts(attempts)
    assert lines(caplog) == [
        ("WARNING", f"delivery failed, retrying at {(AT + timedelta(seconds=5)).isoformat()}: "
                    "503"),
        ("INFO", "notifications delivered")]
    tally = caplog.records[1]
    assert (tally.count, tally.outcomes, tally.channels) == (  # type: ignore[attr-defined]
        3, {"delivered": 2, "skipped": 1}, {"log": 1, "hook": 2})
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="router.notify.deliver"):
        log_attempts(attempts)
    assert [line for line in lines(caplog) if line[0] == "DEBUG"] == [
        ("DEBUG", "notification delivered: log channel:log"),
        ("DEBUG", "notification delivered: hook channel:hook"),
        ("DEBUG", "notification skipped: hook channel:hook")]
