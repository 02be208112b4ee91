"""What a config change does, as values (room: review; imports core, errors).

`Review` is the whole answer `router diff` prints; each part says one kind of change. The
text, Markdown and JSON views of it live in review/report.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from router.core.coverage import Gap
from router.errors import Where
from router.review.plain import FieldChange


@dataclass(frozen=True, slots=True, kw_only=True)
class Changed:
    """One object in both configs whose fields differ (a route by name, a policy by id)."""

    name: str
    changes: tuple[FieldChange, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Moved:
    """A route whose place among the routes both configs have changed (0-based positions in
    each config's own list)."""

    name: str
    before: int
    after: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Section:
    """Added, removed and changed objects of one section (routes, channels, ...)."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[Changed, ...] = ()
    reordered: tuple[Moved, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed or self.reordered)


@dataclass(frozen=True, slots=True, kw_only=True)
class ShiftMove:
    """A shift only one config has: `person` (None: nobody) on call in [start, end), in OLD
    (`side` "before") or in NEW ("after")."""

    person: str | None
    start: datetime
    end: datetime
    side: Literal["before", "after"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RotaShifts:
    """The shifts of one rota (in both configs) that move over the review's window."""

    rota: str
    timezone: ZoneInfo
    moves: tuple[ShiftMove, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseChange:
    """A test file's case whose alert (or on-call question) gets another answer in NEW."""

    name: str
    where: Where
    changes: tuple[FieldChange, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Compared:
    """One side of the comparison as the report names it: a directory, a revision, or "no
    config yet" (`exists` false: a config's first change, all of NEW is added)."""

    name: str
    exists: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class Review:
    """Everything `router diff` reports about OLD -> NEW over [start, end)."""

    start: datetime
    end: datetime
    routes: Section
    cases: tuple[CaseChange, ...]
    rotas: tuple[RotaShifts, ...]
    escalation_policies: Section
    channels: Section
    people: Section
    services: Section
    new_gaps: tuple[Gap, ...]
    other: Section = Section()
    """The rest of the config by `section.id` (`settings` whole): rotas' definitions,
    suppressions, time intervals, inhibit rules, heartbeats, jobs, checks."""
    old: Compared = Compared(name="OLD")
    new: Compared = Compared(name="NEW")

    @property
    def empty(self) -> bool:
        return not (self.routes or self.cases or self.rotas or self.escalation_policies
                    or self.channels or self.people or self.services or self.new_gaps
                    or self.other)
