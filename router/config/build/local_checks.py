"""The `checks:` section -> model (room: config): local health checks, each with its type's
keys, its thresholds (the type's defaults in `config.model.CHECK_THRESHOLDS` where the
config gives none) and its interval and timeout. A key of another type's is an error at its
place, so a `paths:` on a memory check is not silently ignored."""

from __future__ import annotations

from typing import Any

from router.config.build.context import Context
from router.config.load import Source
from router.config.model import CHECK_THRESHOLDS, Check, Thresholds, frozen_mapping
from router.config.values import parse_positive_duration

COMMON = frozenset({"id", "type", "service", "interval", "timeout", "warning", "critical",
                    "labels"})
OWN_KEYS = {
    "cpu": frozenset({"samples"}),
    "memory": frozenset({"swap"}),
    "disk": frozenset({"paths", "inodes"}),
    "process": frozenset({"names"}),
    "network": frozenset({"host", "port"}),
    "http": frozenset({"url", "expected_status"}),
    "command": frozenset({"command"}),
}
"""The keys each type reads besides the common ones."""


def check(context: Context, data: dict[str, Any], source: Source) -> Check:
    kind = data["type"]
    for key in sorted(set(data) - COMMON - OWN_KEYS[kind]):
        owner = next(name for name, keys in OWN_KEYS.items() if key in keys)
        context.error(source.at(key), f"{key} is for {owner} checks, not {kind} checks")
    if kind == "command" and ("warning" in data or "critical" in data):
        context.error(source.at("warning" if "warning" in data else "critical"),
                      "a command check grades itself by its exit status (0 ok, 1 warning, "
                      "2 critical, 3 unknown); it takes no thresholds")
    values: dict[str, Any] = {key: tuple(data[key]) for key in ("paths", "names", "command")
                              if key in data}
    values |= {key: data[key] for key in ("samples", "host", "port", "url", "expected_status",
                                          "service") if key in data}
    for key in ("interval", "timeout"):
        if key in data and (parsed := context.parse(parse_positive_duration, data, source,
                                                    key)) is not None:
            values[key] = parsed
    for key in ("swap", "inodes"):
        if key in data:
            values[key] = thresholds(context, data[key], source.at(key), Thresholds())
    return Check(id=data["id"], type=kind,
                 thresholds=thresholds(context, data, source,
                                       CHECK_THRESHOLDS.get(kind, Thresholds())),
                 labels=frozen_mapping(data.get("labels", {})),
                 where=context.place(source), **values)


def thresholds(context: Context, data: dict[str, Any], source: Source,
               default: Thresholds) -> Thresholds:
    """`warning` and `critical` of `data`, each the default's where not given."""
    return Thresholds(warning=data.get("warning", default.warning),
                      critical=data.get("critical", default.critical),
                      inverted=default.inverted, where=context.place(source))
