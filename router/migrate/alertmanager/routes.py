"""Alertmanager's routing tree -> router's ordered rules (room: migrate; imports config).

Alertmanager (dispatch/route.go, `Route.Match`): a node matches when its matchers do; its
children are tried in order and trying stops at the first child that matched unless that
child has `continue`; a node none of whose children matched is itself the match; the
receiver is inherited. The answer is the set of matched nodes' receivers.

Router's rules are a flat list (first match wins unless `continue`), so each node becomes one
rule whose condition is exactly "this node is in Alertmanager's answer":

- `match`: the matchers of the node and of every ancestor;
- `unless`: the matchers of every child (a matching child takes the answer from the node)
  and of every earlier sibling without `continue` of the node and its ancestors (a matching
  one stops Alertmanager before it);
- `continue: true` unless no node on the path has `continue`. Such a rule, when it matches,
  is the last node Alertmanager adds (the tree stops at every level above it), so stopping
  there skips only rules that cannot match.

Rules are written children first, the node's own rule after them. An `unless` set is left
out where order already says it: when every rule from the excluded subtree stops, a match
in it stops router before this rule is reached. A tree without `continue` thus reads as a
plain first-match list. A node that can never be in the answer (a child without matchers, an
earlier sibling without matchers and without `continue`) writes no rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from router.config.load import Source
from router.migrate.alertmanager.matchers import MatcherError, parse_line, to_router
from router.migrate.alertmanager.report import Refused, Report

TIMING = ("group_wait", "group_interval", "repeat_interval")


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """One router route, as `convert` writes it, with the Alertmanager node it came from."""

    name: str
    receiver: str
    match: tuple[str, ...]
    unless: tuple[tuple[str, ...], ...]
    continue_matching: bool
    channels: tuple[str, ...]
    mute_time_intervals: tuple[str, ...] = ()
    active_time_intervals: tuple[str, ...] = ()
    line: int | None = None
    path: str = ""


@dataclass(slots=True)
class Node:
    """One route of the tree, its options inherited and its matchers in router's words."""

    source: Source
    receiver: str
    matchers: tuple[str, ...]
    continue_matching: bool
    data: Mapping[str, Any]
    children: list[Node] = field(default_factory=list)


@dataclass(slots=True)
class _Emitted:
    report: Report
    rules: list[Rule] = field(default_factory=list)


def flatten(route: Any, source: Source, channels: Mapping[str, Sequence[str]],
            report: Report) -> list[Rule]:
    """The rules for the tree at `route` (the config's `route:`), in order.

    `channels` gives each receiver's router channels (none for a receiver without
    integrations: its rules still decide, they notify nobody).

    Raises:
        Refused: the tree is not one Alertmanager accepts, or a matcher has no equal.
    """
    root = _node(route, source, None, report)
    if root.matchers:
        raise Refused(source.where.line, source.path, "the root route must not have matchers")
    emitted = _Emitted(report)
    _visit(root, (), (), emitted, channels)
    return emitted.rules


def _node(data: Any, source: Source, parent: Node | None, report: Report) -> Node:
    if not isinstance(data, Mapping):
        raise Refused(source.where.line, source.path, "expected a route (a mapping)")
    receiver = data.get("receiver") or (parent.receiver if parent else None)
    if not isinstance(receiver, str):
        raise Refused(source.where.line, source.path, "the root route needs a receiver")
    if parent is None and data.get("continue"):
        raise Refused(source.where.line, source.path,
                      "the root route cannot have 'continue'")
    node = Node(source=source, receiver=receiver, matchers=_matchers(data, source),
                continue_matching=data.get("continue") is True, data=data)
    _options(node, report)
    children = data.get("routes") or []
    if not isinstance(children, list):
        raise Refused(source.at("routes").where.line, f"{source.path}.routes",
                      "expected a list of routes")
    node.children = [_node(child, source.at("routes").at(index), node, report)
                     for index, child in enumerate(children)]
    return node


