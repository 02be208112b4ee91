"""notify/log.py: one line per notification, at the channel's level, always delivered."""

from __future__ import annotations

import pytest

from router.notify import log
from router.notify.wire import LogLine
from tests.notify import OPENED, make_message


def test_a_line_names_event_incident_severity_title_target_and_notification() -> None:
    message = make_message(target="person:ann", address="ann@example.com",
                           notification_id="01JQ2V6T", title='[CRITICAL] INC3: "Disk" full')
    assert log.render(message, log.Settings(), now=OPENED) == LogLine(
        level="info", target="log", timeout=log.DEFAULT_TIMEOUT,
        text="trigger INC3 critical \"[CRITICAL] INC3: 'Disk' full\" to person:ann "
             "(ann@example.com) notification 01JQ2V6T")


def test_a_channel_target_and_the_channels_level() -> None:
    line = log.render(make_message(event="resolve"), log.Settings(level="warning"),
                      now=OPENED)
    assert (line.level, line.text) == (
        "warning", 'resolve INC3 critical "INC3 Disk full on db-1" to channel:pager '
                   "notification n1")


@pytest.mark.parametrize("title", ["INC3\nDisk full", "INC3\r\n  Disk\tfull", "INC3 Disk full"])
def test_the_line_is_one_line_whatever_the_title(title: str) -> None:
    line = log.render(make_message(title=title, address="a\nb", target="person:ann"),
                      log.Settings(), now=OPENED)
    assert line.text == ('trigger INC3 critical "INC3 Disk full" to person:ann (a b) '
                         "notification n1")


def test_a_test_notification_says_so() -> None:
    assert log.render(make_message(test=True), log.Settings(), now=OPENED).text.startswith(
        'test trigger INC3 critical "INC3 Disk full on db-1"')


def test_writing_to_the_log_is_always_delivered() -> None:
    assert log.classify(None).kind == "ok"
