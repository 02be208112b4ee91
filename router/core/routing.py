"""Which rules an alert matches and what that decides (room: core; imports config.model,
alerts.model and core.matching only).

Pure: no I/O, no clock. The rules:

- Order. Routes are tried top to bottom. A route matches when every matcher matches (see
  `core.matching`: = != =~ !~, regexes anchored at both ends, a missing label reads ""); a
  route with no matchers matches every alert. The first matching route wins and matching
  stops there, unless it has `continue: true` (`continue_matching`): then matching goes on
  and every later match adds to the decision. Matchers always read the alert as it arrived,
  never a severity an earlier route rewrote. A route with `unless` matcher sets does not
  match an alert that matches every matcher of any one set (an imported Alertmanager tree
  needs "no earlier sibling matched", which order alone cannot say once `continue` is in
  play).
- Decision. `routes` lists every matched route in order. `service` and `escalation_policy`
  come from the first matched route that names one, except that an alert of router's own
  sources (`alerts.model.OWN_SOURCES`: heartbeats, jobs, checks) keeps the service its
  config declares, when it declares one (the routes still add channels, severity and
  policy); `channels` is the union of the matched
  routes' channels in order, without repeats; `severity` starts as the alert's own and each
  matched route in order applies its `severity` (replace) or `severity_map` (rename the
  severities it lists, keep the rest).
- Default route. When no route matches, the decision is the default route: `routes` is
  empty (`Decision.default` is True), `service` is the service the sender named
  (`alert.service`, possibly None), no channels, no escalation policy, and the alert's own
  severity. The engine fills in from the service (its escalation policy and channels; a
  service a route named but left without channels or policy gets the same), so core.routing
  never reads `Config.services`.
- Index. `RouteTable.compile` picks for each route one anchor: an `=` matcher with a
  non-empty value, or an `=~` matcher whose pattern is a plain alternation of literals
  (`db|storage`); among several it takes the one fewest other routes share. Routes are
  indexed by (name, value) of their anchor; routes without one (catch-alls, only `!=`/`!~`,
  real regexes, `=""`) are checked for every alert. An alert gathers the routes indexed under
  its own (name, value) pairs plus the always-checked ones, sorts them by position and
  evaluates them fully in order, so the answer is exactly that of a top-to-bottom scan: an
  anchor is a necessary condition, never a sufficient one.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from router.alerts.model import OWN_SOURCES, Alert, Severity
from router.config.model import Matcher, Route
from router.core.matching import fields_of, first_mismatch

_LITERALS = re.compile(r"[\w\-/:@,= ]+(?:\|[\w\-/:@,= ]+)*")
_GROUP = re.compile(r"\((?:\?:)?([^()]*)\)")
_DECISIONS_KEPT = 4096  # senders name services freely: the memo must not grow without end


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """What the matched routes decide for one alert; see the module docstring."""

    routes: tuple[Route, ...]
    service: str | None
    channels: tuple[str, ...]
    escalation_policy: str | None
    severity: Severity

    @property
    def default(self) -> bool:
        """True when no route matched and the default route applies."""
        return not self.routes


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """One route as `explain` saw it.

    `reached` is False when an earlier matching route without `continue` stopped matching
    before this one; such a route may still `match` (it would, were it reached). `mismatch`
    is the first matcher that failed and `value` the alert's value it compared; `excluded`
    the `unless` set that matched when every matcher did.
    """

    position: int
    route: Route
    matched: bool
    reached: bool
    mismatch: Matcher | None = None
    value: str = ""
    excluded: tuple[Matcher, ...] | None = None

    @property
    def taken(self) -> bool:
        """The route matched and was reached: it is part of the decision."""
        return self.matched and self.reached

    def describe(self) -> str:
        """One line for `router route-test`: position, name, place and verdict."""
        head = f"{self.position + 1}. {self.route.name} ({self.route.where})"
        if self.taken:
            more = ", continue" if self.route.continue_matching else ""
            return f"{head}: matches{more}"
        if self.matched:
            return f"{head}: would match, but an earlier route stopped matching"
        if self.excluded is not None:
            return f"{head}: no match: unless [{', '.join(map(str, self.excluded))}] matches"
        assert self.mismatch is not None
        return f"{head}: no match: {self.mismatch} (alert has {self.value!r})"


@dataclass(frozen=True, slots=True, kw_only=True)
class Explanation:
    """Every route with its verdict, and the decision they add up to."""

    steps: tuple[Step, ...]
    decision: Decision


@dataclass(frozen=True, slots=True)
class RouteTable:
    """Routes in order plus the anchor index that `route` uses; build with `compile`."""

    routes: tuple[Route, ...]
    index: Mapping[str, Mapping[str, tuple[int, ...]]] = field(repr=False)
    always: tuple[int, ...] = field(repr=False)
    # Decisions already made, by (matched positions, severity, service, whether the source
    # is router's own): `decide` reads nothing else, and most alerts share a few of these
    # (a bounded, per-table memo).
    decisions: dict[tuple[tuple[int, ...], Severity, str | None, bool], Decision] = field(
        default_factory=dict, repr=False, compare=False)

    @classmethod
    def compile(cls, routes: Sequence[Route]) -> RouteTable:
        """Index `routes` (kept in this order); linear in the number of matchers."""
        candidates = [[(matcher.name, values) for matcher in route.matchers
                       if (values := _anchor_values(matcher))] for route in routes]
        shared = Counter((name, value) for options in candidates
                         for name, values in options for value in values)
        index: dict[str, dict[str, list[int]]] = {}
        always: list[int] = []
        for position, options in enumerate(candidates):
            if not options:
                always.append(position)
                continue
            name, values = min(options, key=lambda option: sum(
                shared[option[0], value] for value in option[1]))
            by_value = index.setdefault(name, {})
            for value in values:
                by_value.setdefault(value, []).append(position)
        return cls(
            routes=tuple(routes),
            index={name: {value: tuple(positions) for value, positions in by_value.items()}
                   for name, by_value in index.items()},
            always=tuple(always),
        )

    def __len__(self) -> int:
        return len(self.routes)


def compile_routes(routes: Sequence[Route]) -> RouteTable:
    """Same as `RouteTable.compile`."""
    return RouteTable.compile(routes)


def route(alert: Alert, table: RouteTable) -> Decision:
    """The decision for `alert`: what a top-to-bottom scan of `table.routes` yields."""
    fields = fields_of(alert)
    positions = list(table.always)
    for name, value in fields.items():
        by_value = table.index.get(name)
        if by_value is not None:
            positions.extend(by_value.get(value, ()))
    positions.sort()
    routes = table.routes
    matched: list[int] = []
    for position in positions:
        candidate = routes[position]
        if first_mismatch(candidate.matchers, fields) is None and (
                not candidate.unless or _excluded_by(candidate, fields) is None):
            matched.append(position)
            if not candidate.continue_matching:
                break
    key = (tuple(matched), alert.severity, alert.service, alert.source in OWN_SOURCES)
    decision = table.decisions.get(key)
    if decision is None:
        if len(table.decisions) >= _DECISIONS_KEPT:
            table.decisions.clear()
        decision = table.decisions[key] = decide(alert, [routes[at] for at in matched])
    return decision


def explain(alert: Alert, table: RouteTable) -> Explanation:
    """Every route's verdict for `alert`, in order, with the decision (for route-test).

    This scans every route without the index, so it also shows routes that would match but
    are not reached.
    """
    fields = fields_of(alert)
    steps: list[Step] = []
    matched: list[Route] = []
    reached = True
    for position, candidate in enumerate(table.routes):
        mismatch = first_mismatch(candidate.matchers, fields)
        excluded = _excluded_by(candidate, fields) if mismatch is None else None
        steps.append(Step(
            position=position, route=candidate, matched=mismatch is None and excluded is None,
            reached=reached, mismatch=mismatch if isinstance(mismatch, Matcher) else None,
            value=fields.get(mismatch.name, "") if mismatch is not None else "",
            excluded=excluded,
        ))
        if mismatch is None and excluded is None and reached:
            matched.append(candidate)
            reached = candidate.continue_matching
    return Explanation(steps=tuple(steps), decision=decide(alert, matched))


def decide(alert: Alert, matched: Iterable[Route]) -> Decision:
    """What the matched routes (in order) add up to for `alert`."""
    routes = tuple(matched)
    severity = alert.severity
    for rule in routes:
        if rule.severity is not None:
            severity = Severity(rule.severity)
        elif rule.severity_map:
            severity = Severity(rule.severity_map.get(severity.value, severity))
    declared = alert.service is not None and alert.source in OWN_SOURCES
    return Decision(
        routes=routes,
        service=alert.service if declared else next(
            (rule.service for rule in routes if rule.service is not None), alert.service),
        channels=tuple(dict.fromkeys(channel for rule in routes for channel in rule.channels)),
        escalation_policy=next((rule.escalation_policy for rule in routes
                                if rule.escalation_policy is not None), None),
        severity=severity,
    )


def _excluded_by(candidate: Route, fields: Mapping[str, str]) -> tuple[Matcher, ...] | None:
    """The first of the route's `unless` sets that `fields` match entirely, or None."""
    for matchers in candidate.unless:
        if first_mismatch(matchers, fields) is None:
            return matchers
    return None


def _anchor_values(matcher: Matcher) -> tuple[str, ...]:
    """The values one of which the alert must have for `matcher` to match; () if unknown.

    Empty values are left out: an alert without the label reads "" and would never be found
    under that label in the index.
    """
    if matcher.operator == "=":
        return (matcher.value,) if matcher.value else ()
    if matcher.operator != "=~":
        return ()
    text = matcher.value
    group = _GROUP.fullmatch(text)
    if group is not None:
        text = group.group(1)
    if _LITERALS.fullmatch(text) is None:
        return ()
    return tuple(dict.fromkeys(text.split("|")))
