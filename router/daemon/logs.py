"""Log lines: one event per line as JSON, plain text or journald's stream format, with every
known secret value replaced before a line is written (room: logs; imports config.model).

The modules log with `logging.getLogger(__name__)` and pass what an event is about as
`extra=` fields (`incident`, `trace_id`, `channel`, `status`, `latency_ms`, ...); this module
decides how a record becomes a line:
- `json` (the default): `{"time", "level", "logger", "message", ...every extra field}`,
  time in RFC 3339 UTC with milliseconds, so a log shipper needs no parsing rules;
- `text`: `TIME LEVEL LOGGER: message key=value ...` for a terminal;
- `journal`: `<N>message key=value ...` with the syslog priority prefix sd-daemon(3)
  describes; journald strips it into PRIORITY and adds its own timestamp. Chosen by itself
  when stderr is the stream `$JOURNAL_STREAM` names, that is when running under systemd.

Secrets: a `Redactor` knows the values of the config's `Secret`s (`secrets_in(config)`; the
daemon teaches it at start and after every reload) and every formatter passes each text it
writes, and the finished line, through it. So a secret that some code logs by accident (in a
URL, an exception, an extra field) reaches the log as `<secret ${env:NAME}>`.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import logging
import math
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, date, datetime
from enum import Enum
from json.encoder import encode_basestring
from typing import Any, TextIO

from router.config.model import Secret
from router.redaction import redact_urls

FORMATS = ("json", "text", "journal")
LEVELS = ("debug", "info", "warning", "error")
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message", "asctime", "taskName"}
"""Attributes every LogRecord has; anything else on a record came from `extra=`."""
_PRIORITIES = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6,
               logging.DEBUG: 7}
_QUIET = ("watchfiles", "httpx", "httpcore")
"""Libraries that log at INFO once per file change or HTTP request; the router logs its own
event for each (a reload, a delivery attempt), so theirs are kept to warnings."""
_BARE = re.compile(r'[^\s"=\\]+')
_BARE_JSON = '{"time": %s, "level": %s, "logger": %s, "message": %s}'
"""A JSON line with no extra field (a log channel's page), as json.dumps writes it."""


class Redactor:
    """Text in, text with every known secret value replaced by `<secret REFERENCE>` out.

    It only learns, never forgets: a secret rotated away by a reload may still sit in a
    message being written, and a retired secret is still a secret. Safe to call from any
    thread (the store and SMTP log from worker threads): `learn` swaps its state whole.
    """

    def __init__(self) -> None:
        self._state: tuple[dict[str, str], re.Pattern[str] | None] = ({}, None)

    def learn(self, secrets: Iterable[Secret]) -> None:
        replacements = dict(self._state[0])
        for secret in secrets:
            value = secret.reveal()
            if value:
                replacements.setdefault(value, str(secret))
        # Longest first, so a secret that contains another is replaced whole.
        ordered = sorted(replacements, key=len, reverse=True)
        pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None
        self._state = (replacements, pattern)

    def __call__(self, text: str) -> str:
        """The known secret values replaced, then every URL's user info and query removed
        (router/redaction.py): a URL that does not parse is not a known value."""
        replacements, pattern = self._state
        if not text:
            return text
        if pattern is not None:
            text = pattern.sub(lambda match: replacements[match.group()], text)
        return redact_urls(text)


def secrets_in(value: object) -> Iterator[Secret]:
    """Every `Secret` inside a config (or any tree of dataclasses, mappings and tuples)."""
    seen: set[int] = set()
    pending: list[object] = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, Secret):
            yield item
        elif (item is None or isinstance(item, str | int | float | bool | date | Enum)
              or id(item) in seen):
            continue
        elif dataclasses.is_dataclass(item) and not isinstance(item, type):
            seen.add(id(item))
            pending.extend(getattr(item, field.name) for field in dataclasses.fields(item))
        elif isinstance(item, Mapping):
            seen.add(id(item))
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, tuple | list | set | frozenset):
            seen.add(id(item))
            pending.extend(item)


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The `extra=` fields of a record, in the order they were given."""
    return {key: value for key, value in vars(record).items() if key not in _STANDARD}


def rfc3339(created: float) -> str:
    """A record's time as RFC 3339 UTC with milliseconds: 2026-03-01T09:30:00.123Z.

    The text up to the second is kept from the last record (most lines share it): formatting
    a datetime cost a fifth of a log line (issue 15)."""
    seconds, fraction = divmod(created, 1)
    micros = round(fraction * 1_000_000)  # as datetime.fromtimestamp rounds
    if micros >= 1_000_000:
        seconds, micros = seconds + 1, micros - 1_000_000
    return f"{_second(int(seconds))}.{micros // 1000:03d}Z"


@functools.lru_cache(maxsize=4)
def _second(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")[:-6]


def _plain(value: Any, redact: Callable[[str], str]) -> Any:
    """A value as JSON can hold it, every text in it redacted."""
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Enum):
        return _plain(value.value, redact)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {redact(str(key)): _plain(item, redact) for key, item in value.items()}
    if isinstance(value, tuple | list | set | frozenset):
        return [_plain(item, redact) for item in value]
    return redact(str(value))  # a Secret prints as <secret ...>


class _Formatter(logging.Formatter):
    def __init__(self, redact: Callable[[str], str]) -> None:
        super().__init__()
        self.redact = redact

    def parts(self, record: logging.LogRecord) -> tuple[str, dict[str, Any], str | None]:
        """The message, the extra fields and the traceback (if any), each redacted."""
        message = self.redact(record.getMessage())
        fields = {self.redact(key): _plain(value, self.redact)
                  for key, value in extra_fields(record).items()}
        trace = None
        if record.exc_info:
            trace = self.formatException(record.exc_info)
        elif record.exc_text:
            trace = record.exc_text
        if record.stack_info:
            trace = f"{trace}\n{self.formatStack(record.stack_info)}" if trace else \
                self.formatStack(record.stack_info)
        return message, fields, self.redact(trace) if trace else None


def _logfmt(fields: Mapping[str, Any]) -> str:
    """`key=value` pairs; a value with spaces, quotes or `=` is quoted as a JSON string."""
    pairs = []
    for key, value in fields.items():
        if isinstance(value, str):
            text = value if _BARE.fullmatch(value) else json.dumps(value, ensure_ascii=False)
        else:
            text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        pairs.append(f"{key}={text}")
    return " ".join(pairs)


class JsonFormatter(_Formatter):
    """One JSON object per line: time, level, logger, message, then the extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        message, fields, trace = self.parts(record)
        if not fields and not trace:  # json.dumps' very text, without building a document
            return self.redact(_BARE_JSON % tuple(map(encode_basestring, (
                rfc3339(record.created), record.levelname, record.name, message))))
        document: dict[str, Any] = {"time": rfc3339(record.created),
                                    "level": record.levelname, "logger": record.name,
                                    "message": message}
        for key, value in fields.items():
            document[f"extra.{key}" if key in document else key] = value
        if trace:
            document["exception"] = trace
        return self.redact(json.dumps(document, ensure_ascii=False))


