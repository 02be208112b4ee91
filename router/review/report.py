"""A Review as text, as Markdown for a pull-request comment, and as JSON (room: review;
imports core, errors).

The JSON document is stable: its shape is documented in docs/diff.md and carries
`"version": 1`; a change to it that breaks a reader bumps the version. Instants are ISO
8601 in the rota's timezone (shifts, gaps) or UTC (the window).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, tzinfo
from typing import Any

from router.core.coverage import Gap
from router.review.model import Compared, Review, Section
from router.review.plain import FieldChange, Plain

JSON_VERSION = 1
MARKDOWN_ROWS = 50
"""Shifts shown per rota, and lines per part, in Markdown: a comment stays readable when a
rotation's order changes for months or a matcher typo reroutes every test case."""
MARKDOWN_CHARACTERS = 65_536
"""GitHub refuses a longer comment; Markdown is cut at a line to fit, whatever the parts."""
_CUT = "... cut here to fit a pull-request comment (`router diff --format text` lists everything)."
SECTIONS = ("escalation_policies", "channels", "people", "services")
"""The id-keyed sections, in the order every view shows them."""
_TITLES = {"escalation_policies": "escalation policies", "channels": "channels",
           "people": "people", "services": "services"}


def _instant(moment: datetime, zone: tzinfo) -> str:
    return moment.astimezone(zone).isoformat(timespec="minutes")


def _value(value: Plain) -> str:
    return "(none)" if value is None else json.dumps(value, ensure_ascii=False)


def _change(change: FieldChange) -> str:
    return f"{change.field}: {_value(change.before)} -> {_value(change.after)}"


def gap_text(gap: Gap) -> str:
    """`policy ops level 1 (rota office) reaches nobody from ... until ... (zone)`."""
    zone = gap.timezone
    span = f"from {_instant(gap.start, zone)} until {_instant(gap.end, zone)} ({zone.key})"
    rotas = ", ".join(gap.rotas)
    if gap.policy is None:
        return f"rota {rotas}: nobody is on call {span}"
    return f"policy {gap.policy} level {gap.level} (rota{'s' * (len(gap.rotas) > 1)} " \
           f"{rotas}) reaches nobody {span}"


def _section_lines(section: Section) -> Iterator[str]:
    for name in section.added:
        yield f"+ {name}"
    for name in section.removed:
        yield f"- {name}"
    for item in section.changed:
        for change in item.changes:
            yield f"~ {item.name}: {_change(change)}"
    for moved in section.reordered:
        yield f"~ {moved.name}: moved from position {moved.before + 1} to {moved.after + 1}"


def _parts(review: Review) -> Iterator[tuple[str, list[str]]]:
    """(title, lines) of each part that has something to say, in the order shown."""
    yield "routes", list(_section_lines(review.routes))
    yield "test cases that route differently", [
        f"{case.where}: {case.name}: {_change(change)}"
        for case in review.cases for change in case.changes]
    for rota in review.rotas:
        yield f"rota {rota.rota}: shifts that move ({rota.timezone.key})", [
            f"{'-' if move.side == 'before' else '+'} {move.person or '(nobody)'} "
            f"{_instant(move.start, rota.timezone)} until {_instant(move.end, rota.timezone)} "
            f"({move.side})" for move in rota.moves]
    for key in SECTIONS:
        yield _TITLES[key], list(_section_lines(getattr(review, key)))
    yield "other config", list(_section_lines(review.other))
    yield "new coverage gaps", [gap_text(gap) for gap in review.new_gaps]


def text(review: Review) -> str:
    window = f"from {_instant(review.start, UTC)} until {_instant(review.end, UTC)}"
    lines = [f"router diff: {review.old.name} -> {review.new.name}",
             f"shifts and coverage {window}"]
    for title, items in _parts(review):
        if items:
            lines += ["", f"{title}:", *(f"  {item}" for item in items)]
    if review.empty:
        lines.append("no change to routing, rotas, escalation, channels, people or services")
    return "\n".join(lines)


def _code(value: str) -> str:
    """Inline Markdown code that survives backticks in the value. Pipes stay as written:
    these are list items, and outside a table GitHub shows a `\\|` with its backslash."""
    fence = "``" if "`" in value else "`"
    return f"{fence}{value}{fence}"


