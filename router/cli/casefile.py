"""Read `router test` files into cases (room: cli; imports config, alerts, errors).

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
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jsonschema
import jsonschema_rs

from router.alerts.formats import FORMATS, native
from router.alerts.model import Alert, Silence
from router.cli.casesilences import BadCase, Given, SilenceReader, instant, resolved
from router.config.load import Source, read_file
from router.config.model import AlertLimits
from router.config.schema import schema_directory
from router.config.secrets import SecretResolver
from router.errors import BadRequest, Problem, Where

SCHEMA_NAME = "router-test.json"


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


def _shape_problems(data: dict[str, Any], root: Source) -> list[Problem]:
    if _fast_validator().is_valid(data):
        return []
    validator = jsonschema.Draft202012Validator(_schema())
    return [_shape_problem(root, error) for error in validator.iter_errors(data)]


def read_cases(paths: list[Path], limits: AlertLimits) -> list[Case]:
    """Every case of the files, in order.

    Raises:
        CasesInvalid: with every problem of every file (YAML, shape, instant, alert).
    """
    cases: list[Case] = []
    problems: list[Problem] = []
    silences = SilenceReader()
    for path in paths:
        documents, found = read_file(path, SecretResolver(resolve=False))
        problems += found
        for document in documents:
            shape = _shape_problems(document.data, document.source)
            problems += shape
            if shape:
                continue
            try:
                common = silences.given(document.data, document.source, path.parent, None,
                                        in_case=False)
            except BadCase as bad:
                problems.append(bad.problem)
                common = []
            for index, raw in enumerate(document.data["cases"]):
                source = document.source.at("cases").at(index)
                try:
                    cases.append(_case(raw, source, limits, common, silences, path.parent))
                except BadCase as bad:
                    problems.append(bad.problem)
    if problems:
        raise CasesInvalid(problems)
    return cases


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


def _case(raw: dict[str, Any], source: Source, limits: AlertLimits, common: list[Given],
          silences: SilenceReader, directory: Path) -> Case:
    zone = _zone(raw, source)
    at = instant(raw["at"], source.at("at"), zone)
    alert = None
    if "alert" in raw:
        alert = _native(raw["alert"], source.at("alert"), limits)
    elif "payload" in raw:
        alert = _payload(raw, source, limits, at)
    firing = tuple(_native(item, source.at("firing").at(index), limits)
                   for index, item in enumerate(raw.get("firing", ())))
    return Case(name=raw["name"], where=source.where, at=at, expect=raw.get("expect", {}),
                alert=alert, firing=firing, rota=raw.get("rota"),
                silences=resolved([*common, *silences.given(raw, source, directory, zone,
                                                             in_case=True)], at))


def _zone(raw: dict[str, Any], source: Source) -> ZoneInfo | None:
    """The case's `timezone`, if it gives one."""
    if "timezone" not in raw:
        return None
    try:
        return ZoneInfo(raw["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        raise BadCase(Problem(source.at("timezone").where, source.at("timezone").path,
                           f"{raw['timezone']!r} is not a known timezone")) from None


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
