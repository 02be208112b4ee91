"""Every coverage gap of every escalation policy over a horizon (room: core; imports
config.model only).

Pure: the caller passes the instant the horizon starts at. A level of a policy pages a
person or a channel whenever it is reached, but a level whose targets are all rotas reaches
nobody while all of them have nobody on call: that stretch is a gap of that level. A rota
that no policy names (as a level's target or as the fallback) is checked on its own, so a
hole in a rota that a team is about to wire in shows up too. The fallback does not close a
level's gap: the gap is still a level that reaches nobody, and the report says which.

The cost is linear in the shifts over the horizon: each rota's shifts are listed once
(`oncall.shifts_between`), and a level's gaps are the intersection of its rotas' sorted
empty stretches, walked side by side.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from router.config.model import NOWHERE, Config, Level, Rota
from router.core.oncall import shifts_between
from router.errors import Where

_Span = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True, kw_only=True)
class Gap:
    """Nobody is reached during [start, end) (aware UTC instants, clipped to the horizon).

    `policy` and `level` (1-based) name the escalation policy's level that reaches nobody;
    both are None for a rota that no policy names. `rotas` are the level's targets (or the
    one rota), `timezone` the first one's, for display. `where` is the level's place in the
    config (the rota's for a rota of its own).
    """

    policy: str | None
    level: int | None
    rotas: tuple[str, ...]
    start: datetime
    end: datetime
    timezone: ZoneInfo
    where: Where = NOWHERE


def coverage_gaps(config: Config, start: datetime, horizon: timedelta) -> Iterator[Gap]:
    """Every gap in [start, start + horizon): policies in the config's order, level by
    level, each level's gaps in time order; then the rotas no policy names.

    Raises:
        ValueError: `start` is naive.
    """
    # in UTC: an aware local instant plus a timedelta is wall-clock arithmetic
    start = start.astimezone(UTC)
    end = start + horizon
    empty: dict[str, list[_Span]] = {}

    def nobody(rota_id: str) -> list[_Span]:
        if rota_id not in empty:
            empty[rota_id] = _empty_spans(config.rotas[rota_id], start, end)
        return empty[rota_id]

    named: set[str] = set()
    for policy in config.escalation_policies.values():
        if policy.fallback is not None and policy.fallback.kind == "rota":
            named.add(policy.fallback.id)
        for number, level in enumerate(policy.levels, start=1):
            named.update(target.id for target in level.targets if target.kind == "rota")
            rotas = _rota_targets(config, level)
            if rotas is None:
                continue
            spans = nobody(rotas[0])
            for other in rotas[1:]:
                spans = intersect(spans, nobody(other))
            zone = config.rotas[rotas[0]].timezone
            for low, high in spans:
                yield Gap(policy=policy.id, level=number, rotas=rotas, start=low, end=high,
                          timezone=zone, where=level.where)
    for rota in config.rotas.values():
        if rota.id in named:
            continue
        for low, high in nobody(rota.id):
            yield Gap(policy=None, level=None, rotas=(rota.id,), start=low, end=high,
                      timezone=rota.timezone, where=rota.where)


def _rota_targets(config: Config, level: Level) -> tuple[str, ...] | None:
    """The level's rotas when it names only rotas (all known); None when it always reaches
    someone (a person or a channel) or names a rota the config lacks (a reference error
    that `router validate` reports on its own)."""
    if not level.targets or any(target.kind != "rota" or target.id not in config.rotas
                                for target in level.targets):
        return None
    return tuple(dict.fromkeys(target.id for target in level.targets))


def _empty_spans(rota: Rota, start: datetime, end: datetime) -> list[_Span]:
    return [(shift.start, shift.end) for shift in shifts_between(rota, start, end)
            if shift.person is None]


def intersect(first: Sequence[_Span], second: Sequence[_Span]) -> list[_Span]:
    """The stretches inside both sorted, disjoint span lists, in one pass over each."""
    found: list[_Span] = []
    left = right = 0
    while left < len(first) and right < len(second):
        low = max(first[left][0], second[right][0])
        high = min(first[left][1], second[right][1])
        if low < high:
            found.append((low, high))
        if first[left][1] < second[right][1]:
            left += 1
        else:
            right += 1
    return found