def markdown(review: Review) -> str:
    """For a pull-request comment: a heading, a summary line, one list or table per part."""
    lines = ["### router diff", "",
             f"Compares {_side(review.old)} (OLD) with {_side(review.new)} (NEW).",
             f"Shifts and coverage from {_instant(review.start, UTC)} "
             f"until {_instant(review.end, UTC)}."]
    if review.empty:
        lines += ["", "No change to routing, rotas, escalation, channels, people or services."]
    for title, items in _parts(review):
        if not items or title.startswith("rota "):
            continue
        lines += ["", f"#### {title[0].upper()}{title[1:]}", ""]
        lines += [f"- {_code(item)}" for item in items[:MARKDOWN_ROWS]]
        if len(items) > MARKDOWN_ROWS:
            lines += ["", f"... and {len(items) - MARKDOWN_ROWS} more "
                      "(`router diff --format text` lists them all)."]
    for rota in review.rotas:
        lines += ["", f"#### Rota `{rota.rota}`: shifts that move ({rota.timezone.key})", "",
                  "| person | start | end | |", "| --- | --- | --- | --- |"]
        lines += [f"| {move.person or '(nobody)'} | {_instant(move.start, rota.timezone)} | "
                  f"{_instant(move.end, rota.timezone)} | {move.side} |"
                  for move in rota.moves[:MARKDOWN_ROWS]]
        if len(rota.moves) > MARKDOWN_ROWS:
            lines += ["", f"... and {len(rota.moves) - MARKDOWN_ROWS} more shifts "
                      "(`router diff --format text` lists them all)."]
    return _fitted(lines)


def _side(side: Compared) -> str:
    """A directory or revision as code; "no config yet" as words."""
    return _code(side.name) if side.exists else f"*{side.name}*"


def _fitted(lines: list[str]) -> str:
    """`lines` joined, cut after the last line that leaves room for a note saying so when
    the whole would be over MARKDOWN_CHARACTERS."""
    whole = "\n".join(lines)
    if len(whole) <= MARKDOWN_CHARACTERS:
        return whole
    kept, size = [], len(_CUT) + 2
    for line in lines:
        if size + len(line) + 1 > MARKDOWN_CHARACTERS:
            break
        kept.append(line)
        size += len(line) + 1
    return "\n".join([*kept, "", _CUT])


def _section_json(section: Section) -> dict[str, Any]:
    return {"added": list(section.added), "removed": list(section.removed),
            "changed": [{"name": item.name, "changes": [_change_json(change)
                                                        for change in item.changes]}
                        for item in section.changed]}


def _change_json(change: FieldChange) -> dict[str, Any]:
    return {"field": change.field, "before": change.before, "after": change.after}


def _gap_json(gap: Gap) -> dict[str, Any]:
    return {"policy": gap.policy, "level": gap.level, "rotas": list(gap.rotas),
            "start": _instant(gap.start, gap.timezone), "end": _instant(gap.end, gap.timezone),
            "timezone": gap.timezone.key}


def as_json(review: Review) -> dict[str, Any]:
    """The documented JSON document (docs/diff.md)."""
    routes = _section_json(review.routes)
    routes["reordered"] = [{"name": moved.name, "before": moved.before, "after": moved.after}
                           for moved in review.routes.reordered]
    return {
        "version": JSON_VERSION,
        "start": review.start.isoformat(), "end": review.end.isoformat(),
        "old": {"name": review.old.name, "exists": review.old.exists},
        "new": {"name": review.new.name, "exists": review.new.exists},
        "changed": not review.empty,
        "routes": routes,
        "cases": [{"name": case.name, "file": case.where.file, "line": case.where.line,
                   "changes": [_change_json(change) for change in case.changes]}
                  for case in review.cases],
        "rotas": [{"rota": rota.rota, "timezone": rota.timezone.key,
                   "shifts": [{"person": move.person, "start": _instant(move.start, rota.timezone),
                               "end": _instant(move.end, rota.timezone), "side": move.side}
                              for move in rota.moves]} for rota in review.rotas],
        **{key: _section_json(getattr(review, key)) for key in SECTIONS},
        "other": _section_json(review.other),
        "new_gaps": [_gap_json(gap) for gap in review.new_gaps],
    }


def dumps(review: Review) -> str:
    """`as_json` as text: two-space indents, keys in the documented order."""
    return json.dumps(as_json(review), indent=2, ensure_ascii=False)