def _matchers(data: Mapping[str, Any], source: Source) -> tuple[str, ...]:
    """`match`, `match_re` and `matchers`, in router's words, without repeats."""
    found: list[str] = []
    for key, operator in (("match", "="), ("match_re", "=~")):
        pairs = data.get(key) or {}
        if not isinstance(pairs, Mapping):
            raise Refused(source.at(key).where.line, f"{source.path}.{key}",
                          "expected a mapping of label name to value")
        for name, value in pairs.items():
            place = source.at(key).at(str(name))
            try:
                found.append(to_router(str(name), operator, _text(value, place)))
            except MatcherError as error:
                raise Refused(place.where.line, place.path, str(error)) from None
    lines = data.get("matchers") or []
    if not isinstance(lines, list):
        raise Refused(source.at("matchers").where.line, f"{source.path}.matchers",
                      "expected a list of matchers")
    for index, line in enumerate(lines):
        place = source.at("matchers").at(index)
        try:
            found += [to_router(*matcher) for matcher in parse_line(_text(line, place))]
        except MatcherError as error:
            raise Refused(place.where.line, place.path, str(error)) from None
    return tuple(dict.fromkeys(found))


def _text(value: Any, source: Source) -> str:
    """A scalar as Alertmanager's YAML reads it into a string: as written (`1.50`, `0x1F`,
    `yes`), which PyYAML's value is not; null is empty."""
    if value is None:
        return ""
    node = source.node
    if isinstance(node, yaml.ScalarNode) and not isinstance(value, str):
        return str(node.value)
    return str(value)


def _options(node: Node, report: Report) -> None:
    """Reports the grouping and timing options a node sets: router has no such groups."""
    data, source = node.data, node.source
    if "group_by" in data:
        place = source.at("group_by")
        if data["group_by"] == ["..."]:
            report.add("converted", place, "group_by ['...']: router keeps one incident per "
                                           "label set, as Alertmanager groups here")
        else:
            report.add("changed", place, f"group_by {data['group_by']}: router opens one "
                       "incident per label set; Alertmanager sent one notification per "
                       "group of these labels")
    for key in TIMING:
        if key in data:
            report.add("changed", source.at(key), _TIMING_MEANING[key])
    for key in ("mute_time_intervals", "active_time_intervals"):
        if data.get(key):
            report.add("changed", source.at(key), f"{key}: router mutes an alert only when "
                       "every route it matched is muted (it pages one incident); "
                       "Alertmanager muted this route's receiver alone")


_TIMING_MEANING = {
    "group_wait": "router notifies as an alert arrives; it does not wait to batch a group",
    "group_interval": "router notifies each new alert at once; it does not batch changes "
                      "to a group",
    "repeat_interval": "router does not send a firing alert's notification again; an "
                       "unacknowledged incident escalates along its service's policy",
}

Exclusion = tuple[tuple[str, ...], bool]  # (matchers, every rule of that subtree stops)


def _visit(node: Node, path: tuple[Node, ...], exclusions: tuple[Exclusion, ...],
           emitted: _Emitted, channels: Mapping[str, Sequence[str]]) -> None:
    chain = (*path, node)
    earlier: list[Exclusion] = []
    children: list[Exclusion] = []
    for child in node.children:
        if any(not matchers for matchers, _ in earlier):
            # an earlier sibling without matchers and without continue takes every alert
            emitted.report.add("converted", child.source, "never reached in Alertmanager "
                               "either (an earlier sibling without matchers and without "
                               "continue matches every alert): no rule")
            continue
        start = len(emitted.rules)
        _visit(child, chain, (*exclusions, *earlier), emitted, channels)
        stops = all(not rule.continue_matching for rule in emitted.rules[start:])
        children.append((child.matchers, stops))
        if not child.continue_matching:
            earlier.append((child.matchers, stops))
    if any(not matchers for matchers, _ in children):
        return  # a child without matchers always matches: this node never answers itself
    emitted.rules.append(_rule(node, chain, (*exclusions, *children), channels))


def _rule(node: Node, chain: tuple[Node, ...], exclusions: Sequence[Exclusion],
          channels: Mapping[str, Sequence[str]]) -> Rule:
    data = node.data
    return Rule(
        name=f"{node.receiver}: {node.source.path}",
        receiver=node.receiver,
        match=tuple(dict.fromkeys(text for step in chain for text in step.matchers)),
        unless=tuple(dict.fromkeys(matchers for matchers, stops in exclusions if not stops)),
        continue_matching=any(step.continue_matching for step in chain),
        channels=tuple(channels.get(node.receiver, ())),
        mute_time_intervals=tuple(data.get("mute_time_intervals") or ()),
        active_time_intervals=tuple(data.get("active_time_intervals") or ()),
        line=node.source.where.line, path=node.source.path,
    )
