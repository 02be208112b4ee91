"""Compare two configs: what a change does, not which lines moved (room: review; imports
config.model, core, errors).

Pure: both configs, the window's start and the test cases' answers come in; nothing is
read or run here. The test cases are run by the caller through `router test`'s own runner
(cli/cases.py) against each config, so the answers are the daemon's (no second router).

- routes by name: added, removed, changed (any field but the place), and reordered: the
  routes both configs have, in an order that differs (those off the longest common order);
  unnamed routes (`route N` by place) paired by content first (`route_renames`);
- rotas both configs have: their final shifts over the window (`core.oncall`), joined when
  the same person follows on, and each shift only one side has;
- escalation policies, channels, people and services by id: added, removed, changed (for
  policies, field by field: `levels[1].delay`, `levels[0].targets`, ...);
- the rest of the config by `section.id` (a rota's layers or holidays, a suppression's
  window, `settings`, ...): a change that moves no shift in the window and that no test
  case asks about is still seen;
- coverage gaps (`core.coverage`) over the window in NEW that OLD does not have for the
  same policy level (or rota): the part of each NEW gap outside OLD's.
"""

from __future__ import annotations

import difflib
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from router.config.model import Config, Rota, Route
from router.core.coverage import Gap, coverage_gaps
from router.core.oncall import shifts_between
from router.errors import Where
from router.review.model import (
    CaseChange,
    Changed,
    Moved,
    Review,
    RotaShifts,
    Section,
    ShiftMove,
)
from router.review.plain import changes, plain

CaseAnswers = tuple[str, Where, Mapping[str, Any], Mapping[str, Any]]
"""One case's name and place, and its answers in OLD and in NEW."""


def review(old: Config, new: Config, start: datetime, window: timedelta,
           cases: Iterable[CaseAnswers] = ()) -> Review:
    """Everything that differs from `old` to `new`, shifts and gaps over [start, +window).

    Raises:
        ValueError: `start` is naive.
    """
    start = start.astimezone(UTC)  # aware local + timedelta would be wall-clock arithmetic
    end = start + window
    return Review(
        start=start, end=end, routes=compare_routes(old.routes, new.routes),
        cases=tuple(compare_cases(cases, route_renames(old.routes, new.routes))),
        rotas=tuple(compare_rotas(old.rotas, new.rotas, start, end)),
        escalation_policies=compare_section(old.escalation_policies, new.escalation_policies),
        channels=compare_section(old.channels, new.channels),
        people=compare_section(old.people, new.people),
        services=compare_section(old.services, new.services),
        new_gaps=tuple(new_gaps(old, new, start, window)),
        other=compare_section(_other(old), _other(new)))


def _named(routes: Sequence[Route]) -> dict[str, Route]:
    """Routes by name; a name used more than once gets ` (2)`, ` (3)` after its first."""
    seen: Counter[str] = Counter()
    named = {}
    for route in routes:
        seen[route.name] += 1
        named[route.name if seen[route.name] == 1 else f"{route.name} ({seen[route.name]})"] \
            = route
    return named


OTHER = ("rotas", "time_intervals", "heartbeats", "jobs", "checks")
"""The id-keyed sections compared under `other`, after `settings`; suppressions and
inhibit rules (lists) follow, by id and by name."""


def _other(config: Config) -> dict[str, object]:
    """What `other` compares, by `section.id`; a name used twice gets ` (2)`, as routes."""
    found: dict[str, object] = {"settings": config.settings}
    for section in OTHER:
        found.update((f"{section}.{key}", item) for key, item in getattr(config, section).items())
    pairs = [*((f"suppressions.{item.id}", item) for item in config.suppressions),
             *((f"inhibit_rules.{item.name}", item) for item in config.inhibit_rules)]
    seen: Counter[str] = Counter()
    for name, item in pairs:
        seen[name] += 1
        found[name if seen[name] == 1 else f"{name} ({seen[name]})"] = item
    return found


