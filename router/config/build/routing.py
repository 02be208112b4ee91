"""The routing sections -> model (room: config): `services` (with their dedup-key
templates), `routes`, `suppressions`, `inhibit_rules` and `escalation_policies`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import jinja2

from router.config.build.analysis import analysis
from router.config.build.context import UNSET_END, UNSET_START, Context
from router.config.load import Source
from router.config.model import (
    Analysis,
    EscalationPolicy,
    FixedWindow,
    InhibitRule,
    Level,
    Matcher,
    Route,
    Service,
    Suppression,
    Target,
    frozen_mapping,
)
from router.config.values import (
    parse_datetime,
    parse_positive_duration,
    parse_timezone,
)
from router.sandbox import compile_template


def service(context: Context, data: dict[str, Any], source: Source) -> Service:
    if "dedup_key" in data:
        dedup_template(context, data["dedup_key"], source.at("dedup_key"))
    values: dict[str, Any] = {key: data[key] for key in (
        "description", "escalation_policy", "dedup_key", "urgency") if key in data}
    for key in ("acknowledge_timeout", "retrigger_after"):
        if key in data:
            values[key] = context.parse(parse_positive_duration, data, source, key)
    return Service(id=data["id"], name=data.get("name", data["id"]),
                   channels=tuple(data.get("channels", ())),
                   attach_checks=tuple(data.get("attach_checks", ())),
                   analysis=_analysis(context, data, source),
                   routing_keys=tuple(context.secret(key)
                                      for key in data.get("routing_keys", ())),
                   where=context.place(source), **values)


def dedup_template(context: Context, text: str, source: Source) -> None:
    """Compiled in the sandbox the engine renders it in (compiling, not only parsing, also
    finds unknown filters and tests)."""
    try:
        compile_template(text)
    except jinja2.TemplateSyntaxError as error:
        reason = (error.message or "syntax error").rstrip(".")
        context.error(source, f"not a valid template: {reason} "
                              f"(line {error.lineno} of the template)")


def route(context: Context, data: dict[str, Any], source: Source, index: int) -> Route:
    severity = data.get("severity")
    values: dict[str, Any] = {}
    if isinstance(severity, dict):
        values["severity_map"] = frozen_mapping(severity)
    elif severity is not None:
        values["severity"] = severity
    return Route(
        name=data.get("name", f"route {index + 1}"), matchers=context.matchers(data, source),
        service=data.get("service"), channels=tuple(data.get("channels", ())),
        escalation_policy=data.get("escalation_policy"),
        continue_matching=data.get("continue", False),
        active_time_intervals=tuple(data.get("active_time_intervals", ())),
        mute_time_intervals=tuple(data.get("mute_time_intervals", ())),
        attach_checks=tuple(data.get("attach_checks", ())),
        unless=unless_sets(context, data, source),
        analysis=_analysis(context, data, source),
        where=context.place(source), **values,
    )


def _analysis(context: Context, data: dict[str, Any], source: Source) -> Analysis | None:
    if "analysis" not in data:
        return None
    return analysis(context, data["analysis"], source.at("analysis"))


def unless_sets(context: Context, data: dict[str, Any], source: Source
                ) -> tuple[tuple[Matcher, ...], ...]:
    """A route's `unless`: each item a list of matchers, placed at its own line."""
    sets = []
    for index, group in enumerate(data.get("unless", ())):
        place = source.at("unless").at(index)
        found = (context.matcher(text, place.at(position)) for position, text in enumerate(group))
        sets.append(tuple(matcher for matcher in found if matcher is not None))
    return tuple(sets)


def inhibit_rule(context: Context, data: dict[str, Any], source: Source,
                 index: int) -> InhibitRule:
    """Alertmanager's `source_matchers`, `target_matchers`, `equal`; a rule without a
    `name` is named by its position (1 for the first), which `suppressed_by` shows."""
    return InhibitRule(
        name=str(data.get("name", index + 1)),
        source_matchers=context.matchers(data, source, "source_matchers"),
        target_matchers=context.matchers(data, source, "target_matchers"),
        equal=tuple(data.get("equal", ())), where=context.place(source))


def suppression(context: Context, data: dict[str, Any], source: Source) -> Suppression:
    zone = context.parse(parse_timezone, data, source, "timezone") or context.settings.timezone
    fixed = None
    if "from" in data:
        start = context.parse(lambda text: parse_datetime(text, zone), data, source, "from")
        end = context.parse(lambda text: parse_datetime(text, zone), data, source, "until")
        fixed = FixedWindow(start=start or UNSET_START, end=end or UNSET_END,
                            where=context.place(source))
    weekly = source.at("weekly")
    return Suppression(
        id=data["id"], reason=data["reason"], matchers=context.matchers(data, source),
        timezone=zone, fixed=fixed,
        weekly=tuple(window for index, item in enumerate(data.get("weekly", ()))
                     if (window := context.window(item, weekly.at(index)))),
        where=context.place(source),
    )


def policy(context: Context, data: dict[str, Any], source: Source) -> EscalationPolicy:
    levels = source.at("levels")
    values: dict[str, Any] = {key: data[key] for key in ("repeat", "skip_empty") if key in data}
    if "fallback" in data:
        [(kind, target_id)] = data["fallback"].items()
        values["fallback"] = Target(kind=kind, id=target_id,
                                    where=context.place(source.at("fallback")))
    return EscalationPolicy(
        id=data["id"], name=data.get("name", data["id"]),
        levels=tuple(level(context, item, levels.at(index))
                     for index, item in enumerate(data["levels"])),
        where=context.place(source), **values,
    )


def level(context: Context, data: dict[str, Any], source: Source) -> Level:
    targets = source.at("targets")
    values: dict[str, Any] = {key: data[key] for key in ("repeat", "skip_empty") if key in data}
    if "retry_interval" in data:
        values["retry_interval"] = context.parse(parse_positive_duration, data, source,
                                                 "retry_interval")
    return Level(
        targets=tuple(Target(kind=kind, id=target_id,
                             where=context.place(targets.at(index)))
                      for index, target in enumerate(data["targets"])
                      for kind, target_id in target.items()),
        delay=context.parse(parse_positive_duration, data, source, "delay") or timedelta(0),
        where=source.where, **values,
    )
