"""`router route-test` (room: cli; imports cli_support, config, core, alerts, engine,
store, clock, errors).

Which routes an alert matches, what would be notified, and whether at `--at` (default now)
something would hold the page: the config's suppression windows and the routes' time
intervals, and, from the store when there is one (PostgreSQL's that `--store` or
settings.store names, else the state directory's), silences and the firing alerts that would
inhibit it. No daemon; config secrets are not resolved: nothing is
sent. The exit code tells CI whether a route matched: 0 when one did (for every alert, for a
list), 1 when only the default route applies or the config or alert file is invalid, 2 usage.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from router.alerts.formats import decode_json, native
from router.alerts.model import Alert, Severity, Silence
from router.cli.support import (
    EXIT_INVALID,
    EXIT_OK,
    STORE_HELP,
    Failure,
    Usage,
    add_common_options,
    chosen_store,
    command,
    fields,
    print_json,
    quoted,
    store_argument,
    with_engine,
)
from router.clock import SystemClock
from router.config.model import AlertLimits, Config, Route, Suppression
from router.core.inhibition import Inhibition
from router.core.routing import Explanation, RouteTable, explain
from router.core.suppression import Verdict, check
from router.core.time_intervals import route_muted_by
from router.engine import Engine, roster
from router.errors import BadRequest
from router.store import DATABASE_NAME, DEFAULT_STATE_DIR

_EXITS = ("exit status: 0 when a route matched (every alert, for a list); 1 when only the "
          "default route applies, so CI can assert that an alert is routed, or the config or "
          "alert file is invalid; 2 usage. Config secrets are not resolved.")


def add_commands(commands: Any) -> None:
    """Register route-test on the CLI's subparsers."""
    test = command(commands, "route-test", "which routes an alert matches and what would be "
                   "notified, as `amtool config routes test`", _EXITS)
    test.add_argument("alert", nargs="*", metavar="ALERT.json | NAME=VALUE",
                      help="a file of router's alert JSON (one alert or a list), or labels; "
                           "severity=, source= and service= set those fields, "
                           "labels.severity= (and so on) the labels of those names")
    test.add_argument("--severity", choices=[item.value for item in Severity])
    test.add_argument("--source", help="the inbound format's name (default: native)")
    test.add_argument("--service", help="a service the sender names")
    test.add_argument("--at", metavar="TIME",
                      help="the instant to test at: ISO 8601, read in the settings' timezone "
                           "without an offset (default: now)")
    add_common_options(test, "route-test", _route_test, store=False)
    test.add_argument("--state", type=Path, metavar="DIR",
                      help=f"state directory holding {DATABASE_NAME}: its silences and firing "
                           f"alerts are checked (default: {DEFAULT_STATE_DIR} if it holds a "
                           "store, else they are not checked)")
    test.add_argument("--store", type=store_argument, metavar="sqlite|URL", help=STORE_HELP)


@dataclass(frozen=True, slots=True, kw_only=True)
class Holds:
    """What would hold one alert's page at one instant, each kind apart; `silences` is None
    when no store was read (nor then were inhibitions)."""

    windows: tuple[Suppression, ...]
    silences: tuple[Silence, ...] | None
    inhibition: tuple[Inhibition, Alert] | None
    intervals: tuple[tuple[Route, str | None], ...]
    verdict: Verdict


@dataclass(frozen=True, slots=True, kw_only=True)
class Tested:
    alert: Alert
    explanation: Explanation
    holds: Holds


def _route_test(arguments: argparse.Namespace, config: Config, out: TextIO) -> int:
    at = _at(arguments.at, config)
    table = RouteTable.compile(config.routes)
    alerts = _test_alerts(arguments, config.settings.alert_limits)
    stored = _from_store(arguments, config, alerts)
    tested = [Tested(alert=alert, explanation=(explanation := explain(alert, table)),
                     holds=_holds(alert, explanation, config, at, stored, index))
              for index, alert in enumerate(alerts)]
    if arguments.format == "json":
        print_json({"at": at.isoformat(), "alerts": [_tested_json(item, config)
                                                     for item in tested]}, out)
    else:
        print("\n\n".join(_tested_text(item, config, at if arguments.at else None)
                           for item in tested), file=out)
    return EXIT_INVALID if any(item.explanation.decision.default for item in tested) \
        else EXIT_OK