def _unnamed(routes: Sequence[Route]) -> list[int]:
    """Where the routes without a `name` are: the build names them `route N` by place."""
    return [index for index, route in enumerate(routes) if route.name == f"route {index + 1}"]


def _body(route: Route) -> dict[str, Any]:
    """A route's fields but its name, which is its key (or, unnamed, its place)."""
    body: dict[str, Any] = plain(route)
    body.pop("name", None)
    return body


def _content(route: Route) -> str:
    return json.dumps(_body(route), sort_keys=True)


def route_renames(old: Sequence[Route], new: Sequence[Route]) -> dict[str, str]:
    """OLD's unnamed routes by the `route N` they are in NEW: the same rule (aligned as a
    line diff aligns lines, or moved whole), else, among those left, one changed in place.
    A route inserted above unnamed ones renames every route below it, which changes none
    of them."""
    before, after = _unnamed(old), _unnamed(new)
    keys_before = [_content(old[index]) for index in before]
    keys_after = [_content(new[index]) for index in after]
    pairs: dict[int, int] = {}
    replaced = []
    matcher = difflib.SequenceMatcher(a=keys_before, b=keys_after, autojunk=False)
    for tag, low, high, start, end in matcher.get_opcodes():
        if tag == "equal":
            pairs.update(zip(range(low, high), range(start, end), strict=True))
        else:
            replaced.append((range(low, high), range(start, end)))
    free = {index: key for index, key in enumerate(keys_after) if index not in pairs.values()}
    for span, _ in replaced:  # moved whole
        for index in span:
            match = next((other for other, key in free.items() if key == keys_before[index]),
                         None)
            if match is not None:
                pairs[index] = match
                del free[match]
    for span, targets in replaced:  # changed in place
        left = [other for other in targets if other in free]
        for index, other in zip([i for i in span if i not in pairs], left, strict=False):
            pairs[index] = other
            del free[other]
    return {old[before[index]].name: new[after[other]].name for index, other in pairs.items()}


def _old_keys(old: Sequence[Route], after: Mapping[str, Route],
              renames: Mapping[str, str]) -> dict[str, Route]:
    """OLD's routes by the name they are compared under: NEW's `route N` for an unnamed
    route NEW has too; `route N (old)` for one NEW has not while NEW's `route N` is
    another."""
    unnamed = {old[index].name for index in _unnamed(old)}
    keyed = {}
    for name, route in _named(old).items():
        if name in renames:
            keyed[renames[name]] = route
        elif name in unnamed and name in after:
            keyed[f"{name} (old)"] = route
        else:
            keyed[name] = route
    return keyed


def compare_routes(old: Sequence[Route], new: Sequence[Route]) -> Section:
    after = _named(new)
    before = _old_keys(old, after, route_renames(old, new))
    section = compare_section({name: _body(route) for name, route in before.items()},
                              {name: _body(route) for name, route in after.items()})
    common_before = [name for name in before if name in after]
    common_after = [name for name in after if name in before]
    matcher = difflib.SequenceMatcher(a=common_before, b=common_after, autojunk=False)
    kept = {name for block in matcher.get_matching_blocks()
            for name in common_before[block.a:block.a + block.size]}
    order_before, order_after = list(before), list(after)
    moved = tuple(Moved(name=name, before=order_before.index(name),
                        after=order_after.index(name))
                  for name in common_after if name not in kept)
    return Section(added=section.added, removed=section.removed, changed=section.changed,
                   reordered=moved)


def compare_section(old: Mapping[str, object], new: Mapping[str, object]) -> Section:
    """Ids only one side has, and the objects both have whose fields differ."""
    changed = []
    for key in new:
        if key in old:
            found = changes(plain(old[key]), plain(new[key]))
            if found:
                changed.append(Changed(name=key, changes=tuple(found)))
    return Section(added=tuple(key for key in new if key not in old),
                   removed=tuple(key for key in old if key not in new),
                   changed=tuple(changed))


