"""Incident and notification ids (room: engine).
"""

from __future__ import annotations

import os
import time

from router.errors import BadRequest
from router.store.outbox import Attempt as Attempt  # re-exported for server and cli


def time_ordered_id() -> str:
    """A fresh id: 32 hex digits like `uuid4().hex`, 72 of its bits random, led by the time
    in microseconds. Outbox ids (its primary key) then append to their index instead of each
    dirtying a random page of it, every one of which a commit must write and fsync. The time
    only orders ids; nothing decides by it (the Clock does that)."""
    try:
        tail = _RANDOM.pop()  # atomic: the store's thread and trio's both make ids
    except IndexError:
        block = os.urandom(9 * _BLOCK).hex()
        _RANDOM.extend(block[start:start + 18] for start in range(0, len(block), 18))
        tail = _RANDOM.pop()
    return f"{time.time_ns() // 1000:014x}{tail}"


# The random parts of the next ids, drawn from the OS a block at a time: one getrandom call
# per id cost more than the rest of making it. Emptied in a forked child, which must not
# hand out its parent's.
_BLOCK = 256
_RANDOM: list[str] = []
os.register_at_fork(after_in_child=_RANDOM.clear)


def parse_incident_id(text: str) -> int:
    """`INC12` or `12` -> 12; anything else is a BadRequest."""
    digits = text[3:] if text.upper().startswith("INC") else text
    # ASCII only (int() refuses '²', which isdigit() accepts); at most 18 digits, so the
    # number fits SQLite's 64-bit INTEGER instead of overflowing in the store (a 500).
    if not digits.isascii() or not digits.isdigit() or len(digits) > 18:
        raise BadRequest("incident_id", f"expected an incident id like INC12, got {text!r}")
    return int(digits)
