"""A JSON webhook read through a field mapping from the config (room: alerts.formats; imports
alerts.model, errors).

For tools router has no format of its own for (Opsgenie, a custom Datadog or Grafana
payload, an in-house script): the config's `settings.generic_webhooks` names, for one
webhook, the path of each field in the body, and `parse` reads the body through it. The
mapping arrives as any object with the attributes of GenericMappingLike; the config's
GenericWebhook is one, and this module may not import the config.

| mapping key      | Alert field                                                            |
| ---------------- | ---------------------------------------------------------------------- |
| summary          | summary (required, not blank)                                          |
| severity         | severity: severity_map, else router's own name, else default_severity, |
|                  | else refused; absent: default_severity, else warning                   |
| status           | status, the same way with status_map and default_status; else firing   |
| dedup_key        | dedup_key (else the engine derives one)                                |
| service          | service                                                                |
| labels           | labels: a path to a mapping, or a mapping of label name -> path        |
| annotations      | annotations, as labels                                                 |
| alerts           | a batch: the list of entries, each one alert; paths are read inside    |
|                  | each entry                                                             |

Values reach the Alert as text: numbers as JSON writes them (`3`, `0.5`), booleans `true` and
`false`; a label or annotation that is a list or mapping becomes compact JSON text. `null`,
a key that is absent, a list position past the end, and empty text for the optional single
fields all count as absent. Paths (FIELD_PATH) are compiled once per text.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Protocol, TypeVar

from router.alerts.formats import _json
from router.alerts.model import Alert, Severity, Status
from router.errors import BadRequest

SOURCE_PREFIX = "generic"

_PATH_NAME = r"[A-Za-z0-9_-]+"
_PATH_KEY = r'"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"'
FIELD_PATH = re.compile(
    rf"(?:\$|{_PATH_NAME}|(?=\[))(?:\.{_PATH_NAME}|\[[0-9]+\]|\[{_PATH_KEY}\])*"
)
"""A field path, whole (fullmatch): names joined by dots, list positions in brackets, other
keys in brackets as JSON strings; `$` alone is the whole body, and a leading `$` is optional.
config/model.py holds the same pattern to check the config (it may not import this module)."""

_HEAD = re.compile(rf"\$|{_PATH_NAME}|")
_STEP = re.compile(rf"\.({_PATH_NAME})|\[([0-9]+)\]|\[({_PATH_KEY})\]")
_NAME = re.compile(_PATH_NAME)

Step = str | int
Path = tuple[Step, ...]
Choice = TypeVar("Choice", bound=StrEnum)


class GenericMappingLike(Protocol):
    """What parse reads of a mapping: paths as text, the maps, the defaults.

    Read-only properties, so a frozen dataclass satisfies it. Map values and defaults are
    router's own names (`critical`, `resolved`, ...).
    """

    @property
    def name(self) -> str: ...
    @property
    def summary(self) -> str: ...
    @property
    def severity(self) -> str | None: ...
    @property
    def status(self) -> str | None: ...
    @property
    def dedup_key(self) -> str | None: ...
    @property
    def service(self) -> str | None: ...
    @property
    def labels(self) -> str | Mapping[str, str] | None: ...
    @property
    def annotations(self) -> str | Mapping[str, str] | None: ...
    @property
    def severity_map(self) -> Mapping[str, str]: ...
    @property
    def status_map(self) -> Mapping[str, str]: ...
    @property
    def alerts(self) -> str | None: ...
    @property
    def default_severity(self) -> str | None: ...
    @property
    def default_status(self) -> str | None: ...


def parse(
    body: bytes, headers: Mapping[str, str], mapping: GenericMappingLike, *,
    limits: _json.FieldLimits,
) -> list[Alert]:
    """The alerts of one webhook body, read through `mapping`, each within `limits`.

    Raises:
        BadRequest: naming the field at fault, as a path into the body (`alert.message`,
            `items[2].title`).
        ValueError: a path of `mapping` is not a field path (the config refuses those).
    """
    return parse_document(_json.decode(body), mapping, limits=limits)


def parse_document(document: object, mapping: GenericMappingLike, *,
                   limits: _json.FieldLimits) -> list[Alert]:
    """`parse` of a body already decoded from JSON (detect.py decodes it once)."""
    if mapping.alerts is None:
        return [_parse_alert(document, "", mapping, limits)]
    steps = compile_path(mapping.alerts)
    field = field_name("", steps)
    entries = _lookup(document, steps, "")
    if entries is None:
        raise BadRequest(field, "is required")
    entries = _json.bounded(entries, field)
    return [_parse_alert(entry, _json.index(field, position), mapping, limits)
            for position, entry in enumerate(entries)]


@dataclass(frozen=True, slots=True)
class GenericFormat:
    """One declared generic webhook as a `Format` (contract.py): `parse` through `mapping`.

    Its alerts' source is `generic:<name>`; the arrival instant is not needed.
    """

    mapping: GenericMappingLike

    def parse(self, body: bytes, headers: Mapping[str, str], *, limits: _json.FieldLimits,
              now: datetime) -> list[Alert]:
        """The alerts of one webhook body (module `parse`)."""
        return parse(body, headers, self.mapping, limits=limits)


@functools.lru_cache(maxsize=1024)
def compile_path(text: str) -> Path:
    """The steps of a field path: names and keys (str), list positions (int).

    Raises:
        ValueError: `text` is not a field path.
    """
    if FIELD_PATH.fullmatch(text) is None:
        raise ValueError(f"{text!r} is not a field path")
    head = _HEAD.match(text)
    assert head is not None  # the empty alternative always matches
    steps: list[Step] = [head[0]] if head[0] not in ("", "$") else []
    for match in _STEP.finditer(text, head.end()):
        name, position, key = match.groups()
        if name is not None:
            steps.append(name)
        elif position is not None:
            steps.append(int(position))
        else:
            steps.append(json.loads(key))
    return tuple(steps)


def field_name(prefix: str, steps: Path) -> str:
    """The path of a field for messages, jq-like as every format's: `alert.tags[0]`."""
    path = prefix
    for step in steps:
        if isinstance(step, int):
            path = _json.index(path, step)
        elif _NAME.fullmatch(step):
            path = _json.member(path, step)
        else:
            path = f"{path}[{json.dumps(step, ensure_ascii=False)}]"
    return path


