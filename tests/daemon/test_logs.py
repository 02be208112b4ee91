"""Log lines as JSON, text and journald stream lines, and secrets kept out of every one."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from router.cli import main
from router.config import load_config
from router.config.model import Secret
from router.daemon import logs
from router.daemon.logs import Redactor, configure, rfc3339, secrets_in, under_journal

TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
SECRET = Secret('hunter2-"quoted"\\and-slashed', "${env:SLACK_URL}")


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    """A logger of its own, kept away from the root logger and pytest's capture."""
    target = logging.getLogger("router.tests.logs")
    target.propagate = False
    yield target
    for handler in list(target.handlers):
        target.removeHandler(handler)
    target.propagate = True


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_json_lines_carry_time_level_logger_message_and_every_extra(
        logger: logging.Logger) -> None:
    stream = io.StringIO()
    configure(form="json", stream=stream, logger=logger)
    logger.info("alert accepted", extra={"incident": "INC7", "trace_id": "4bf92f35",
                                         "latency_ms": 12.5, "suppressed_by": None,
                                         "labels": {"job": "api"}})
    logger.warning("delivery failed: %s", "HTTP 500", extra={"channel": "slack"})
    first, second = (json.loads(line) for line in lines(stream))
    assert TIME.fullmatch(first.pop("time"))
    assert first == {"level": "INFO", "logger": "router.tests.logs",
                     "message": "alert accepted", "incident": "INC7",
                     "trace_id": "4bf92f35", "latency_ms": 12.5, "suppressed_by": None,
                     "labels": {"job": "api"}}
    assert second["message"] == "delivery failed: HTTP 500"
    assert (second["level"], second["channel"]) == ("WARNING", "slack")


def test_json_keeps_an_extra_that_shares_a_reserved_name(logger: logging.Logger) -> None:
    stream = io.StringIO()
    configure(form="json", stream=stream, logger=logger)
    logger.info("odd", extra={"level": "custom", "time": 3})
    document = json.loads(stream.getvalue())
    assert (document["level"], document["extra.level"], document["extra.time"]) == (
        "INFO", "custom", 3)


def test_json_exception_is_one_line_with_the_traceback(logger: logging.Logger) -> None:
    stream = io.StringIO()
    configure(form="json", stream=stream, logger=logger)
    try:
        raise RuntimeError("disk on fire")
    except RuntimeError:
        logger.exception("store failed", extra={"incident": "INC1"})
    [line] = lines(stream)
    document = json.loads(line)
    assert document["level"] == "ERROR"
    assert document["exception"].startswith("Traceback (most recent call last):")
    assert document["exception"].endswith("RuntimeError: disk on fire")


def test_text_lines_read_like_a_terminal_log(logger: logging.Logger) -> None:
    stream = io.StringIO()
    configure(form="text", stream=stream, logger=logger)
    logger.info("alert accepted", extra={"incident": "INC7", "summary": "disk full",
                                         "count": 2})
    [line] = lines(stream)
    time, rest = line.split(" ", 1)
    assert TIME.fullmatch(time)
    assert rest == ('INFO router.tests.logs: alert accepted incident=INC7 '
                    'summary="disk full" count=2')


@pytest.mark.parametrize(("level", "prefix"), [
    (logging.CRITICAL, "<2>"), (logging.ERROR, "<3>"), (logging.WARNING, "<4>"),
    (logging.INFO, "<6>"), (logging.DEBUG, "<7>"), (25, "<4>")])
def test_journal_lines_start_with_the_syslog_priority(
        logger: logging.Logger, level: int, prefix: str) -> None:
    stream = io.StringIO()
    configure(form="journal", level="debug", stream=stream, logger=logger)
    logger.log(level, "config reloaded", extra={"trigger": "signal"})
    assert lines(stream) == [
        f"{prefix}config reloaded trigger=signal logger=router.tests.logs"]


def test_journal_prefixes_every_line_of_a_traceback(logger: logging.Logger) -> None:
    stream = io.StringIO()
    configure(form="journal", stream=stream, logger=logger)
    try:
        raise ValueError("bad")
    except ValueError:
        logger.exception("handler failed")
    written = lines(stream)
    assert written[0] == "<3>handler failed logger=router.tests.logs"
    assert written[1] == "<3>Traceback (most recent call last):"
    assert written[-1] == "<3>ValueError: bad"
    assert all(line.startswith("<3>") for line in written)


