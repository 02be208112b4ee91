"""The silences of `router test` files (room: cli; imports config, alerts, core, migrate,
errors).

A test file, or one of its cases, gives the run-time silences the daemon would have in its
store: `silences` written inline (matchers in Alertmanager's syntax, as `amtool silence add`
takes them, read by migrate/alertmanager/matchers.py; and `starts`, `ends` or a `duration`),
and `silences_file`, a JSON file as `amtool silence query -o json` writes it and
`GET /api/v2/silences` answers (read by alerts/formats/alertmanager_silences.py, as the
server reads amtool's silences). Both become `alerts.model.Silence` values with the names
as written (`severity` is router's severity, as in a silence amtool adds), which
`core.suppression.check` matches as it does the store's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, TypeVar

from router.alerts.formats import alertmanager_silences
from router.alerts.model import Silence, SilenceMatcher
from router.config.load import Source
from router.config.values import parse_positive_duration
from router.core.walltime import WallTimeError, settle
from router.errors import BadRequest, Problem
from router.migrate.alertmanager.matchers import MatcherError, parse_line

T = TypeVar("T")
_EARLIEST, _LATEST = datetime(1000, 1, 1), datetime(9000, 1, 1)
"""The wall-clock span an instant must fall in: past either end the time math overflows."""


class BadCase(Exception):
    """A case, or a part of a test file, that cannot be read; `problems` names each place,
    so every problem of a case is reported in one round."""

    def __init__(self, *problems: Problem) -> None:
        super().__init__("; ".join(map(str, problems)))
        self.problems = list(problems)


def instant(text: object, source: Source, zone: tzinfo | None, *, zone_allowed: bool = True,
            fold: int | None = None, fold_allowed: bool = False) -> datetime:
    """An ISO 8601 instant with its offset, or a wall-clock time read in `zone`, strictly at
    DST changes (core/walltime.py): `fold` picks a reading of a time the clocks pass twice.

    Raises:
        BadCase: not ISO 8601; with no offset and no zone (`zone_allowed` False: where no
            `timezone` can be given, the message asks for the offset only); a time the
            clocks skip in `zone`, or pass twice with no `fold` (`fold_allowed`: the message
            offers one, as only a case's `at` takes it).
    """
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        raise BadCase(Problem(source.where, source.path,
                              f"expected an ISO 8601 instant, got {text!r}")) from None
    if not _EARLIEST <= moment.replace(tzinfo=None) < _LATEST:
        raise BadCase(Problem(source.where, source.path, "expected an instant between the "
                              f"years 1000 and 9000, got {text!r}"))
    if moment.tzinfo is not None:
        return moment if zone is None else moment.astimezone(zone)
    if zone is None:
        wanted = " or a `timezone`" if zone_allowed else ""
        raise BadCase(Problem(source.where, source.path,
                              f"expected an offset (2026-03-02T03:00:00+01:00){wanted}"))
    try:
        return settle(moment, zone, fold)
    except WallTimeError as error:
        more = ", or `fold: 0` for the first and `fold: 1` for the second" \
            if fold_allowed and "twice" in str(error) else ""
        raise BadCase(Problem(source.where, source.path, f"{error}{more}")) from None


@dataclass(frozen=True, slots=True, kw_only=True)
class Planned:
    """An inline silence; `at` fills in what it leaves to the case's instant."""

    id: str
    matchers: tuple[SilenceMatcher, ...]
    starts: datetime | None
    ends: datetime | None
    duration: timedelta | None
    comment: str

    def at(self, moment: datetime) -> Silence:
        """The silence for a case at `moment`: from `starts` (by default `moment`) until
        `ends`, or for `duration`."""
        starts = self.starts or moment
        ends = self.ends if self.ends is not None else starts + (self.duration or timedelta())
        return Silence(id=self.id, matchers=self.matchers, starts_at=starts, ends_at=ends,
                       reason=self.comment, created_by="router test")


Given = Planned | Silence


class SilenceReader:
    """Reads the silences a file or case gives; a `silences_file` is read once however many
    cases name it. Paths are relative to the test file."""

    def __init__(self) -> None:
        self._files: dict[Path, list[Silence]] = {}

    def given(self, raw: dict[str, Any], source: Source, directory: Path,
              zone: tzinfo | None, *, in_case: bool) -> list[Given]:
        """The silences of `raw` (a test file's top level or one case): its file's, then
        the inline ones.

        Raises:
            BadCase: with every problem of every silence.
        """
        found: list[Given] = []
        problems: list[Problem] = []
        if "silences_file" in raw:
            found += attempt(lambda: self._file(directory / raw["silences_file"],
                                                source.at("silences_file")), problems) or []
        for index, item in enumerate(raw.get("silences", ())):
            planned = attempt(functools.partial(_inline, item, source.at("silences").at(index),
                                                zone, in_case), problems)
            if planned is not None:
                found.append(planned)
        if problems:
            raise BadCase(*problems)
        return found

    def _file(self, path: Path, source: Source) -> list[Silence]:
        if path not in self._files:
            try:
                body = path.read_bytes()
            except OSError as error:
                raise BadCase(Problem(source.where, source.path,
                                      f"cannot read {path}: {error.strerror}")) from None
            try:
                self._files[path] = alertmanager_silences.parse(body)
            except BadRequest as bad:
                field = f"{bad.field}: " if bad.field else ""
                raise BadCase(Problem(source.where, source.path,
                                      f"{path}: {field}{bad.message}")) from None
        return self._files[path]


def attempt(read: Callable[[], T], problems: list[Problem]) -> T | None:
    """`read()`, or None with its problems added to `problems` (the others still read)."""
    try:
        return read()
    except BadCase as bad:
        problems.extend(bad.problems)
        return None


def resolved(given: list[Given], moment: datetime) -> tuple[Silence, ...]:
    """The silences in the store of a case at `moment`."""
    return tuple(item.at(moment) if isinstance(item, Planned) else item for item in given)


def _inline(raw: dict[str, Any], source: Source, zone: tzinfo | None,
            in_case: bool) -> Planned:
    """One inline silence.

    Raises:
        BadCase: with each of its problems (matchers, times, duration).
    """
    problems: list[Problem] = []
    matchers = [matcher for index, text in enumerate(raw["matchers"])
                for matcher in attempt(functools.partial(
                    _matchers, text, source.at("matchers").at(index)), problems) or ()]
    if ("ends" in raw) == ("duration" in raw):
        problems.append(Problem(source.where, source.path,
                                "give the silence's `ends` or its `duration`, not both"
                                if "ends" in raw else
                                "give the silence's `ends` or its `duration`"))
    starts = ends = duration = None
    if "starts" in raw:
        starts = attempt(lambda: instant(raw["starts"], source.at("starts"), zone,
                                         zone_allowed=in_case), problems)
    if "ends" in raw:
        ends = attempt(lambda: instant(raw["ends"], source.at("ends"), zone,
                                       zone_allowed=in_case), problems)
        if starts is not None and ends is not None and ends <= starts:
            problems.append(Problem(source.at("ends").where, source.at("ends").path,
                                    "must be after `starts`"))
    if "duration" in raw:
        duration = attempt(lambda: _duration(raw["duration"], source.at("duration")), problems)
    if problems:
        raise BadCase(*problems)
    return Planned(id=raw.get("id", source.path), matchers=tuple(matchers), starts=starts,
                   ends=ends, duration=duration, comment=raw.get("comment", ""))


def _matchers(text: str, source: Source) -> list[SilenceMatcher]:
    """The matchers of one line in Alertmanager's syntax."""
    try:
        matchers = []
        for name, operator, value in parse_line(text):
            alertmanager_silences.check_regex(operator, value, "")
            matchers.append(SilenceMatcher(name=name, operator=operator, value=value))
    except (MatcherError, BadRequest) as error:
        message = error.message if isinstance(error, BadRequest) else str(error)
        raise BadCase(Problem(source.where, source.path, message)) from None
    return matchers


def _duration(text: object, source: Source) -> timedelta:
    try:
        return parse_positive_duration(str(text))
    except ValueError as error:
        raise BadCase(Problem(source.where, source.path, str(error))) from None
