"""Alertmanager's `inhibit_rules` -> router's `inhibit_rules` entries (room: migrate; imports
config.load, matchers and report only).

Pure: data in, data out, a finding per rule. Router's rules are Alertmanager's with only the
new-style keys (docs/config.md#inhibit_rules): `source_match` and `target_match` become `=`
matchers, `source_match_re` and `target_match_re` `=~` matchers (both match the whole value,
as Alertmanager anchors them), and each `*_matchers` line is read with Alertmanager's own
rules (`{a="b", c=~"d"}` lists, optional quotes, `\\"` `\\n` `\\\\` escapes: matchers.py, which
reads routes' matchers too) and written as one router matcher per condition. `equal`
carries over as is.

A matcher or an `equal` on `severity`, `source` or `service` is written `labels.severity`
(`labels.source`, `labels.service`): the bare name reads router's field of that name, not
the label (router's severity is the `severity` label read through a table, `critical` and
`page` both `critical`; `service` is the routed service; `source` the format the alert came
in), and `labels.NAME` reads the label as Alertmanager does, as routes.py writes routes'
matchers (core.matching, core.inhibition's `equal` read through the same fields). A rule
Alertmanager itself refuses (a null regular expression, a bad label name or matcher) or whose
regular expression Python does not read as Go does is left out and reported as `unsupported`;
`\\d`, `\\w`, `\\s` and `\\b` are kept ASCII, as in Go (`(?a)`), as for routes.
"""

from __future__ import annotations

import json
import re
from typing import Any

from router.config.load import Source
from router.migrate.alertmanager.matchers import (
    MatcherError,
    label,
    parse_line,
    router_matcher,
)
from router.migrate.alertmanager.report import Report, kind_of

KEYS = ("source_match", "source_match_re", "source_matchers", "target_match",
        "target_match_re", "target_matchers", "equal")
"""Every key Alertmanager 0.25 accepts in an inhibit rule."""

LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
"""Prometheus' label names (model.LabelNameRE), which `*_match` keys and `equal` must be."""

Matcher = tuple[str, str, str]
"""(name, operator, value) as Alertmanager means it."""


class Refused(ValueError):
    """A part of a rule that Alertmanager refuses or router cannot express."""


def convert_inhibit_rules(rules: list[Any], source: Source,
                          report: Report) -> list[dict[str, Any]]:
    """Router's `inhibit_rules:` entries for Alertmanager's `rules`, one finding per rule.

    Args:
        rules: the Alertmanager file's `inhibit_rules` list.
        source: that list's place (`loaded.source.at("inhibit_rules")`).
        report: gets `converted` (what the rule became) or `unsupported` (with why) per
            rule.
    Returns:
        The rules router can hold, in their order; an unsupported rule is left out.
    """
    return [entry for _, entry in convert_inhibit_rules_at(rules, source, report)]


def convert_inhibit_rules_at(rules: list[Any], source: Source,
                             report: Report) -> list[tuple[int, dict[str, Any]]]:
    """`convert_inhibit_rules`, each entry with its index in `rules` (the importer's line
    comments name it)."""
    converted = []
    for index, rule in enumerate(rules or ()):
        place = source.at(index)
        try:
            entry = convert_rule(rule)
        except Refused as error:
            report.add("unsupported", place, f"inhibit rule left out: {error}")
            continue
        report.add("converted", place, describe(entry))
        converted.append((index, entry))
    return converted


def convert_rule(rule: Any) -> dict[str, Any]:
    """One rule as router writes it (with Alertmanager's meaning: nothing to report but
    what it became).

    Raises:
        Refused: naming the key at fault and why.
    """
    if not isinstance(rule, dict):
        raise Refused(f"expected a mapping of {', '.join(KEYS)}, got {kind_of(rule)}")
    unknown = sorted(str(key) for key in rule if key not in KEYS)
    if unknown:
        raise Refused(f"unknown key {unknown[0]!r} (Alertmanager refuses it too); expected "
                      f"one of {', '.join(KEYS)}")
    sides = {side: _side(rule, side) for side in ("source", "target")}
    equal = _equal(rule.get("equal"))
    entry: dict[str, Any] = {
        f"{side}_matchers": [_written(matcher) for matcher in matchers]
        for side, matchers in sides.items()}
    if equal:
        entry["equal"] = [label(name) for name in equal]
    return entry


def describe(entry: dict[str, Any]) -> str:
    """`source [...] inhibits target [...] with equal [...]`, as the report shows a rule."""
    text = (f"source {_listed(entry['source_matchers'])} inhibits target "
            f"{_listed(entry['target_matchers'])}")
    return text + (f" with equal {', '.join(entry['equal'])}" if entry.get("equal") else "")


def _listed(matchers: list[str]) -> str:
    return "{" + ", ".join(matchers) + "}" if matchers else "{} (every alert)"


def _side(rule: dict[str, Any], side: str) -> list[Matcher]:
    """Every condition of one side: `*_match`, then `*_match_re`, then `*_matchers`, as
    Alertmanager's NewInhibitRule joins them."""
    found: list[Matcher] = []
    for key, operator in ((f"{side}_match", "="), (f"{side}_match_re", "=~")):
        mapping = rule.get(key) or {}
        if not isinstance(mapping, dict):
            raise Refused(f"{key}: expected a mapping of label names to values, got "
                          f"{kind_of(mapping)}")
        for name, value in mapping.items():
            if not LABEL_NAME.fullmatch(str(name)):
                raise Refused(f"{key}: invalid label name {str(name)!r}")
            if value is None or isinstance(value, (dict, list)):
                expected = "a regular expression" if operator == "=~" else "a value"
                raise Refused(f"{key}.{name}: expected {expected}, got {kind_of(value)} "
                              "(Alertmanager refuses it too)")
            found.append(_checked((str(name), operator, _scalar(value)), key))
    key = f"{side}_matchers"
    lines = rule.get(key) or []
    if not isinstance(lines, list):
        raise Refused(f"{key}: expected a list of matchers, got {kind_of(lines)}")
    for line in lines:
        found.extend(_checked(matcher, key) for matcher in _parsed(str(line), key))
    return found


def _checked(matcher: Matcher, key: str) -> Matcher:
    """`matcher` as router holds it (matchers.router_matcher: a name router can write, a
    regular expression Python reads as Go does), its name already `labels.NAME` if
    reserved."""
    try:
        return router_matcher(*matcher)
    except MatcherError as error:
        raise Refused(f"{key}: {error}") from None


def _parsed(line: str, key: str) -> list[Matcher]:
    """One `*_matchers` line read by Alertmanager's rules (matchers.parse_line)."""
    try:
        return parse_line(line)
    except MatcherError as error:
        raise Refused(f"{key}: {error}") from None


def _equal(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise Refused(f"equal: expected a list of label names, got {kind_of(value)}")
    names = [str(name) for name in value]
    for name in names:
        if not LABEL_NAME.fullmatch(name):
            raise Refused(f"equal: invalid label name {name!r}")
    return list(dict.fromkeys(names))


def _written(matcher: Matcher) -> str:
    """A router matcher: the value always quoted (JSON), so spaces and commas are kept."""
    name, operator, value = matcher
    return f"{name}{operator}{json.dumps(value, ensure_ascii=False)}"


def _scalar(value: Any) -> str:
    """A YAML scalar as Alertmanager reads it into a string (true -> "true")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