def test_the_level_option_drops_lower_records(logger: logging.Logger) -> None:
    stream = io.StringIO()
    configure(form="text", level="warning", stream=stream, logger=logger)
    logger.info("routine")
    logger.warning("odd")
    assert [line.split(" ", 1)[1] for line in lines(stream)] == [
        "WARNING router.tests.logs: odd"]


def test_configuring_again_replaces_the_handler(logger: logging.Logger) -> None:
    first, second = io.StringIO(), io.StringIO()
    configure(form="text", stream=first, logger=logger)
    configure(form="json", stream=second, logger=logger)
    logger.info("once")
    assert first.getvalue() == ""
    assert json.loads(second.getvalue())["message"] == "once"


def test_unknown_form_or_level_is_refused(logger: logging.Logger) -> None:
    with pytest.raises(ValueError, match="unknown log format 'xml'"):
        configure(form="xml", logger=logger)
    with pytest.raises(ValueError, match="level 'loud'"):
        configure(form="json", level="loud", logger=logger)


@pytest.mark.parametrize("form", ["json", "text", "journal"])
def test_a_secret_logged_by_accident_never_reaches_the_line(
        logger: logging.Logger, form: str) -> None:
    stream = io.StringIO()
    redactor = configure(form=form, stream=stream, logger=logger)
    redactor.learn([SECRET])
    value = SECRET.reveal()
    logger.error("posting to %s failed", f"https://hooks.example/{value}/x",
                 extra={"url": value, "headers": {"authorization": f"Bearer {value}"},
                        "attempts": [value], value: "as a key"})
    try:
        raise ConnectionError(f"cannot reach {value}")
    except ConnectionError:
        logger.exception("delivery failed")
    written = stream.getvalue()
    assert value not in written
    assert json.dumps(value) not in written and json.dumps(value)[1:-1] not in written
    assert "hunter2" not in written
    assert written.count("<secret ${env:SLACK_URL}>") == 6


def test_the_redactor_replaces_the_longest_secret_first() -> None:
    redactor = Redactor()
    redactor.learn([Secret("abcd", "${env:SHORT}"), Secret("abcdefgh", "${env:LONG}"),
                    Secret("", "${env:EMPTY}")])
    assert redactor("x abcdefgh y abcd z") == "x <secret ${env:LONG}> y <secret ${env:SHORT}> z"
    assert redactor("") == ""


def test_the_redactor_keeps_secrets_it_learnt_before() -> None:
    redactor = Redactor()
    redactor.learn([Secret("old-token-1", "${env:TOKEN}")])
    redactor.learn([Secret("new-token-2", "${env:TOKEN}")])
    assert redactor("old-token-1 new-token-2") == (
        "<secret ${env:TOKEN}> <secret ${env:TOKEN}>")


