"""A request's JSON object, read field by field (room: engine; imports errors).

Each reader returns the field's value or raises a `BadRequest` naming the field (`path`
puts it in place: `messages[2].title`), answered 400 over HTTP, as an error line on the
socket, exit 2 in the CLI. The socket's messages (server/messages.py), a job's run reports
and alert targets (engine/job_requests.py) and direct notifications (engine/direct.py)
read their fields here, so the same mistake gets the same words everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime

from router.errors import BadRequest, json_kind


def member(path: str, name: str) -> str:
    """`name` inside `path` as jq names it: `messages[2].title`, or `title` at the top."""
    return f"{path}.{name}" if path else name


def refuse_unknown(body: Mapping[str, object], known: Iterable[str], path: str = "") -> None:
    """Raises a BadRequest naming the first field of `body` that is not one of `known`."""
    known = tuple(known)
    for name in body:
        if name not in known:
            raise BadRequest(member(path, name), f"is not a known field (expected one of "
                                                 f"{', '.join(known)})")


def optional_text(body: Mapping[str, object], name: str, path: str = "", *,
                  most: int | None = None) -> str | None:
    """Text, or None when absent or null; at most `most` characters when given."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(member(path, name), f"expected text, got {json_kind(value)}")
    if most is not None and len(value) > most:
        raise BadRequest(member(path, name), f"is longer than {most} characters "
                                             f"({len(value)})")
    return value


def text(body: Mapping[str, object], name: str, path: str = "", *,
         most: int | None = None) -> str:
    """Text that must be there and not be blank."""
    value = optional_text(body, name, path, most=most)
    if value is None:
        raise BadRequest(member(path, name), "is required")
    if not value.strip():
        raise BadRequest(member(path, name), "must not be empty")
    return value


def integer(body: Mapping[str, object], name: str, path: str = "") -> int:
    """A whole number that must be there (a boolean is not one)."""
    value = body.get(name)
    if value is None:
        raise BadRequest(member(path, name), "is required")
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(member(path, name), f"expected an integer, got {json_kind(value)}")
    return value


def seconds(body: Mapping[str, object], name: str, path: str = "") -> float | None:
    """A finite number of seconds, at least 0; None when absent or null."""
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadRequest(member(path, name), f"expected a number of seconds, got {value!r}")
    if value < 0:
        raise BadRequest(member(path, name), f"expected a number of seconds of at least 0, "
                                             f"got {value!r}")
    return float(value)


def flag(body: Mapping[str, object], name: str, path: str = "", *,
         default: bool = True) -> bool:
    """true or false; `default` when absent."""
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise BadRequest(member(path, name), f"expected true or false, got {value!r}")
    return value


def instant(body: Mapping[str, object], name: str, path: str = "") -> datetime | None:
    """An ISO 8601 instant with its offset, in the years 1000 to 9000 (shift arithmetic
    near year 1 or 9999 overflows); None when absent or null."""
    value = optional_text(body, name, path)
    if value is None:
        return None
    field = member(path, name)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(field, f"expected an ISO 8601 instant like 2026-05-24T09:30:00Z, "
                                f"got {value[:60]!r}") from None
    if moment.tzinfo is None:
        raise BadRequest(field, "needs a UTC offset (Z or +01:00)")
    if not 1000 <= moment.year <= 9000:
        raise BadRequest(field, f"expected an instant between the years 1000 and 9000, got "
                                f"{value[:60]!r}")
    return moment
