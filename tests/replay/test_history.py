"""Reading a history for `router replay` (router/replay/history.py): exported lines,
Alertmanager webhook payloads one a line or in a JSON array, and errors naming the line."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from router.alerts.model import Status
from router.config.model import AlertLimits
from router.replay.history import HistoryInvalid, read_history

LIMITS = AlertLimits()
EXPORTED = {"received_at": "2026-11-02T10:00:00+00:00",
            "last_received_at": "2026-11-02T10:30:00+00:00", "count": 7, "status": "firing",
            "source": "alertmanager", "summary": "Disk full", "severity": "critical",
            "labels": {"alertname": "DiskFull"}, "annotations": {}, "dedup_key": None,
            "starts_at": None, "ends_at": None, "incident": "INC1", "suppressed_by": None}
PAYLOAD = {"version": "4", "status": "firing", "alerts": [
    {"status": "resolved", "labels": {"alertname": "B"}, "startsAt": "2026-11-02T09:00:00Z",
     "endsAt": "2026-11-02T09:50:00Z"},
    {"status": "firing", "labels": {"alertname": "A"}, "startsAt": "2026-11-02T09:10:00Z",
     "endsAt": "0001-01-01T00:00:00Z"}]}


def test_an_exported_line_that_repeated_arrives_first_and_last() -> None:
    arrivals = read_history(json.dumps(EXPORTED) + "\n\n", "h.jsonl", LIMITS)
    first, last = datetime(2026, 11, 2, 10, tzinfo=UTC), datetime(2026, 11, 2, 10, 30,
                                                                  tzinfo=UTC)
    assert [(item.at, item.fresh_until) for item in arrivals] == [(first, last), (last, last)]
    assert arrivals[0].alert.source == "alertmanager"
    assert dict(arrivals[0].alert.labels) == {"alertname": "DiskFull"}


@pytest.mark.parametrize("shape", ["lines", "array"])
def test_alertmanager_payloads_arrive_at_startsat_or_endsat(shape: str) -> None:
    text = (json.dumps(PAYLOAD) + "\n" + json.dumps(EXPORTED) if shape == "lines"
            else json.dumps([PAYLOAD, EXPORTED], indent=1))
    arrivals = read_history(text, "h", LIMITS)
    assert [(item.at.strftime("%H:%M"), item.alert.summary, item.alert.status)
            for item in arrivals] == [
        ("09:10", "A", Status.FIRING), ("09:50", "B", Status.RESOLVED),
        ("10:00", "Disk full", Status.FIRING), ("10:30", "Disk full", Status.FIRING)]
    assert arrivals[0].alert.dedup_key is not None, "the webhook's key, as on ingest"


@pytest.mark.parametrize(("text", "message"), [
    ('{"received_at": "2026-11-02T10:00:00Z"}\n{"labels": {}}\n',
     "h:2: neither an exported alert (no received_at) nor an Alertmanager webhook payload "
     "(no alerts)"),
    ('\n{"received_at": "2026-11-02T10:00:00Z"\n',
     "h:2:39: not JSON: Expecting ',' delimiter (expected one JSON object a line, or one "
     "JSON array)"),
    ('[1]', "h:1: expected a JSON object (an exported alert or an Alertmanager webhook "
     "payload), got a number"),
    ('[\n {"alerts": []},\n {"received_at": "2026-11-02T10:00:00"}\n]',
     "h:3: received_at: expected an ISO 8601 instant with an offset, got "
     '"2026-11-02T10:00:00"'),
    ('[{"alerts": []} {"alerts": []}]', "h:1: expected , or ] in the JSON array"),
    ('[{"alerts": []}', "h:1: the JSON array is not closed"),
    ('{"received_at": "2026-11-02T10:00:00Z", "status": "open"}',
     'h:1: status: expected one of firing, acknowledged, resolved, got "open"'),
    ('{"received_at": "2026-11-02T10:00:00Z", "labels": {"a": 1}}',
     "h:1: labels: expected a mapping of text to text"),
    ('{"alerts": [{"status": "firing", "labels": {"a": "b"}}]}',
     "h:1: alerts[0].startsAt: needed as the instant a firing alert arrived"),
    ('{"received_at": "2026-11-02T10:00:00Z", "status": []}',
     "h:1: status: expected one of firing, acknowledged, resolved, got []"),
    ('{"received_at": "2026-11-02T10:00:00Z", "severity": {"a": 1}}',
     'h:1: severity: expected one of critical, error, warning, info, got {"a": 1}'),
    ('{"received_at": "0001-01-01T00:00:00+01:00"}',
     "h:1: received_at: expected an instant between the years 1000 and 9000, got "
     '"0001-01-01T00:00:00+01:00"'),
    ('{"received_at": "9999-12-31T23:59:00Z"}',
     "h:1: received_at: expected an instant between the years 1000 and 9000, got "
     '"9999-12-31T23:59:00Z"'),
    ('{"alerts": [{"status": "firing", "labels": {}, "startsAt": "9999-12-31T23:59:00Z"}]}',
     "h:1: alerts[0].startsAt: expected an instant between the years 1000 and 9000, got "
     "9999-12-31T23:59:00+00:00"),
    ('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}",
     "h:1: not JSON: nested too deeply (expected one JSON object a line, or one JSON array)"),
    ('[{"received_at": "2026-11-02T10:00:00Z"},\n' + "[" * 100_000 + "]" * 100_000 + "]",
     "h:2: not JSON: nested too deeply"),
    ('{"alerts": [{"status": "gone", "labels": {}}]}',
     "h:1: Alertmanager payload: alerts[0].status: expected one of firing, resolved; got "
     "'gone'"),
])
def test_what_is_wrong_is_said_with_its_line(text: str, message: str) -> None:
    with pytest.raises(HistoryInvalid) as raised:
        read_history(text, "h", LIMITS)
    assert str(raised.value) == message


class _CountedText(str):
    """Text that adds up how many characters `count` scans: the array reader's line
    numbers must cost one pass over the file, not one pass per element."""

    scanned = 0

    def count(self, sub: str, start: Any = None, end: Any = None) -> int:
        window = self[start:end]
        _CountedText.scanned += len(window)
        return str(window).count(sub)


def test_reading_a_json_array_scans_the_text_once_for_line_numbers() -> None:
    text = _CountedText(json.dumps([EXPORTED] * 300, indent=1))
    _CountedText.scanned = 0
    arrivals = read_history(text, "h", LIMITS)
    assert len(arrivals) == 600
    assert _CountedText.scanned <= len(text)
