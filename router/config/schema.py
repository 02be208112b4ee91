"""Pass one: check each file's shape against the JSON Schema in schemas/ (room: config).

schemas/ is the single source of the config's shape; editors use the same files through
yaml-language-server. A document is first checked by jsonschema-rs, which is fast enough to
keep validation near the cost of parsing; only a document that fails is walked again by the
Python `jsonschema` package, whose structured errors become messages with a place and a
did-you-mean.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import functools
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import jsonschema_rs
import referencing
import referencing.jsonschema
import yaml

from router.config.load import Document, Source
from router.errors import Problem

_TYPE_WORDS = {
    "object": "a mapping", "array": "a list", "string": "text", "integer": "a whole number",
    "number": "a number", "boolean": "true or false", "null": "nothing",
}


def schema_directory() -> Path:
    """schemas/ beside the package in a checkout, or inside it in an installed wheel."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "schemas", package.parent / "schemas"):
        if (candidate / "router.json").is_file():
            return candidate
    raise FileNotFoundError(f"router's schemas/ directory is missing near {package}")


@dataclass(frozen=True, slots=True)
class _Schemas:
    base_uri: str
    root: dict[str, Any]
    resources: tuple[tuple[str, dict[str, Any]], ...]


# Identifiers, not locations: the same on every machine, so `router schema` prints the same
# document wherever it runs (`.invalid` never resolves, RFC 2606).
_BASE_URI = "https://router.invalid/schemas/"


@functools.cache
def _schemas() -> _Schemas:
    directory = schema_directory()
    resources = tuple(
        (_BASE_URI + path.relative_to(directory).as_posix(),
         json.loads(path.read_text(encoding="utf-8")))
        for path in sorted(directory.glob("channels/*.json"))
    )
    root = json.loads((directory / "router.json").read_text(encoding="utf-8"))
    return _Schemas(_BASE_URI + "router.json", root, resources)


@functools.cache
def _fast_validator() -> Any:
    schemas = _schemas()
    registry = jsonschema_rs.Registry(list(schemas.resources))
    return jsonschema_rs.validator_for(schemas.root, registry=registry,
                                       base_uri=schemas.base_uri)


@functools.cache
def _detailed_validator() -> jsonschema.protocols.Validator:
    schemas = _schemas()
    registry: referencing.Registry[Any] = referencing.Registry().with_resources(
        (uri, referencing.Resource.from_contents(
            contents, default_specification=referencing.jsonschema.DRAFT202012))
        for uri, contents in schemas.resources
    )
    return jsonschema.Draft202012Validator({**schemas.root, "$id": schemas.base_uri},
                                           registry=registry)


def bundled_schema() -> dict[str, Any]:
    """The whole schema as one document, for `router schema`."""
    schemas = _schemas()
    registry = jsonschema_rs.Registry(list(schemas.resources))
    return dict(jsonschema_rs.bundle({**schemas.root, "$id": schemas.base_uri},
                                     registry=registry))


def check_shape(document: Document, redact: Callable[[str], str] = str
                ) -> tuple[list[Problem], Document | None]:
    """Every shape problem of one document, each with its place, and the part that fits.

    A key whose value has the wrong shape is left out of the data, so the rest of its item
    can still be checked by the build (`repeat: "two"` must not hide `delay: fifteen` beside
    it); an item that still does not fit (a required key was wrong) is marked `broken`.

    Returns:
        The problems ([] when the document fits), and the document pruned of the values
        that do not fit, with the items they were in marked `partial` and those that still
        do not fit marked `broken`, so the rest can still be checked; None when no part of
        it can be used.
    """
    if _fast_validator().is_valid(document.data):
        return [], document
    errors = list(_detailed_validator().iter_errors(document.data))
    problems: list[Problem] = []
    for error in errors:
        for leaf in _leaf_errors([error]):
            problems.extend(_describe(leaf, document.source, redact))
    data = copy.deepcopy(document.data)
    pruned = {path for error in errors for leaf in _leaf_errors([error])
              if (path := _prune(data, leaf)) is not None}
    broken: set[tuple[str, int | None]] | None = set()
    if not _fast_validator().is_valid(data):
        for error in _detailed_validator().iter_errors(data):
            part = _broken_part(error)
            broken = None if part is None or broken is None else broken | part
    if broken is None:
        return problems, None
    partial = frozenset((str(path[0]), path[1]) for path in pruned
                        if len(path) >= 2 and isinstance(path[1], int)
                        and (path[0], path[1]) not in broken)
    return problems, dataclasses.replace(document, data=data, broken=frozenset(broken),
                                         partial=partial)


