"""The typed path of the inbound formats (room: alerts.formats; imports alerts.model, errors).

The hot formats decode a body with msgspec straight into structs of the fields they read;
these helpers check what msgspec cannot (limits, timestamps, choices) on those values. Their
errors need no wording: any refusal on the typed path sends the body down the careful path
(`or_careful`), over plain JSON values in `_json`, which names the field at fault.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import TypeVar

from router.alerts.formats._json import (
    EMPTY,
    TYPED_ERRORS,
    FieldLimits,
    check_sizes,
    detail_text,
    parse_time,
)
from router.errors import BadRequest

Choice = TypeVar("Choice")
Result = TypeVar("Result")


def or_careful(typed: Callable[[], Result], careful: Callable[[], Result]) -> Result:
    """`typed()`, the fast path over msgspec structs; if it refuses the body in any way,
    `careful()`, the path over plain JSON values that names the field at fault in the
    project's words. Bad input is rare and costs one more parse; messages are worded in one
    place only, and both paths give equal alerts for a body both accept (the tests compare
    them)."""
    try:
        return typed()
    except (*TYPED_ERRORS, BadRequest):
        return careful()


def text_map(items: dict[str, str] | None, noun: str, limits: FieldLimits) -> Mapping[str, str]:
    """Labels or annotations msgspec decoded as text to text, checked as `_json.text_map`
    checks them.

    Raises:
        BadRequest: an empty name or a size over `limits` (the careful path words it).
    """
    if not items:
        return EMPTY
    if "" in items:
        raise BadRequest("", f"{noun} names must not be empty")
    check_sizes(items, "", noun, limits)
    return MappingProxyType(items)


def timestamp(value: str | None) -> datetime | None:
    """`parse_time` of an optional timestamp msgspec decoded as text.

    Raises:
        BadRequest: not an RFC 3339 instant (the careful path words it).
    """
    return None if value is None else parse_time(value, "")


def detail_map(details: dict[str, object] | None) -> Mapping[str, str]:
    """`_json.detail_map` of a mapping msgspec decoded."""
    if not details:
        return EMPTY
    return MappingProxyType({name: detail_text(value, name) for name, value in details.items()})


def choice(value: str | None, choices: Mapping[str, Choice],
           default: Choice | None = None) -> Choice:
    """`_json.choice` of a value msgspec decoded as text.

    Raises:
        BadRequest: absent without a default, or not one of `choices` (the careful path
            words it).
    """
    found = default if value is None else choices.get(value)
    if found is None:
        raise BadRequest("", "not one of the choices")
    return found
