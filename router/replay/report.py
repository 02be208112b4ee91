"""A replay's report, alone or two configs side by side, as text, Markdown or JSON (room:
replay; imports nothing of router but the replay's tally).

The rows are the same in every form: incidents opened (and by service), never paged, still
open at the end, escalations beyond level 1 and the incidents they happened in, policies
exhausted, then per person their pages and pages at night, then per channel its
notifications. Compared, each row shows the config `--against` names (before), the config
replayed (after) and the change; the changed rows are also said in words
("ann night pages 14 → 3").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from router.replay.tally import Tally

NO_ACKNOWLEDGEMENTS = ("no acknowledgements are known: every incident escalates until an "
                       "alert resolves it, it goes stale or its policy is exhausted")


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """One config's replay: its name (the directory) and what it came to."""

    config: str
    tally: Tally


@dataclass(frozen=True, slots=True, kw_only=True)
class Window:
    start: datetime
    end: datetime
    alerts: int


def rows(tally: Tally) -> list[tuple[str, int]]:
    """(what, how many) in the report's order."""
    found = [("alerts a heartbeat took", tally.heartbeat_alerts)] if tally.heartbeat_alerts \
        else []
    found += [("incidents opened", tally.incidents_opened)]
    found += [(f"incidents opened for {service}", count)
              for service, count in sorted(tally.opened_by_service.items())]
    found += [("incidents never paged", tally.held_incidents),
              ("incidents still open at the end", tally.still_open),
              ("escalations beyond level 1", tally.escalations_beyond_first),
              ("incidents escalated beyond level 1", len(tally.escalated_incidents)),
              ("policies exhausted", tally.exhausted)]
    for person in sorted(tally.pages):
        found += [(f"{person} pages", tally.pages[person]),
                  (f"{person} night pages", tally.night_pages[person])]
    found += [(f"{channel} notifications", count)
              for channel, count in sorted(tally.channel_notifications.items())]
    return found


def compared(after: Tally, before: Tally) -> list[tuple[str, int, int]]:
    """(what, before, after) for every row either has; a row one lacks counts 0 there."""
    old, new = dict(rows(before)), dict(rows(after))
    order = list(dict.fromkeys([*new, *old]))
    return [(what, old.get(what, 0), new.get(what, 0)) for what in order]


def changes(after: Tally, before: Tally) -> list[str]:
    """The rows that differ, in words: `ann night pages 14 → 3`."""
    return [f"{what} {was} → {now}" for what, was, now in compared(after, before)
            if was != now]


def as_text(window: Window, outcome: Outcome, against: Outcome | None = None) -> str:
    lines = [_heading(window, outcome, against), NO_ACKNOWLEDGEMENTS, ""]
    if against is None:
        table = [(what, str(count)) for what, count in rows(outcome.tally)]
        width = max(len(what) for what, _ in table)
        lines += [f"{what.ljust(width)}  {count.rjust(6)}" for what, count in table]
        return "\n".join(lines)
    header = ("", against.config, outcome.config, "change")
    body = [(what, str(was), str(now), _delta(was, now))
            for what, was, now in compared(outcome.tally, against.tally)]
    widths = [max(len(line[column]) for line in (header, *body)) for column in range(4)]
    for line in (header, *body):
        cells = [line[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in
                                               zip(line[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells).rstrip())
    said = changes(outcome.tally, against.tally)
    lines += ["", "changes:" if said else "no changes"] + [f"  {line}" for line in said]
    return "\n".join(lines)


def as_markdown(window: Window, outcome: Outcome, against: Outcome | None = None) -> str:
    lines = [f"**{_heading(window, outcome, against)}**", "", f"_{NO_ACKNOWLEDGEMENTS}_", ""]
    if against is None:
        lines += ["| | count |", "| --- | ---: |"]
        lines += [f"| {what} | {count} |" for what, count in rows(outcome.tally)]
        return "\n".join(lines)
    said = changes(outcome.tally, against.tally)
    lines += [f"- {line}" for line in said] or ["No changes."]
    lines += ["", f"| | `{against.config}` | `{outcome.config}` | change |",
              "| --- | ---: | ---: | ---: |"]
    lines += [f"| {what} | {was} | {now} | {_delta(was, now)} |"
              for what, was, now in compared(outcome.tally, against.tally)]
    return "\n".join(lines)


def as_json(window: Window, outcome: Outcome, against: Outcome | None = None
            ) -> dict[str, Any]:
    document: dict[str, Any] = {
        "from": _instant(window.start), "to": _instant(window.end), "alerts": window.alerts,
        "acknowledgements": "none known: incidents escalate until resolved",
        "config": _outcome_json(outcome)}
    if against is not None:
        document["against"] = _outcome_json(against)
        document["changes"] = [{"what": what, "before": was, "after": now}
                               for what, was, now in compared(outcome.tally, against.tally)
                               if was != now]
    return document


def _outcome_json(outcome: Outcome) -> dict[str, Any]:
    tally = outcome.tally
    return {
        "directory": outcome.config,
        "incidents": {"opened": tally.incidents_opened,
                      "opened_by_service": dict(sorted(tally.opened_by_service.items())),
                      "never_paged": tally.held_incidents, "still_open": tally.still_open,
                      "escalated_beyond_level_1": len(tally.escalated_incidents),
                      "exhausted": tally.exhausted},
        "escalations_beyond_level_1": tally.escalations_beyond_first,
        "people": {person: {"pages": tally.pages[person], "night": tally.night_pages[person]}
                   for person in sorted(tally.pages)},
        "channels": dict(sorted(tally.channel_notifications.items())),
    }


def _heading(window: Window, outcome: Outcome, against: Outcome | None) -> str:
    alerts = f"{window.alerts} alert{'s' if window.alerts != 1 else ''}"
    configs = outcome.config if against is None else \
        f"{outcome.config} against {against.config}"
    return (f"replay of {alerts} from {_instant(window.start)} to {_instant(window.end)}: "
            f"{configs}")


def _delta(was: int, now: int) -> str:
    return "" if was == now else f"{now - was:+d}"


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

