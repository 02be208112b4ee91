"""Field readers the webhook formats of other tools share (room: alerts.formats; imports
alerts.model, errors).

New Relic, Opsgenie, Zabbix and PagerDuty's webhooks write ids as numbers or text, times as
epoch milliseconds, and keep labels in mappings of mixed values; these read such fields
into the alert's text, each refusal naming the field. `_json` holds the JSON grammar and
the shared limits; this holds what only these senders need.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

from router.alerts.formats import _json
from router.errors import BadRequest

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DIGITS = re.compile(r"[0-9]{1,15}", re.ASCII)


def scalar(document: Mapping[str, object], key: str, path: str) -> str | None:
    """A field that is text, a number or a boolean, as text; empty text and null count as
    absent (senders fill an unknown template variable with nothing).

    Raises:
        BadRequest: the field is a list or a mapping.
    """
    value = document.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return _json.detail_text(value, _json.member(path, key))
    raise BadRequest(_json.member(path, key), f"expected text or a number, got "
                                              f"{_json.kind(value)}")


def mapping(document: Mapping[str, object], key: str, path: str) -> Mapping[str, object]:
    """An optional nested object; absent is empty."""
    value = document.get(key)
    if value is None:
        return MappingProxyType({})
    return _json.as_object(value, _json.member(path, key))


def entries(document: Mapping[str, object], key: str, path: str) -> list[object]:
    """An optional list (absent is empty), at most MAX_ALERTS long."""
    value = document.get(key)
    if value is None:
        return []
    return _json.bounded(value, _json.member(path, key), "a list")


def epoch_milliseconds(document: Mapping[str, object], key: str,
                       path: str) -> datetime | None:
    """An instant written as milliseconds since 1970 (a number or digits as text)."""
    value = scalar(document, key, path)
    if value is None:
        return None
    field = _json.member(path, key)
    if _DIGITS.fullmatch(value.strip()) is None:
        raise BadRequest(field, f"expected milliseconds since 1970, got {_json.quote(value)}")
    try:
        return _EPOCH + timedelta(milliseconds=int(value))
    except OverflowError:
        raise BadRequest(field, f"{_json.quote(value)} is out of range") from None


def text_labels(items: Mapping[str, object], field: str) -> dict[str, str]:
    """The entries of a mapping whose values are text, numbers or booleans, as text; empty
    names, nulls and nested values are left out (they are details, not labels)."""
    labels = {}
    for name, value in items.items():
        if not name or value is None or isinstance(value, dict | list):
            continue
        labels[name] = _json.detail_text(value, _json.member(field, name))
    return labels


def names(values: Iterable[object]) -> str:
    """A list of names as one label value: text entries joined by ','."""
    return ",".join(value for value in values if isinstance(value, str) and value)


def checked(labels: Mapping[str, str], field: str, noun: str,
            limits: _json.FieldLimits) -> Mapping[str, str]:
    """`labels` (or annotations: `noun`) within `limits`, read-only."""
    _json.check_sizes(labels, field, noun, limits)
    return MappingProxyType(dict(labels))