def test_every_secret_of_a_real_config_is_found(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("file-token-0123456789\n")
    (tmp_path / "router.yaml").write_text(textwrap.dedent("""
        settings:
          ingest_tokens:
            - {name: prometheus, token: "${file:token}"}
        channels:
          - {id: slack, type: slack, webhook_url: "${env:SLACK_URL}"}
          - {id: pager, type: pagerduty, routing_key: R0000000000000000000000000000009}
        """))
    config = load_config([tmp_path], environ={
        "SLACK_URL": "https://hooks.slack.com/services/T0/B0/secretsecret"})
    found = {secret.reveal(): str(secret) for secret in secrets_in(config)}
    assert found == {
        "file-token-0123456789": "<secret ${file:token}>",
        "https://hooks.slack.com/services/T0/B0/secretsecret": "<secret ${env:SLACK_URL}>",
        "R0000000000000000000000000000009": "<secret>"}
    redactor = Redactor()
    redactor.learn(secrets_in(config))
    assert redactor("POST https://hooks.slack.com/services/T0/B0/secretsecret: 404") == (
        "POST <secret ${env:SLACK_URL}>: 404")


def test_journal_is_detected_only_for_the_stream_systemd_connected(tmp_path: Path) -> None:
    with (tmp_path / "journal").open("w") as journal, (tmp_path / "other").open("w") as other:
        status = os.fstat(journal.fileno())
        environ = {"JOURNAL_STREAM": f"{status.st_dev}:{status.st_ino}"}
        assert under_journal(journal, environ)
        assert not under_journal(other, environ)
        assert not under_journal(journal, {})
        assert not under_journal(journal, {"JOURNAL_STREAM": "garbage"})
        assert not under_journal(io.StringIO(), environ)


def test_configure_picks_journal_under_systemd_and_json_elsewhere(
        tmp_path: Path, logger: logging.Logger) -> None:
    with (tmp_path / "journal").open("w+") as journal:
        status = os.fstat(journal.fileno())
        configure(stream=journal, logger=logger,  # type: ignore[arg-type]
                  environ={"JOURNAL_STREAM": f"{status.st_dev}:{status.st_ino}"})
        logger.info("started")
        journal.seek(0)
        assert journal.read() == "<6>started logger=router.tests.logs\n"
    stream = io.StringIO()
    configure(stream=stream, logger=logger, environ={})
    logger.info("started")
    assert json.loads(stream.getvalue())["message"] == "started"


@pytest.mark.parametrize(("option", "value"), [("--log-format", "xml"), ("--log-level", "loud")])
def test_router_run_refuses_an_unknown_log_option(option: str, value: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["run", option, value], out, err) == 2
    assert f"argument {option}: invalid choice: '{value}'" in err.getvalue()


def test_a_url_that_does_not_parse_loses_its_password_in_every_form(
        logger: logging.Logger) -> None:
    """Issue 13, item 4: the redactor knows only the config's Secret values, and a
    mistyped webhook URL is none; its user info and query go all the same."""
    for form in ("json", "text", "journal"):
        stream = io.StringIO()
        configure(form=form, stream=stream, logger=logger)
        logger.warning("notification retry: webhook %s", "htp//ops:hunter2@example.com/hook",
                       extra={"target": "htp//ops:hunter2@example.com/hook?key=hunter2",
                              "error": "https://ops:hunter2@example.com/x?token=hunter2"})
        text = stream.getvalue()
        assert "hunter2" not in text, text
        assert "htp//example.com/hook" in text, text


def test_a_json_line_without_extra_fields_is_what_json_dumps_writes(
        logger: logging.Logger) -> None:
    stream = io.StringIO()
    configure(form="json", stream=stream, logger=logger)
    messages = ['trigger INC3 critical "[CRITICAL] INC3: Disk full" to channel:log',
                "tab\tnewline\nback\\slash \x00\x1f\x7f é 漢 \u2028 \U0001f600"]
    for message in messages:
        logger.warning("%s", message)
    written = stream.getvalue().split("\n")[:-1]  # U+2028 is no line break in a log line
    for line, message in zip(written, messages, strict=True):
        document = json.loads(line)
        assert line == json.dumps(document, ensure_ascii=False)
        assert (document["level"], document["logger"], document["message"]) == (
            "WARNING", "router.tests.logs", message)


def test_the_time_is_written_as_datetime_writes_it() -> None:
    moments = [0.0, 1.0, 0.9995, 0.9999995, 1764892799.9996, 1764892800.0004,
               *(1764892800 + index * 0.000_137_1 for index in range(20_000))]
    for moment in moments:
        expected = datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")
        assert rfc3339(moment) == expected.replace("+00:00", "Z"), moment


@pytest.mark.parametrize("form", ["json", "text", "journal"])
def test_lines_are_the_same_without_the_caller_thread_and_process(
        form: str, logger: logging.Logger, monkeypatch: pytest.MonkeyPatch) -> None:
    """The daemon's `configure` lets the logging module skip what no line shows (issue 15):
    each form writes the very same lines, a traceback's included."""
    stream = io.StringIO()
    configure(form=form, stream=stream, logger=logger)

    def write() -> None:
        logger.info("page", extra={"channel": "log"})
        logger.warning("plain")
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("failed")

    write()
    for name in ("logThreads", "logProcesses", "logMultiprocessing", "_srcfile"):
        monkeypatch.setattr(logging, name, getattr(logging, name))  # restored after
    logs.skip_unwritten_fields()  # as the daemon's `configure` of the root logger does
    assert (logging.logThreads, vars(logging)["_srcfile"]) == (False, None)
    write()
    written = [re.sub(r"\d\d:\d\d:\d\d\.\d\d\dZ?", "T", line) for line in lines(stream)]
    half = len(written) // 2
    assert half >= 3
    assert written[:half] == written[half:]