def _parse_alert(
    entry: object, prefix: str, mapping: GenericMappingLike, limits: _json.FieldLimits,
) -> Alert:
    summary, field = _text(entry, mapping.summary, prefix)
    if summary is None:
        raise BadRequest(field, "is required")
    if not summary.strip():
        raise BadRequest(field, "must not be empty")
    return Alert(
        summary=summary,
        source=f"{SOURCE_PREFIX}:{mapping.name}",
        severity=_choose(entry, mapping.severity, prefix, mapping.severity_map,
                         mapping.default_severity, Severity, Severity.WARNING),
        status=_choose(entry, mapping.status, prefix, mapping.status_map,
                       mapping.default_status, Status, Status.FIRING),
        labels=_text_map(entry, mapping.labels, prefix, "label", limits),
        annotations=_text_map(entry, mapping.annotations, prefix, "annotation", limits),
        service=_optional_text(entry, mapping.service, prefix),
        dedup_key=_optional_text(entry, mapping.dedup_key, prefix),
    )


def _lookup(document: object, steps: Path, prefix: str) -> object:
    """The value at `steps` below `document`; None when a step finds nothing."""
    value, path = document, prefix
    for step in steps:
        if value is None:
            return None
        if isinstance(step, int):
            if not isinstance(value, list):
                raise BadRequest(path, f"expected a list, got {_json.kind(value)}")
            value = value[step] if step < len(value) else None
        else:
            if not isinstance(value, dict):
                raise BadRequest(path, f"expected a mapping, got {_json.kind(value)}")
            value = value.get(step)
        path = field_name(path, (step,))
    return value


def _text(entry: object, path: str, prefix: str) -> tuple[str | None, str]:
    """The text at `path` (numbers and booleans as JSON writes them), and its field name."""
    steps = compile_path(path)
    field = field_name(prefix, steps)
    value = _lookup(entry, steps, prefix)
    if isinstance(value, list | dict):
        raise BadRequest(field, f"expected text, a number or a boolean, got {_json.kind(value)}")
    return (None if value is None else _json.detail_text(value, field)), field


def _optional_text(entry: object, path: str | None, prefix: str) -> str | None:
    if path is None:
        return None
    return _text(entry, path, prefix)[0] or None


def _choose(
    entry: object,
    path: str | None,
    prefix: str,
    table: Mapping[str, str],
    default: str | None,
    kind: type[Choice],
    fallback: Choice,
) -> Choice:
    """The sender's value through `table`, else router's own name, else `default`."""
    value, field = _text(entry, path, prefix) if path is not None else (None, "")
    if not value:
        return kind(default) if default is not None else fallback
    if value in table:
        return kind(table[value])
    if value in {member.value for member in kind}:
        return kind(value)
    if default is not None:
        return kind(default)
    accepted = [*table, *(member.value for member in kind if member.value not in table)]
    raise BadRequest(field, f"expected one of {', '.join(accepted)}; got {_json.quote(value)}")


def _text_map(
    entry: object, spec: str | Mapping[str, str] | None, prefix: str, noun: str,
    limits: _json.FieldLimits,
) -> Mapping[str, str]:
    """A path to a mapping whose entries all become text, or name -> path; nulls skipped."""
    if spec is None:
        return _json.EMPTY
    if not isinstance(spec, str):
        found: dict[str, str] = {}
        fields: dict[str, str] = {}
        for name, path in spec.items():
            steps = compile_path(path)
            value = _lookup(entry, steps, prefix)
            if value is not None:
                fields[name] = field_name(prefix, steps)
                found[name] = _json.detail_text(value, fields[name])
        _json.check_sizes(found, prefix, noun, limits, fields.__getitem__)
        return MappingProxyType(found)
    steps = compile_path(spec)
    field = field_name(prefix, steps)
    value = _lookup(entry, steps, prefix)
    if value is None:
        return _json.EMPTY
    if not isinstance(value, dict):
        raise BadRequest(field, f"expected a mapping of {noun} names to values, "
                                f"got {_json.kind(value)}")
    if "" in value:
        raise BadRequest(field, f"{noun} names must not be empty")
    items = {name: _json.detail_text(item, field_name(field, (name,)))
             for name, item in value.items() if item is not None}
    _json.check_sizes(items, field, noun, limits, lambda name: field_name(field, (name,)))
    return MappingProxyType(items)
