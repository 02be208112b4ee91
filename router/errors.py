"""Errors and result values that carry a place (room: errors; imports nothing from router).

Every problem a user can cause is reported as a value that says where it happened and what was
expected, so the CLI and the servers can print it instead of a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal


@dataclass(frozen=True, slots=True, order=True)
class Where:
    """A place in a config file: 1-based line and column, as editors count them."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if not self.line:
            return self.file
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong (or, with severity 'warning', suspicious) in the config."""

    where: Where
    path: str
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        prefix = f"{self.where}: " if self.where.file else ""
        path = f"{self.path}: " if self.path else ""
        label = "warning: " if self.severity == "warning" else ""
        return f"{prefix}{label}{path}{self.message}"

    def to_json(self) -> dict[str, object]:
        return {
            "file": self.where.file,
            "line": self.where.line,
            "column": self.where.column,
            "path": self.path,
            "message": self.message,
            "severity": self.severity,
        }


class ConfigInvalid(Exception):
    """Raised once, after every check ran, with all the problems found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda problem: (problem.where, problem.path))
        super().__init__("\n".join(str(problem) for problem in self.problems))


class BadRequest(Exception):
    """Input from a sender that cannot be accepted; names the field at fault.

    A plain class, not a frozen dataclass: Python sets `__traceback__` on an exception as
    it passes through `contextlib` and `trio`, which a frozen, slotted one refuses.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(field, message)
        self.field = field
        self.message = message

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, BadRequest)
                and (self.field, self.message) == (other.field, other.message))

    def __hash__(self) -> int:
        return hash((self.field, self.message))

    def __repr__(self) -> str:
        return f"BadRequest(field={self.field!r}, message={self.message!r})"

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


def json_kind(value: object) -> str:
    """What a JSON value is, in words, for a BadRequest's message ("expected text, got a
    number"): the inbound formats and the engine's request readers say it alike."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    return "a mapping"


class NotFound(LookupError):
    """No such thing where it is named: an incident, a silence, an override, a rota.

    The API answers 404, the socket 404, the CLI prints the message and exits 1. A
    `LookupError` so callers that caught the engine's old `LookupError` keep working; the
    servers map only this class, so a stray `KeyError` (a bug) stays a 500.
    A plain class, not a dataclass, for the same reason as BadRequest.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class Conflict(ValueError):
    """Not allowed in the thing's present state: escalating a resolved incident, or one at
    the last level of its policy. The API answers 409; a `ValueError` for the same reason
    `NotFound` is a `LookupError`, and a stray `ValueError` stays a 500.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one delivery attempt came to: delivered, try again later, or failed for good."""

    kind: Literal["ok", "retry", "failed"]
    reason: str = ""
    after: timedelta | None = None

    @classmethod
    def ok(cls) -> Outcome:
        return cls("ok")

    @classmethod
    def retry(cls, reason: str, after: timedelta | None = None) -> Outcome:
        return cls("retry", reason, after)

    @classmethod
    def failed(cls, reason: str) -> Outcome:
        return cls("failed", reason)



class StoreError(Exception):
    """The store failed: a file it cannot open or a newer router's schema, or a write that
    broke a rule of the data (a duplicate override id). The store raises its own error, with
    the database's in `__cause__` for the log, so no caller has to know which database is
    underneath (SQLite today). A unit of work's own exception passes through unchanged.
    """


class StoreUnavailable(StoreError):
    """The store cannot write now (a full disk, an I/O error, a read-only file): a condition
    of the host, not of the request, that may pass. Servers answer 503 with `retry_after`
    seconds; the deliverer and the scheduler back off. `cause` is SQLite's own words
    ("database or disk is full"), one per kind of failure, so logs can be grouped by it.

    A plain class, not a dataclass, for the same reason as BadRequest.
    """

    retry_after = 10
    """Seconds a sender is asked to wait (Retry-After): about how often the store is tried."""

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause

    def __str__(self) -> str:
        return f"the store cannot write: {self.cause}"


class StoreBusy(StoreUnavailable):
    """A unit lost a conflict with another node's transaction (PostgreSQL broke a deadlock
    or a serialization failure with it, or cancelled its statement) once more after the
    store's one retry: its writes are undone, but the store is well, so it is not marked
    unavailable (no /readyz 503, no log line). A StoreUnavailable so that every caller's
    back-off applies and servers answer 503, asked to retry after `retry_after` seconds;
    the deliverer does not send what it could not claim (another node holds it).
    """

    retry_after = 1

    def __str__(self) -> str:
        return f"the store is busy: {self.cause}"