def _at(text: str | None, config: Config) -> datetime:
    if text is None:
        return SystemClock().now()
    try:
        return roster.read_instant(text, config.settings.timezone)
    except ValueError as error:
        raise Usage(f"--at: {error}") from None


Stored = tuple[list[Silence], list[tuple[Inhibition, Alert] | None]]


def _from_store(arguments: argparse.Namespace, config: Config,
                alerts: list[Alert]) -> Stored | None:
    """Every silence, and each alert's inhibition now, from the store (PostgreSQL's that
    `--store` or settings.store names, else the state directory's); None when there is no
    store to read (SQLite, `--state` not given and ./state holds none)."""
    directory: Path = arguments.state or DEFAULT_STATE_DIR
    store = chosen_store(arguments, config)
    if store == "sqlite" and not (directory / DATABASE_NAME).is_file():
        if arguments.state is not None:
            raise Failure(f"no store {DATABASE_NAME} in {str(directory)!r} (router run "
                          "creates it; leave out --state to test without silences and "
                          "inhibitions)")
        return None

    async def read(engine: Engine) -> Stored:
        return (await engine.silences(include_expired=True),
                [await engine.inhibition(alert) for alert in alerts])

    return with_engine(argparse.Namespace(state=directory, store=store), config, read)


def _holds(alert: Alert, explanation: Explanation, config: Config, at: datetime,
           stored: Stored | None, index: int) -> Holds:
    routes = explanation.decision.routes
    silences = None if stored is None else tuple(
        silence for silence in stored[0] if check(alert, (), (silence,), at).suppressed)
    inhibition = None if stored is None else stored[1][index]
    return Holds(
        windows=tuple(suppression for suppression in config.suppressions
                      if check(alert, (suppression,), (), at).suppressed),
        silences=silences, inhibition=inhibition,
        intervals=tuple((route, route_muted_by(route, config.time_intervals, at))
                        for route in routes
                        if route.active_time_intervals or route.mute_time_intervals),
        verdict=check(alert, config.suppressions, silences or (), at,
                      inhibition=inhibition[0] if inhibition else None, routes=routes,
                      time_intervals=config.time_intervals))


def _test_alerts(arguments: argparse.Namespace, limits: AlertLimits) -> list[Alert]:
    words: list[str] = arguments.alert
    files = [word for word in words if "=" not in word]
    if not words:
        raise Usage("give an alert file or NAME=VALUE labels")
    if files and len(words) > 1:
        raise Usage("give one alert file, or NAME=VALUE labels, not both")
    alerts = _read_alerts(Path(files[0]), limits) if files else [_pairs_alert(words)]
    overrides = {"source": arguments.source, "service": arguments.service,
                 "severity": Severity(arguments.severity) if arguments.severity else None}
    return [replace(alert, **{key: value for key, value in overrides.items() if value})
            for alert in alerts]


def _read_alerts(path: Path, limits: AlertLimits) -> list[Alert]:
    try:
        return native.parse_document(decode_json(path.read_bytes()), limits=limits)
    except OSError as error:
        raise Failure(f"cannot read {path}: {error.strerror or error}") from None
    except BadRequest as bad:
        raise Failure(f"{path}: {bad}") from None


def _pairs_alert(words: Sequence[str]) -> Alert:
    """An alert from NAME=VALUE words; severity, source and service are fields, not labels
    (`labels.severity=page` is the label)."""
    labels: dict[str, str] = {}
    severity, source, service = Severity.WARNING, native.SOURCE, None
    for word in words:
        name, _, value = word.partition("=")
        if not name:
            raise Usage(f"expected NAME=VALUE, got {word!r}")
        if name == "severity":
            if value not in native.SEVERITIES:
                raise Usage(f"severity: expected one of {', '.join(native.SEVERITIES)}; "
                            f"got {value!r}")
            severity = native.SEVERITIES[value]
        elif name == "source":
            source = value
        elif name == "service":
            service = value or None
        else:  # labels.severity=page: the label a reserved field shadows
            labels[name.removeprefix("labels.")] = value
    return Alert(summary="route-test", source=source, severity=severity, service=service,
                 labels=labels)


