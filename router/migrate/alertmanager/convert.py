"""`router import alertmanager`: one Alertmanager file in, router's files out (room: migrate;
imports config).

One file per section (settings, services, channels, routes, and inhibit_rules and
time_intervals when the Alertmanager file has them), each item under a comment that names the
Alertmanager line it came from, and the report of what carried over. Every routed
alert goes to one service, `alertmanager`, which has no channels and no escalation policy of
its own: the routes' channels are the receivers' integrations, as in Alertmanager.
"""

from __future__ import annotations

import dataclasses
import glob
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from router.config.load import Source
from router.migrate.alertmanager import go_template as go
from router.migrate.alertmanager.channels import Channels, convert_receivers
from router.migrate.alertmanager.inhibit import convert_inhibit_rules_at
from router.migrate.alertmanager.report import Finding, Loaded, Refused, Report, load
from router.migrate.alertmanager.routes import Rule, flatten
from router.migrate.alertmanager.time_intervals import convert_time_intervals_at

SERVICE = "alertmanager"
# Sections another converter of this package carries over; wired in at merge.
INTERVAL_SECTIONS = ("time_intervals", "mute_time_intervals")
_INTERVAL_KEYS = ("mute_time_intervals", "active_time_intervals")  # of a route
_KNOWN = {"global", "route", "receivers", "inhibit_rules", "templates", *INTERVAL_SECTIONS}
_GLOBALS_USED = {"resolve_timeout", "smtp_from", "smtp_smarthost", "smtp_auth_username",
                 "smtp_auth_password", "smtp_auth_password_file", "smtp_require_tls",
                 "slack_api_url", "slack_api_url_file", "pagerduty_url"}
_DURATION = re.compile(r"(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?"
                       r"(?:(\d+)ms)?")
