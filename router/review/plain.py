"""Config objects as plain values, and the fields in which two of them differ (room: review;
imports config.model).

Comparing two configs field by field needs values that forget where they were written (a
route moved down a file is the same route) and read as a person writes them: `15m`, not
`datetime.timedelta(seconds=900)`; `team=db`, not a Matcher; `rota:database`, not a Target.
A secret is never shown: it reads as its `${...}` reference, or `(secret)` when written
inline (so a change of an inline secret's value is not seen).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from router.config.model import Matcher, Secret, Target, TemplateText, WeeklyWindow

Plain = Any
"""None, bool, int, float, str, list of Plain or dict of str to Plain: JSON as is."""

_UNITS = (("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
_REFERENCE = re.compile(r"\$\{(?:env|file):[^}]+\}")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclasses.dataclass(frozen=True, slots=True)
class FieldChange:
    """`field` (a path such as `levels[1].delay`) was `before` and is `after`; None on one
    side when the field (a level, say) is new or gone."""

    field: str
    before: Plain
    after: Plain


def duration(span: timedelta) -> str:
    """`1h30m`, `2w`, `0s`: the config's own notation."""
    seconds = int(span.total_seconds())
    if seconds == 0:
        return "0s"
    parts = []
    for unit, size in _UNITS:
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)


def plain(value: object) -> Plain:
    """`value` as JSON-ready data, without places; see the module docstring."""
    special = _special(value)
    if special is not None:
        return special
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: plain(getattr(value, field.name))
                for field in dataclasses.fields(value) if field.name != "where"}
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, frozenset | set):
        return sorted(plain(item) for item in value)
    if isinstance(value, tuple | list):
        return [plain(item) for item in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _special(value: object) -> Plain:
    if isinstance(value, Secret):
        if value.reference:
            return value.reference
        # unresolved (router diff loads with resolve_secrets=False): the reference as written
        return value.value if _REFERENCE.fullmatch(value.value) else "(secret)"
    if isinstance(value, Matcher):
        return f"{value.name}{value.operator}{value.value}"
    if isinstance(value, Target):
        return f"{value.kind}:{value.id}"
    if isinstance(value, TemplateText):
        return value.text
    if isinstance(value, WeeklyWindow):
        days = ",".join(_DAYS[day] for day in sorted(value.days))
        return f"{days} {value.start.strftime('%H:%M')}-{value.end.strftime('%H:%M')}"
    if isinstance(value, timedelta):
        return duration(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, ZoneInfo):
        return value.key
    if isinstance(value, re.Pattern):
        return value.pattern
    return None


def changes(before: Plain, after: Plain, path: str = "") -> list[FieldChange]:
    """Where two plain values differ: dicts key by key, lists of dicts item by item (an
    item only one side has is a change from or to None), anything else whole (its dicts
    without their unset keys)."""
    if before == after:
        return []
    if isinstance(before, dict) and isinstance(after, dict):
        found = []
        for key in dict.fromkeys((*before, *after)):
            inner = f"{path}.{key}" if path else key
            found += changes(before.get(key), after.get(key), inner)
        return found
    if _records(before) and _records(after):
        found = []
        for index in range(max(len(before), len(after))):
            found += changes(before[index] if index < len(before) else None,
                             after[index] if index < len(after) else None, f"{path}[{index}]")
        return found
    return [FieldChange(path, _set(before), _set(after))]


def _set(value: Plain) -> Plain:
    """A value shown whole (a level added or removed) without the keys it leaves unset: a
    reviewer reads `{"delay": "5m"}`, not `"retry_interval": null, "skip_empty": null`."""
    if isinstance(value, dict):
        return {key: _set(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_set(item) for item in value]
    return value


def _records(value: Plain) -> bool:
    return isinstance(value, list) and all(isinstance(item, dict) for item in value)
