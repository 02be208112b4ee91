"""What every section builder shares (room: config): the problems found so far, the secret
resolver, the settings (their timezone is everyone's default), and the places of the model
objects built, so a semantic check's problem can be put back at the field it is about.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from router.config.load import Source
from router.config.model import WEEKDAYS, Matcher, Secret, Settings, WeeklyWindow
from router.config.secrets import SecretResolver
from router.config.values import (
    matcher_slip,
    parse_matcher,
    parse_time_of_day,
    parse_weekday,
)
from router.errors import Problem, Where

T = TypeVar("T")
Item = tuple[dict[str, Any], Source]
# Stand-ins for a value that failed to parse; its problem is already reported, so the
# Config carrying them is never returned. An unset start is the earliest time and an unset
# end the latest, so no range check reports a window made of a value that did not parse.
UNSET_DATE = date(1970, 1, 1)
UNSET_START = datetime.min.replace(tzinfo=UTC)
UNSET_END = datetime.max.replace(tzinfo=UTC)
_FIELD = re.compile(r"\[\d+\]|[^.\[\]]+")


class Context:
    """One build's shared state; the section builders are functions of it."""

    def __init__(self, resolver: SecretResolver, problems: list[Problem]) -> None:
        self.resolver = resolver
        self.problems = problems
        self.settings = Settings()
        self.sources: dict[Where, Source] = {}
        # Items pruned of values with the wrong shape (by id of their data): built only so
        # their other values are checked, then left out of the Config, so that no check
        # across items reports a consequence of the value left out.
        self.left_out: set[int] = set()

    def error(self, source: Source, message: str) -> None:
        self.problems.append(Problem(source.where, source.path, message))

    def place(self, source: Source) -> Where:
        """The `where` of a model object, remembered so a check's problem can name its path."""
        where = source.where
        if where.line:
            self.sources.setdefault(where, source)
        return where

    def locate(self, problem: Problem) -> Problem:
        """Turn a check's problem, placed at an object with `path` relative to it, into one
        placed at the field itself with the field's full path."""
        source = self.sources.get(problem.where)
        if source is None:
            return problem
        for part in _FIELD.findall(problem.path):
            source = source.at(int(part[1:-1]) if part.startswith("[") else part)
        where = source.where if source.where.line else problem.where
        return dataclasses.replace(problem, where=where, path=source.path)

    def parse(self, parser: Callable[[str], T], data: Mapping[str, Any], source: Source,
              key: str) -> T | None:
        """Parse `data[key]` if present; on a bad value report it at its place."""
        if data.get(key) is None:
            return None
        try:
            return parser(str(data[key]))
        except ValueError as error:
            self.error(source.at(key), str(error))
            return None

    def secret(self, value: str) -> Secret:
        return Secret(value, self.resolver.references.get(value, ""))

    def window(self, data: dict[str, Any], source: Source) -> WeeklyWindow | None:
        """A `{days, from, until}` mapping; None (with the problem reported) if a time is bad."""
        start = self.parse(parse_time_of_day, data, source, "from")
        end = self.parse(parse_time_of_day, data, source, "until")
        if start is None or end is None:
            return None
        days = data.get("days") or WEEKDAYS
        return WeeklyWindow(days=frozenset(parse_weekday(day) for day in days), start=start,
                            end=end, where=source.where)

    def matchers(self, data: dict[str, Any], source: Source, key: str = "match"
                 ) -> tuple[Matcher, ...]:
        found = (self.matcher(text, source.at(key).at(index))
                 for index, text in enumerate(data.get(key, ())))
        return tuple(matcher for matcher in found if matcher is not None)

    def matcher(self, text: str, place: Source) -> Matcher | None:
        """One matcher at its place; None, and an error, when it does not parse; a warning
        when it parses but reads like a typo (`values.matcher_slip`)."""
        try:
            matcher = parse_matcher(text, place.where)
        except ValueError as error:
            self.error(place, str(error))
            return None
        slip = matcher_slip(text)
        if slip is not None:
            self.problems.append(Problem(place.where, place.path, slip, "warning"))
        return matcher