_TEMPLATE = re.compile(r"\n|\{\{|\{%")
_SECONDS = (365 * 86400, 7 * 86400, 86400, 3600, 60, 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class Imported:
    """What one import produced: router's files by name, the rules and channels behind them,
    and the report."""

    files: Mapping[str, str]
    rules: Sequence[Rule]
    channels: Channels
    report: Report


def convert(path: Path, *, webhook_fallback: bool = False) -> Imported:
    """Router's config files for the Alertmanager config at `path`.

    Raises:
        OSError: the file cannot be read.
        ValueError: not YAML, or not a mapping (report.load).
        Refused: not an Alertmanager config, or a part router cannot keep the meaning of.
    """
    loaded = load(path)
    data, source = loaded.data, loaded.source
    if "route" not in data or "receivers" not in data:
        raise Refused(1, "", "not an Alertmanager config: it needs 'route' and 'receivers'")
    report = Report(str(path))
    base_dir = path.resolve().parent
    channels = convert_receivers(data, source, report, base_dir=base_dir,
                                 webhook_fallback=webhook_fallback,
                                 definitions=_definitions(loaded, base_dir, report))
    rules = flatten(data["route"], source.at("route"), channels.by_receiver, report)
    for rule in rules:
        if rule.receiver not in channels.by_receiver:
            raise Refused(rule.line, rule.path, f"undefined receiver {rule.receiver!r} used "
                                                "in route")
    intervals = _time_intervals(loaded, report)
    rules = _kept_references(rules, loaded, {entry["name"] for entry, _ in intervals},
                             report)
    inhibitions = _inhibit_rules(loaded, report)
    _sections(loaded, report)
    name = path.name
    files = {
        "settings.yaml": _settings(loaded, report, name),
        "services.yaml": _document(name, "services", [(
            {"id": SERVICE, "name": "Alertmanager routes",
             "description": f"Alerts routed by the tree imported from {name}"}, None)]),
        "channels.yaml": _document(name, "channels", [
            (channel, channels.lines.get(channel["id"])) for channel in channels.channels]),
        "routes.yaml": _document(name, "routes", [(_route(rule), rule.line)
                                                   for rule in rules],
                                 paths=[rule.path for rule in rules]),
    }
    if "inhibit_rules" in data:
        files["inhibit_rules.yaml"] = _placed(name, "inhibit_rules", inhibitions)
    if any(key in data for key in INTERVAL_SECTIONS):
        files["time_intervals.yaml"] = _placed(name, "time_intervals", intervals)
    return Imported(files=files, rules=rules, channels=channels, report=report)


def write(imported: Imported, directory: Path, *, force: bool = False) -> None:
    """Writes the files into `directory`, made when missing.

    Raises:
        FileExistsError: `directory` holds files and `force` is not given.
    """
    if directory.is_dir() and any(directory.iterdir()) and not force:
        raise FileExistsError(f"{directory} is not empty (give --force to write into it)")
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in imported.files.items():
        (directory / name).write_text(text, encoding="utf-8")


Placed = list[tuple[dict[str, Any], Source]]
"""Converted items, each with its place in the Alertmanager file."""


def _inhibit_rules(loaded: Loaded, report: Report) -> Placed:
    """`inhibit_rules` through inhibit.py: each rule router can hold, or a finding why not.

    Raises:
        Refused: the section is not a list.
    """
    rules = loaded.data.get("inhibit_rules") or []
    place = loaded.source.at("inhibit_rules")
    if not isinstance(rules, list):
        raise Refused(place.where.line, place.path, "expected a list of inhibit rules")
    return [(entry, place.at(index))
            for index, entry in convert_inhibit_rules_at(rules, place, report)]


def _time_intervals(loaded: Loaded, report: Report) -> Placed:
    """`time_intervals` and the deprecated `mute_time_intervals`, through time_intervals.py,
    into router's one section.

    Raises:
        Refused: a section is not a list, or a name is given twice (Alertmanager refuses
            both).
    """
    placed: Placed = []
    seen: set[str] = set()
    for section in INTERVAL_SECTIONS:
        intervals = loaded.data.get(section) or []
        place = loaded.source.at(section)
        if not isinstance(intervals, list):
            raise Refused(place.where.line, place.path, "expected a list of time intervals")
        for index, interval in enumerate(intervals):
            name = interval.get("name") if isinstance(interval, Mapping) else None
            if name is not None and str(name) in seen:
                spot = place.at(index)
                raise Refused(spot.where.line, spot.path, f"time interval {str(name)!r} is "
                              "not unique (Alertmanager refuses it too)")
            if name is not None:
                seen.add(str(name))
        placed += [(entry, place.at(index))
                   for index, entry in convert_time_intervals_at(intervals, place, report)]
    return placed


def _kept_references(rules: Sequence[Rule], loaded: Loaded, kept: set[str],
                     report: Report) -> list[Rule]:
    """The rules with only the time intervals router's file declares.

    A name Alertmanager does not declare refuses the import (Alertmanager refuses the file
    too); a name whose interval was left out (reported) is dropped from the route, which then
    pages when Alertmanager would have muted it, with a `changed` finding.
    """
    declared = {str(interval.get("name")) for section in INTERVAL_SECTIONS
                for interval in loaded.data.get(section) or ()
                if isinstance(interval, Mapping)}
    result = []
    for rule in rules:
        changes: dict[str, tuple[str, ...]] = {}
        for key in _INTERVAL_KEYS:
            names: tuple[str, ...] = getattr(rule, key)
            for name in names:
                if name not in declared:
                    raise Refused(rule.line, f"{rule.path}.{key}", f"undefined time interval "
                                                                   f"{name!r} used in route")
                if name not in kept:
                    report.findings.append(Finding(
                        "changed", rule.line, f"{rule.path}.{key}", f"route {rule.name!r}: "
                        f"time interval {name!r} was left out (see its finding), so the route "
                        f"no longer names it in {key}: "
                        + ("it is not muted then" if key.startswith("mute") else
                           "it is active at all times")))
            changes[key] = tuple(name for name in names if name in kept)
        result.append(dataclasses.replace(
            rule, mute_time_intervals=changes["mute_time_intervals"],
            active_time_intervals=changes["active_time_intervals"]))
    return result


def _placed(name: str, section: str, items: Placed) -> str:
    return _document(name, section, [(entry, place.where.line) for entry, place in items],
                     paths=[place.path for _, place in items])


def _definitions(loaded: Loaded, base_dir: Path, report: Report) -> list[str]:
    """The texts of the files the config's `templates:` globs name (relative to the config's
    directory, as Alertmanager reads them), for the receivers' `{{ template }}` calls.

    A file that cannot be read or parsed is left out with a finding: a template that calls
    one of its definitions is then reported as not translated.
    """
    globs = loaded.data.get("templates") or []
    place = loaded.source.at("templates")
    if not isinstance(globs, list):
        raise Refused(place.where.line, place.path, "expected a list of file globs")
    texts = []
    for index, pattern in enumerate(globs):
        spot = place.at(index)
        files = sorted(glob.glob(str(base_dir / str(pattern))))
        if not files:
            report.add("converted", spot, f"{pattern}: matches no file (Alertmanager reads "
                                          "none either)")
        for file in files:
            try:
                text = Path(file).read_text(encoding="utf-8")
                names = sorted(go.parse(text).definitions)
            except (OSError, UnicodeDecodeError) as error:
                report.add("unsupported", spot, f"{file}: cannot be read ({error}): its "
                                                "definitions are left out")
                continue
            except (go.Malformed, go.Unsupported) as error:
                report.add("unsupported", spot, f"{file}: cannot translate: {error}: its "
                                                "definitions are left out")
                continue
            report.add("converted", spot, f"{file}: definitions {', '.join(names) or 'none'} "
                                          "read for the receivers' templates")
            texts.append(text)
    return texts


def _sections(loaded: Loaded, report: Report) -> None:
    """The one place that reports sections and global settings this importer ignores."""
    for key in loaded.data:
        if key not in _KNOWN:
            report.add("unsupported", loaded.source.key(key), f"unknown section {key!r}")
    global_settings = loaded.data.get("global") or {}
    for key in global_settings if isinstance(global_settings, Mapping) else ():
        if key not in _GLOBALS_USED:
            report.add("unsupported", loaded.source.at("global").key(key),
                       f"global {key} is not carried over")


def _settings(loaded: Loaded, report: Report, name: str) -> str:
    """Global `resolve_timeout` (Alertmanager's default 5m) becomes the stale-alert timeout
    of alerts posted to /api/v2/alerts, where Prometheus sends them."""
    global_settings = loaded.data.get("global") or {}
    text = str(global_settings.get("resolve_timeout", "5m"))
    place = loaded.source.at("global").at("resolve_timeout")
    match = _DURATION.fullmatch(text)
    if not text or match is None:
        raise Refused(place.where.line, place.path, f"not a duration: {text!r}")
    seconds = sum(int(amount) * unit for amount, unit in zip(match.groups()[:6], _SECONDS,
                                                            strict=True) if amount)
    if match.group(7) and int(match.group(7)) % 1000:
        seconds += int(match.group(7)) // 1000 + 1
        report.add("changed", place, "router counts whole seconds: rounded up")
    else:
        seconds += int(match.group(7) or 0) // 1000
    if "resolve_timeout" in global_settings:
        report.add("converted", place, "becomes settings.resolve_timeout.alertmanager_v2 "
                                       "(alerts Prometheus posts to /api/v2/alerts; "
                                       "Alertmanager's own webhook sends its resolves)")
    settings = {"resolve_timeout": {"alertmanager_v2": _router_duration(seconds)}
                if seconds else {"alertmanager_v2": "none"}}
    return _document(name, "settings", [(settings, None)], mapping=True)


def _router_duration(seconds: int) -> str:
    parts = []
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts)