def compare_cases(cases: Iterable[CaseAnswers], renames: Mapping[str, str] | None = None
                  ) -> Iterable[CaseChange]:
    """The cases whose answers differ; OLD's unnamed routes read by their NEW names
    (`route_renames`), so a route that only moved down is the same route."""
    for name, where, before, after in cases:
        before = dict(before)
        if renames and isinstance(before.get("routes"), list):
            before["routes"] = [renames.get(route, route) for route in before["routes"]]
        found = changes(plain(before), plain(dict(after)))
        if found:
            yield CaseChange(name=name, where=where, changes=tuple(found))


def compare_rotas(old: Mapping[str, Rota], new: Mapping[str, Rota], start: datetime,
                  end: datetime) -> Iterable[RotaShifts]:
    for rota_id, rota in new.items():
        if rota_id not in old:
            continue
        before, after = _shifts(old[rota_id], start, end), _shifts(rota, start, end)
        moves = [ShiftMove(person=person, start=low, end=high, side="before")
                 for person, low, high in before if (person, low, high) not in after]
        moves += [ShiftMove(person=person, start=low, end=high, side="after")
                  for person, low, high in after if (person, low, high) not in before]
        if moves:
            moves.sort(key=lambda move: (move.start, move.side != "before", move.end))
            yield RotaShifts(rota=rota_id, timezone=rota.timezone, moves=tuple(moves))


def _shifts(rota: Rota, start: datetime, end: datetime) -> dict[
        tuple[str | None, datetime, datetime], None]:
    """The final shifts, the same person's next to each other joined (whichever layer or
    override they come through), as an ordered set."""
    joined: list[tuple[str | None, datetime, datetime]] = []
    for shift in shifts_between(rota, start, end):
        if joined and joined[-1][0] == shift.person and joined[-1][2] == shift.start:
            joined[-1] = (shift.person, joined[-1][1], shift.end)
        else:
            joined.append((shift.person, shift.start, shift.end))
    return dict.fromkeys(joined)


_Key = tuple[str | None, int | None, tuple[str, ...]]


def _gap_key(gap: Gap) -> _Key:
    return gap.policy, gap.level, gap.rotas


def new_gaps(old: Config, new: Config, start: datetime, window: timedelta) -> Iterable[Gap]:
    """The parts of NEW's gaps that OLD's gaps for the same policy level (or rota) do not
    cover, in NEW's order. Both come in time order per level, so one pass over each."""
    known: dict[_Key, list[tuple[datetime, datetime]]] = {}
    for gap in coverage_gaps(old, start, window):
        known.setdefault(_gap_key(gap), []).append((gap.start, gap.end))
    cursors: dict[_Key, int] = {}
    for gap in coverage_gaps(new, start, window):
        key = _gap_key(gap)
        spans = known.get(key, [])
        index = cursors.get(key, 0)
        while index < len(spans) and spans[index][1] <= gap.start:
            index += 1  # OLD's gaps that end before this one cannot cover a later one either
        cursors[key] = index
        for low, high in _outside(gap.start, gap.end, spans, index):
            yield Gap(policy=gap.policy, level=gap.level, rotas=gap.rotas, start=low,
                      end=high, timezone=gap.timezone, where=gap.where)


def _outside(start: datetime, end: datetime, spans: Sequence[tuple[datetime, datetime]],
             index: int) -> list[tuple[datetime, datetime]]:
    """[start, end) less the sorted, disjoint `spans` from `index` on."""
    pieces, cursor = [], start
    while index < len(spans) and spans[index][0] < end:
        low, high = spans[index]
        if low > cursor:
            pieces.append((cursor, low))
        cursor = max(cursor, high)
        index += 1
    if cursor < end:
        pieces.append((cursor, end))
    return pieces