def _outcome(explanation: Explanation, config: Config) -> dict[str, Any]:
    """What the engine would do: the service fills in channels and policy, as on ingest."""
    decision = explanation.decision
    service = config.services.get(decision.service or "")
    channels = dict.fromkeys((*decision.channels, *(service.channels if service else ())))
    policy_id = decision.escalation_policy or (service.escalation_policy if service else None)
    policy = config.escalation_policies.get(policy_id or "")
    first = policy.levels[0].targets if policy and policy.levels else ()
    return {"default": decision.default, "routes": [rule.name for rule in decision.routes],
            "service": decision.service, "channels": list(channels),
            "escalation_policy": policy_id,
            "first_level": [f"{target.kind}:{target.id}" for target in first],
            "severity": decision.severity.value}


def _tested_text(tested: Tested, config: Config, at: datetime | None) -> str:
    alert, explanation = tested.alert, tested.explanation
    outcome = _outcome(explanation, config)
    labels = " ".join(f"{name}={quoted(value)}" for name, value in sorted(alert.labels.items()))
    lines = [f"alert {json.dumps(alert.summary, ensure_ascii=False)}: "
             f"severity={alert.severity.value} source={alert.source} "
             f"service={alert.service or '-'}" + (f" labels: {labels}" if labels else ""),
             "routes:"]
    lines += [f"  {step.describe()}" for step in explanation.steps] or ["  none configured"]
    lines.append("decision (no route matched: the default route):" if outcome["default"]
                 else "decision:")
    lines += fields([
        ("service", outcome["service"]), ("channels", ", ".join(outcome["channels"])),
        ("escalation policy", outcome["escalation_policy"]),
        ("first level", ", ".join(outcome["first_level"])),
        ("severity", outcome["severity"])], indent="  ")
    lines.append(f"suppression at {at.isoformat()}:" if at else "suppression now:")
    lines += fields(_holds_text(tested.holds), indent="  ")
    return "\n".join(lines)


def _holds_text(holds: Holds) -> list[tuple[str, str | None]]:
    unchecked = "not checked: no store (give --state DIR)"
    inhibition = holds.inhibition
    return [
        ("windows", ", ".join(f"{item.id} ({item.where})" for item in holds.windows)
         or "none active"),
        ("silences", unchecked if holds.silences is None else ", ".join(
            f"{item.id}: {item.reason}" for item in holds.silences) or "none active"),
        ("inhibition", unchecked if holds.silences is None else "none" if inhibition is None
         else f"rule {inhibition[0].rule.name!r}: INC{inhibition[0].source.incident} fires "
              + " ".join(f"{name}={quoted(value)}"
                         for name, value in sorted(inhibition[1].labels.items()))),
        ("time intervals", "; ".join(
            f"{route.name}: " + (f"muted by {muted!r}" if muted else "not muted")
            for route, muted in holds.intervals) or "none on the matched routes"),
        ("verdict", f"not paged: {holds.verdict.describe()}" if holds.verdict.suppressed
         else "paged"),
    ]


def _holds_json(holds: Holds) -> dict[str, Any]:
    inhibition = holds.inhibition
    return {
        "windows": [item.id for item in holds.windows],
        "silences": None if holds.silences is None else [item.id for item in holds.silences],
        "inhibition": None if inhibition is None else {
            "rule": inhibition[0].rule.name, "incident": f"INC{inhibition[0].source.incident}",
            "labels": dict(inhibition[1].labels)},
        "store_checked": holds.silences is not None,
        "time_intervals": [{"route": route.name, "muted_by": muted}
                           for route, muted in holds.intervals],
        "suppressed": holds.verdict.suppressed, "suppressed_by": holds.verdict.label,
        "reason": holds.verdict.reason or None,
    }


def _tested_json(tested: Tested, config: Config) -> dict[str, Any]:
    alert, explanation = tested.alert, tested.explanation
    return {
        "alert": {"summary": alert.summary, "severity": alert.severity.value,
                  "source": alert.source, "service": alert.service,
                  "labels": dict(alert.labels)},
        "routes": [{"position": step.position + 1, "name": step.route.name,
                    "where": str(step.route.where), "matched": step.matched,
                    "reached": step.reached, "taken": step.taken,
                    "mismatch": None if step.mismatch is None else {
                        "name": step.mismatch.name, "operator": step.mismatch.operator,
                        "value": step.mismatch.value, "alert_value": step.value},
                    "unless": None if step.excluded is None else [
                        str(matcher) for matcher in step.excluded]}
                   for step in explanation.steps],
        "decision": _outcome(explanation, config),
        "suppression": _holds_json(tested.holds),
    }