def _prune(data: dict[str, Any], error: jsonschema.ValidationError) -> tuple[Any, ...] | None:
    """Leave out of `data` the mapping key whose value `error` is about (or, for unknown
    keys, those keys); the path of the mapping it was in, or None if nothing was left out
    (a list item or the whole document: removing either would shift what follows)."""
    path = tuple(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        parent, keys = _walk(data, path), list(error.instance)
        known = error.schema.get("properties", {})
        keys = [key for key in keys if key not in known]
        where = path
    else:
        if not path or not isinstance(path[-1], str):
            return None
        parent, keys, where = _walk(data, path[:-1]), [path[-1]], path[:-1]
    if not isinstance(parent, dict):
        return None
    for key in keys:
        parent.pop(key, None)
    return where


def _walk(data: Any, path: tuple[Any, ...]) -> Any:
    """The value at `path` in `data`, or None when an earlier prune removed it."""
    for part in path:
        present = (part in data if isinstance(data, dict) else
                   isinstance(data, list) and isinstance(part, int) and part < len(data))
        if not present:
            return None
        data = data[part]
    return data


def _broken_part(error: jsonschema.ValidationError) -> set[tuple[str, int | None]] | None:
    """The list items (section, index) or whole sections (section, None) an error spoils."""
    path = list(error.absolute_path)
    if not path:
        if error.validator != "additionalProperties" or not isinstance(error.instance, dict):
            return None
        known = error.schema.get("properties", {})
        return {(str(key), None) for key in error.instance if key not in known}
    if len(path) >= 2 and isinstance(path[1], int):
        return {(str(path[0]), path[1])}
    return {(str(path[0]), None)}


def _leaf_errors(
    errors: Iterable[jsonschema.ValidationError],
) -> Iterator[jsonschema.ValidationError]:
    """Errors to show: a oneOf/anyOf failure speaks through its own `x-expected` if it has
    one, else through the alternative that got furthest (jsonschema's best_match)."""
    for error in errors:
        if error.context and "x-expected" not in error.schema:
            yield from _leaf_errors([jsonschema.exceptions.best_match(error.context)])
        else:
            yield error


def _describe(error: jsonschema.ValidationError, root: Source,
              redact: Callable[[str], str]) -> list[Problem]:
    source = root
    for part in error.absolute_path:
        source = source.at(part)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        return _unknown_keys(error, source)
    expected = error.schema.get("x-expected") if isinstance(error.schema, dict) else None
    message = _message(error, expected) + _quote_hint(error, source)
    return [Problem(source.where, source.path, redact(message))]


def _quote_hint(error: jsonschema.ValidationError, source: Source) -> str:
    """YAML reads a bare `no`, `on` or `+4915...` as a boolean or number; say how to keep text."""
    value = error.validator_value if error.validator == "type" else ()
    types = [value] if isinstance(value, str) else value
    node = source.node
    if ("string" in types and isinstance(node, yaml.ScalarNode) and not node.style
            and not isinstance(error.instance, str) and error.instance is not None):
        return f"; write {node.value!r} in quotes to keep it as text"
    return ""


TEST_FILE_HINT = (" (a `router test` file? Test files go in .tests/ beside the config: the "
                  "loader skips directories whose names start with a dot)")
"""For `cases:` at the top of a file the loader read as config (docs/testing.md)."""


def _unknown_keys(error: jsonschema.ValidationError, source: Source) -> list[Problem]:
    known = sorted(error.schema.get("properties", {}))
    problems = []
    for key in error.instance:
        if key in known:
            continue
        place = source.key(str(key))
        close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        if key == "cases" and not error.absolute_path:
            hint = TEST_FILE_HINT
        problems.append(Problem(place.where, place.path,
                                f"unknown key {key!r}{hint}; expected one of: {', '.join(known)}"))
    return problems


def _message(error: jsonschema.ValidationError, expected: str | None) -> str:
    kind, value, instance = error.validator, error.validator_value, error.instance
    if kind == "required":
        # one error per missing key: name the one this error's message is about
        missing = [name for name in value if name not in instance]
        named = [name for name in missing if error.message.startswith(repr(name))]
        return f"missing required key {(named or missing)[0]!r}" if missing else error.message
    if expected:
        shown = "" if isinstance(instance, (dict, list)) else f", got {_show(instance)}"
        return f"expected {expected}{shown}"
    if kind == "type":
        types = [value] if isinstance(value, str) else value
        return f"expected {' or '.join(_TYPE_WORDS[t] for t in types)}, got {_show(instance)}"
    if kind in ("enum", "const"):
        options = [value] if kind == "const" else value
        close = difflib.get_close_matches(str(instance), [str(o) for o in options], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"expected one of {', '.join(map(str, options))}, got {_show(instance)}{hint}"
    if kind == "minItems":
        return f"expected at least {value} item{'s' if value != 1 else ''}, got {len(instance)}"
    if kind == "uniqueItems":
        return "expected every item to be different"
    if kind in ("minimum", "exclusiveMinimum", "maximum"):
        word = {"minimum": "at least", "exclusiveMinimum": "more than", "maximum": "at most"}
        return f"expected a number {word[kind]} {value}, got {_show(instance)}"
    if kind == "minLength":
        return "expected non-empty text"
    return str(error.message)


def _show(instance: Any) -> str:
    if isinstance(instance, dict):
        return "a mapping"
    if isinstance(instance, list):
        return "a list"
    if instance is None:
        return "nothing"
    if isinstance(instance, bool):
        return str(instance).lower()
    return repr(instance)