def _route(rule: Rule) -> dict[str, Any]:
    route: dict[str, Any] = {"name": rule.name}
    if rule.match:
        route["match"] = list(rule.match)
    if rule.unless:
        route["unless"] = [list(group) for group in rule.unless]
    route["service"] = SERVICE
    if rule.channels:
        route["channels"] = list(rule.channels)
    if rule.continue_matching:
        route["continue"] = True
    for key in ("mute_time_intervals", "active_time_intervals"):
        if getattr(rule, key):
            route[key] = list(getattr(rule, key))
    return route


def _document(name: str, section: str, items: Sequence[tuple[dict[str, Any], int | None]],
              *, mapping: bool = False, paths: Sequence[str] = ()) -> str:
    """A YAML file of one section, each item under a comment naming its line in `name`."""
    lines = [f"# Written by `router import alertmanager` from {name}.", f"{section}:"]
    if mapping:
        [(item, _)] = items
        lines += ["  " + line for line in _dump(item).splitlines()]
        return "\n".join(lines) + "\n"
    if not items:
        lines[-1] += " []"
    for index, (item, line) in enumerate(items):
        where = f"{name}:{line}" if line is not None else name
        if paths:
            where += f" ({paths[index]})"
        lines.append(f"  # from {where}")
        lines += ["  " + text for text in _dump([item]).splitlines()]
    return "\n".join(lines) + "\n"


class _Dumper(yaml.SafeDumper):
    """Block mappings; a list of plain values on one line (`match: [team=db, env=prod]`); a
    template (a text with a Jinja tag, or of several lines) as a literal block, which YAML
    never folds."""


def _represent_list(dumper: yaml.SafeDumper, items: list[Any]) -> yaml.Node:
    flow = all(not isinstance(item, (list, dict)) for item in items) and bool(items)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", items, flow_style=flow)


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", text,
                                   style="|" if _TEMPLATE.search(text) else None)


_Dumper.add_representer(list, _represent_list)
_Dumper.add_representer(str, _represent_text)


def _dump(value: Any) -> str:
    return yaml.dump(value, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100,
                     default_flow_style=False)
