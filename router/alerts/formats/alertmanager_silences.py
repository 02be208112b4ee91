"""Alertmanager's silences as JSON (room: alerts.formats; imports alerts.model, errors).

A silence's matchers are `{"name", "value", "isRegex", "isEqual"}` objects (what
`POST /api/v2/silences` takes), and a list of silences is what `GET /api/v2/silences`
answers, Alertmanager's and router's alike, and what `amtool silence query -o json` writes.
The server's silence API and `router test`'s `silences_file` both read them here, so a silence
means the same to a test as to the daemon; the matching itself is `core.suppression`'s.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from router.alerts.formats import _json
from router.alerts.model import Silence, SilenceMatcher
from router.errors import BadRequest

_OPERATORS = {(False, True): "=", (False, False): "!=", (True, True): "=~",
              (True, False): "!~"}
"""(isRegex, isEqual) -> router's operator."""


def from_matcher(document: Any, field: str) -> tuple[str, str, str]:
    """A silence's `{"name", "value", "isRegex", "isEqual"}` as (name, operator, value);
    `isEqual` defaults to true, as in Alertmanager.

    Raises:
        BadRequest: naming `field` (or its member), for a missing or mistyped member or a
            regex that does not compile.
    """
    if not isinstance(document, dict):
        raise BadRequest(field, "expected an object with name, value and isRegex")
    name, value = document.get("name"), document.get("value")
    regex, equal = document.get("isRegex"), document.get("isEqual", True)
    if not isinstance(name, str) or not name:
        raise BadRequest(f"{field}.name", "expected a non-empty label name")
    if not isinstance(value, str):
        raise BadRequest(f"{field}.value", "expected text")
    if not isinstance(regex, bool) or not isinstance(equal, bool):
        raise BadRequest(f"{field}.isRegex", "expected isRegex (and isEqual) true or false")
    operator = _OPERATORS[(regex, equal)]
    check_regex(operator, value, f"{field}.value")
    return name, operator, value


def to_matcher(name: str, operator: str, value: str) -> dict[str, Any]:
    """Router's matcher as Alertmanager writes it."""
    return {"name": name, "value": value, "isRegex": "~" in operator,
            "isEqual": not operator.startswith("!")}


def check_regex(operator: str, value: str, field: str) -> None:
    """Raises BadRequest naming `field` when a regex operator's value does not compile."""
    if "~" in operator:
        try:
            re.compile(value)
        except re.error as error:
            raise BadRequest(field, f"bad regex {value!r}: {error}") from None


def parse(body: bytes) -> list[Silence]:
    """A JSON list of gettableSilence objects (`id`, `matchers`, `startsAt`, `endsAt`,
    `comment`, `createdBy`; `status` and `updatedAt` are ignored) as router's silences. An
    expired silence is kept: its `endsAt` says when it stopped holding alerts.

    Raises:
        BadRequest: naming the field as jq would (`[0].matchers[1].isRegex`).
    """
    entries = _json.decode(body)
    if not isinstance(entries, list):
        raise BadRequest("", f"expected a list of silences, got {_json.kind(entries)}")
    return [_silence(entry, _json.index("", position))
            for position, entry in enumerate(entries)]


def _silence(entry: object, path: str) -> Silence:
    document = _json.as_object(entry, path, "a silence object")
    matchers = document.get("matchers")
    if not isinstance(matchers, list) or not matchers:
        raise BadRequest(_json.member(path, "matchers"), "expected a non-empty list of matchers")
    checked = tuple(SilenceMatcher(name=name, operator=operator, value=value)
                    for name, operator, value in (
                        from_matcher(item, _json.index(_json.member(path, "matchers"), place))
                        for place, item in enumerate(matchers)))
    starts_at = _required_time(document, "startsAt", path)
    ends_at = _required_time(document, "endsAt", path)
    if ends_at < starts_at:
        raise BadRequest(_json.member(path, "endsAt"), "is before startsAt")
    return Silence(id=_json.required_text(document, "id", path), matchers=checked,
                   starts_at=starts_at, ends_at=ends_at,
                   reason=_json.text(document, "comment", path) or "",
                   created_by=_json.text(document, "createdBy", path) or "")


def _required_time(document: dict[str, object], key: str, path: str) -> datetime:
    moment = _json.timestamp(document, key, path)
    if moment is None:
        raise BadRequest(_json.member(path, key), "is required")
    return moment
