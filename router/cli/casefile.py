"""Read `router test` files into cases (room: cli; imports config, alerts, core, errors).

A test file is YAML in the shape of schemas/router-test.json. It is parsed by the config
loader's own reader (so every value keeps its file:line:col) and checked against that
schema with jsonschema; every problem of every file is reported at once, as `router
validate` does. An alert is built by the inbound formats' own parsers (router/alerts/formats):
a case's `alert` is router's native JSON, its `payload` any inbound format named by `format`.
The silences a file or case gives are read in cli/casesilences.py.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jsonschema
import jsonschema_rs

from router.alerts.formats import FORMATS, native
from router.alerts.model import Alert, Silence
from router.cli.casesilences import BadCase, Given, SilenceReader, attempt, instant, resolved
from router.config.load import Source, read_file
from router.config.model import AlertLimits
from router.config.schema import schema_directory
from router.config.secrets import SecretResolver
from router.errors import BadRequest, Problem, Where

SCHEMA_NAME = "router-test.json"
SILENCE_KEYS = ("silences", "silences_file")
FILE = -1
"""The key of `_shape_problems`' map for the file's own keys ("" when no case can be read)."""
T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class Case:
    """One test case: what to look at (`alert` and `firing`, or `rota`), when, and what is
    expected (the keys of `expect` only, as written); `silences` are those in force in the
    store it stands for (the file's, then its own)."""

    name: str
    where: Where
    at: datetime
    expect: dict[str, Any]
    alert: Alert | None = None
    firing: tuple[Alert, ...] = ()
    rota: str | None = None
    silences: tuple[Silence, ...] = ()


class CasesInvalid(Exception):
    """Test files that cannot be run; `problems` names each place."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the test files")
        self.problems = problems


@functools.cache
def _schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(
        (schema_directory() / SCHEMA_NAME).read_text(encoding="utf-8"))
    return loaded


@functools.cache
def _fast_validator() -> Any:
    """Says only whether a file fits, quickly; `_shape_problems` then says where not."""
    return jsonschema_rs.validator_for(_schema())


def _shape_problems(data: dict[str, Any], root: Source
                    ) -> tuple[list[Problem], dict[int, set[str]]]:
    """The schema's problems, and for each case that has some the keys under which they
    are ("" for the case itself), so the case's other fields are still checked."""
    if _fast_validator().is_valid(data):
        return [], {}
    validator = jsonschema.Draft202012Validator(_schema())
    problems: list[Problem] = []
    broken: dict[int, set[str]] = {}
    for error in validator.iter_errors(data):
        if error.validator == "oneOf" and not isinstance(error.instance, dict):
            continue  # a case that is no mapping: its type error says so
        problems.append(_shape_problem(root, error))
        place = list(error.absolute_path)
        if len(place) >= 2 and place[0] == "cases" and isinstance(place[1], int):
            broken.setdefault(place[1], set()).add(str(place[2]) if len(place) > 2 else "")
        elif place and place[0] in SILENCE_KEYS:  # the file's silences: cases still read
            broken.setdefault(FILE, set()).add(str(place[0]))
        else:
            broken.setdefault(FILE, set()).add("")  # the file's own shape: no case is read
    return problems, broken


def _unbroken(raw: dict[str, Any], broken: set[str]) -> dict[str, Any]:
    """The silence keys of a file's top level or a case that fit the schema."""
    return {key: raw[key] for key in SILENCE_KEYS if key in raw and key not in broken}


def read_cases(paths: list[Path], limits: AlertLimits) -> list[Case]:
    """Every case of the files, in order.

    Raises:
        CasesInvalid: with every problem of every file (YAML, shape, instant, alert), all
            at once: a case's fields that fit the schema are checked even when others do
            not, so a file is fixed in one round.
    """
    cases: list[Case] = []
    problems: list[Problem] = []
    silences = SilenceReader()
    for path in paths:
        documents, found = read_file(path, SecretResolver(resolve=False))
        for document in documents:
            shape, broken = _shape_problems(document.data, document.source)
            found += shape
            if "" in broken.get(FILE, ()):
                continue
            common = attempt(functools.partial(
                silences.given, _unbroken(document.data, broken.get(FILE, set())),
                document.source, path.parent, None, in_case=False), found) or []
            reading = _Reading(limits, common, silences, path.parent)
            for index, raw in enumerate(document.data["cases"]):
                if not isinstance(raw, dict):  # the schema said so; nothing else to read
                    continue
                source = document.source.at("cases").at(index)
                case = attempt(functools.partial(
                    _case, raw, source, reading, broken.get(index, set())), found)
                if case is not None:
                    cases.append(case)
        problems += sorted(found, key=lambda problem: (problem.where.line,
                                                        problem.where.column))
    if problems:
        raise CasesInvalid(problems)
    return cases


@dataclass(frozen=True, slots=True)
class _Reading:
    """What every case of one test file is read with."""

    limits: AlertLimits
    common: list[Given]
    """The file's own silences."""
    silences: SilenceReader
    directory: Path
    """The test file's, which a `silences_file` is relative to."""


def _shape_problem(root: Source, error: jsonschema.ValidationError) -> Problem:
    """One schema error in the words `router validate` uses, at the place it names."""
    source = root
    for key in error.absolute_path:
        source = source.at(key)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = error.schema.get("properties", {})
        unknown = [name for name in error.instance if name not in allowed]
        key = source.key(unknown[0])
        return Problem(key.where, key.path,
                       f"unknown key {unknown[0]!r}; expected one of: "
                       f"{', '.join(sorted(allowed))}")
    if error.validator == "oneOf":  # only a case has one
        return Problem(source.where, source.path, "give exactly one of `alert`, `payload` "
                       "(with its `format`) or `rota`")
    return Problem(source.where, source.path, error.message)


_SOMETIME = datetime(2026, 1, 1, tzinfo=UTC)
"""The instant a payload is read at when its case's `at` is itself wrong: its problems are
still found in the same round."""
_SOMEZONE = UTC
"""The zone a case's times are read in when its `timezone` is itself wrong, likewise."""


def _case(raw: dict[str, Any], source: Source, reading: _Reading,
          broken: set[str]) -> Case | None:
    """The case, or every problem of its fields (those without a shape problem: `broken`
    names the others; a case with any yields None).

    Raises:
        BadCase: with each problem found.
    """
    problems: list[Problem] = []

    def checked(key: str, read: Callable[[], T]) -> T | None:
        return attempt(read, problems) if key in raw and key not in broken else None

    limits = reading.limits
    zone: tzinfo | None = None
    if "timezone" in raw:
        zone = checked("timezone", lambda: _zone(raw["timezone"], source.at("timezone"))) \
            or _SOMEZONE
    at = checked("at", lambda: instant(raw["at"], source.at("at"), zone,
                                       fold=raw.get("fold"), fold_allowed=True))
    alert = checked("alert", lambda: _native(raw["alert"], source.at("alert"), limits))
    if "format" in raw and "format" not in broken:
        alert = checked("payload", lambda: _payload(raw, source, limits, at or _SOMETIME)) \
            or alert
    firing = [checked("firing", functools.partial(
        _native, item, source.at("firing").at(index), limits))
        for index, item in enumerate(raw.get("firing", ()) if "firing" not in broken else ())]
    given = attempt(lambda: reading.silences.given(
        _unbroken(raw, broken), source, reading.directory, zone, in_case=True), problems)
    if problems:
        raise BadCase(*problems)
    if broken or at is None or given is None:
        return None
    return Case(name=raw["name"], where=source.where, at=at, expect=raw.get("expect", {}),
                alert=alert, firing=tuple(item for item in firing if item is not None),
                rota=raw.get("rota"), silences=resolved([*reading.common, *given], at))


def _zone(name: object, source: Source) -> ZoneInfo:
    """A case's `timezone`."""
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise BadCase(Problem(source.where, source.path,
                              f"{name!r} is not a known timezone")) from None


def _native(raw: dict[str, Any], source: Source, limits: AlertLimits) -> Alert:
    """Router's alert JSON, and `source` (which no sender may set: the format sets it), so a
    case can stand for a heartbeat's, job's or check's alert."""
    document = {"summary": "router test", **raw}
    named = document.pop("source", None)
    try:
        alerts = native.parse_document(document, limits=limits)
    except BadRequest as bad:
        raise BadCase(Problem(source.where, source.path, str(bad))) from None
    return alerts[0] if named is None else replace(alerts[0], source=named)


def _payload(raw: dict[str, Any], source: Source, limits: AlertLimits, at: datetime) -> Alert:
    name = raw["format"]
    parser = FORMATS.get(name)
    if parser is None:
        raise BadCase(Problem(source.at("format").where, source.at("format").path,
                              f"expected one of {', '.join(sorted(FORMATS))}, got {name!r}"))
    body = json.dumps(raw["payload"]).encode()
    try:
        alerts = parser.parse(body, {}, limits=limits, now=at)
    except BadRequest as bad:
        raise BadCase(Problem(source.at("payload").where, source.at("payload").path,
                              str(bad))) from None
    if len(alerts) != 1:
        raise BadCase(Problem(source.at("payload").where, source.at("payload").path,
                              f"expected a payload of exactly one alert, it holds {len(alerts)}"))
    return alerts[0]