class TextFormatter(_Formatter):
    """`TIME LEVEL LOGGER: message key=value ...` for a person at a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        message, fields, trace = self.parts(record)
        line = f"{rfc3339(record.created)} {record.levelname} {record.name}: {message}"
        if fields:
            line = f"{line} {_logfmt(fields)}"
        return self.redact(f"{line}\n{trace}" if trace else line)


class JournalFormatter(_Formatter):
    """`<N>message key=value ... logger=NAME`, every line of it prefixed, so a traceback
    stays at the record's priority in the journal (journald reads each line as an entry)."""

    def format(self, record: logging.LogRecord) -> str:
        message, fields, trace = self.parts(record)
        line = f"{message} {_logfmt({**fields, 'logger': record.name})}"
        text = f"{line}\n{trace}" if trace else line
        priority = _PRIORITIES.get(record.levelno, _nearest_priority(record.levelno))
        return self.redact("\n".join(f"<{priority}>{part}" for part in text.splitlines()))


def _nearest_priority(level: int) -> int:
    """A custom level's priority: that of the next standard level at or above it."""
    return next((priority for known, priority in sorted(_PRIORITIES.items())
                 if level <= known), 2)


_FORMATTERS: Mapping[str, type[_Formatter]] = {
    "json": JsonFormatter, "text": TextFormatter, "journal": JournalFormatter}


def under_journal(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    """True when `stream` is the journal stream systemd connected (`$JOURNAL_STREAM` is
    `DEVICE:INODE` of it); a stream redirected elsewhere by the unit or a shell is not."""
    device, _, inode = (os.environ if environ is None else environ).get(
        "JOURNAL_STREAM", "").partition(":")
    if not (device.isdigit() and inode.isdigit()):
        return False
    try:
        status = os.fstat(stream.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        return False
    return (status.st_dev, status.st_ino) == (int(device), int(inode))


class RouterHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler `configure` installs; a second `configure` replaces it."""


def configure(*, form: str | None = None, level: str = "info", stream: TextIO | None = None,
              environ: Mapping[str, str] | None = None,
              logger: logging.Logger | None = None) -> Redactor:
    """Send every record to `stream` (default stderr) in `form`, and return the redactor
    its lines pass through (teach it the config's secrets with `learn`).

    Args:
        form: json, text or journal; None picks journal under systemd, else json.
        level: the least level written (debug, info, warning, error).
        logger: the logger to configure (default: the root logger).

    Raises:
        ValueError: an unknown form or level.
    """
    stream = sys.stderr if stream is None else stream
    if form is None:
        form = "journal" if under_journal(stream, environ) else "json"
    if form not in _FORMATTERS or level.lower() not in LEVELS:
        raise ValueError(f"unknown log format {form!r} or level {level!r}")
    redactor = Redactor()
    handler = RouterHandler(stream)
    handler.setFormatter(_FORMATTERS[form](redactor))
    target = logging.getLogger() if logger is None else logger
    if logger is None:
        logging.captureWarnings(True)  # a library's warning becomes a line like any other
        skip_unwritten_fields()
    for old in [old for old in target.handlers if isinstance(old, RouterHandler)]:
        target.removeHandler(old)
    target.addHandler(handler)
    target.setLevel(level.upper())
    for name in _QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, target.level))
    return redactor


def skip_unwritten_fields() -> None:
    """No formatter here writes a record's caller (file, line, function), thread or
    process: let the logging module skip working them out (its documented optimisations),
    about a fifth of each line's CPU (issue 15: a log channel writes one per page)."""
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    setattr(logging, "_srcfile", None)  # noqa: B010 (private, documented in the HOWTO)
