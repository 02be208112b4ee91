"""engine/fields.py: a request's fields read one way, with the same words for the same
mistake in a job's report, a direct notification and a socket message."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from router.engine import fields
from router.engine.direct import read_send
from router.engine.job_requests import parse_run
from router.errors import BadRequest

BODY: Mapping[str, object] = {
    "title": "Disk full", "blank": "  ", "count": 3, "yes": True, "wait": 1.5,
    "at": "2026-05-24T09:30:00+02:00", "nothing": None}


@pytest.mark.parametrize(("read", "expected"), [
    (lambda: fields.text(BODY, "title"), "Disk full"),
    (lambda: fields.optional_text(BODY, "nothing"), None),
    (lambda: fields.optional_text(BODY, "absent"), None),
    (lambda: fields.integer(BODY, "count"), 3),
    (lambda: fields.seconds(BODY, "wait"), 1.5),
    (lambda: fields.seconds(BODY, "count"), 3.0),
    (lambda: fields.flag(BODY, "yes"), True),
    (lambda: fields.flag(BODY, "absent", default=False), False),
    (lambda: fields.instant(BODY, "at"),
     datetime(2026, 5, 24, 9, 30, tzinfo=timezone(timedelta(hours=2)))),
    (lambda: fields.instant(BODY, "absent"), None),
])
def test_a_field_that_fits_is_its_value(read: Callable[[], object], expected: object) -> None:
    assert read() == expected


@pytest.mark.parametrize(("read", "field", "message"), [
    (lambda: fields.text(BODY, "absent"), "absent", "is required"),
    (lambda: fields.text(BODY, "blank"), "blank", "must not be empty"),
    (lambda: fields.text(BODY, "count", "messages[2]"), "messages[2].count",
     "expected text, got a number"),
    (lambda: fields.optional_text(BODY, "title", most=4), "title",
     "is longer than 4 characters (9)"),
    (lambda: fields.integer(BODY, "yes"), "yes", "expected an integer, got a boolean"),
    (lambda: fields.integer(BODY, "nothing"), "nothing", "is required"),
    (lambda: fields.seconds(BODY, "title"), "title",
     "expected a number of seconds, got 'Disk full'"),
    (lambda: fields.seconds({"wait": -1}, "wait"), "wait",
     "expected a number of seconds of at least 0, got -1"),
    (lambda: fields.seconds({"wait": float("nan")}, "wait"), "wait",
     "expected a number of seconds, got nan"),
    (lambda: fields.flag(BODY, "title"), "title", "expected true or false, got 'Disk full'"),
    (lambda: fields.instant(BODY, "title"), "title",
     "expected an ISO 8601 instant like 2026-05-24T09:30:00Z, got 'Disk full'"),
    (lambda: fields.instant({"at": "2026-05-24T09:30:00"}, "at"), "at",
     "needs a UTC offset (Z or +01:00)"),
    (lambda: fields.instant({"at": "0001-01-01T00:00:00Z"}, "at"), "at",
     "expected an instant between the years 1000 and 9000, got '0001-01-01T00:00:00Z'"),
    (lambda: fields.refuse_unknown(BODY, ("title",), "job"), "job.blank",
     "is not a known field (expected one of title)"),
])
def test_a_field_that_does_not_fit_is_named(read: Callable[[], object], field: str,
                                             message: str) -> None:
    with pytest.raises(BadRequest) as raised:
        read()
    assert (raised.value.field, raised.value.message) == (field, message)


def _job(body: dict[str, Any]) -> object:
    return parse_run({"run_id": "r1", "status": "started", **body})


def _notify(body: dict[str, Any]) -> object:
    return read_send({"title": "t", "channel": "log", **body})


@pytest.mark.parametrize(("read", "body", "field", "message"), [
    (_job, {"output": 5}, "output", "expected text, got a number"),
    (_notify, {"message": 5}, "message", "expected text, got a number"),
    (_job, {"colour": "red"}, "colour", "is not a known field (expected one of run_id, "),
    (_notify, {"colour": "red"}, "colour", "is not a known field (expected one of title, "),
])
def test_the_same_mistake_has_the_same_words(read: Callable[[dict[str, Any]], object],
                                             body: dict[str, Any], field: str,
                                             message: str) -> None:
    """A job's run report and a direct notification word a mistake alike, as the socket's
    messages do (tests/server/test_socket.py); before engine/fields.py a job said
    `expected text, got int`, a notification `expected text`, and a job's unknown field
    `unknown field; expected one of: ...`."""
    with pytest.raises(BadRequest) as raised:
        read(body)
    assert raised.value.field == field
    assert raised.value.message.startswith(message)


def test_a_run_s_start_is_kept_in_utc() -> None:
    report = parse_run({"run_id": "r1", "status": "started",
                        "started_at": "2026-12-05T03:00:00+01:00"})
    assert report.started_at == datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
    assert report.started_at is not None and report.started_at.tzinfo is UTC
