"""`router route-test` (room: cli; imports cli_support, config, core, alerts,
errors).

Which routes an alert matches and what would be notified, from the config alone: no store,
no daemon. Config secrets are not resolved: nothing is sent. The exit code tells CI whether
a route matched: 0 when one did (for every alert, for a list), 1 when only the default route
applies or the config or alert file is invalid, 2 usage.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from router.alerts.formats import decode_json, native
from router.alerts.model import Alert, Severity
from router.cli.support import (
    EXIT_INVALID,
    EXIT_OK,
    Failure,
    Usage,
    add_common_options,
    command,
    fields,
    print_json,
    quoted,
)
from router.config.model import AlertLimits, Config
from router.core.routing import Explanation, RouteTable, explain
from router.errors import BadRequest

_EXITS = ("exit status: 0 when a route matched (every alert, for a list); 1 when only the "
          "default route applies, so CI can assert that an alert is routed, or the config or "
          "alert file is invalid; 2 usage. Config secrets are not resolved.")


def add_commands(commands: Any) -> None:
    """Register route-test on the CLI's subparsers."""
    test = command(commands, "route-test", "which routes an alert matches and what would be "
                   "notified, as `amtool config routes test`", _EXITS)
    test.add_argument("alert", nargs="*", metavar="ALERT.json | NAME=VALUE",
                      help="a file of router's alert JSON (one alert or a list), or labels; "
                           "severity=, source= and service= set those fields")
    test.add_argument("--severity", choices=[item.value for item in Severity])
    test.add_argument("--source", help="the inbound format's name (default: native)")
    test.add_argument("--service", help="a service the sender names")
    add_common_options(test, "route-test", _route_test, store=False)


def _route_test(arguments: argparse.Namespace, config: Config, out: TextIO) -> int:
    table = RouteTable.compile(config.routes)
    alerts = _test_alerts(arguments, config.settings.alert_limits)
    tested = [(alert, explain(alert, table)) for alert in alerts]
    if arguments.format == "json":
        print_json({"alerts": [_explanation_json(alert, item, config)
                               for alert, item in tested]}, out)
    else:
        print("\n\n".join(_explanation_text(alert, item, config) for alert, item in tested),
              file=out)
    return EXIT_INVALID if any(item.decision.default for _, item in tested) else EXIT_OK


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
    """An alert from NAME=VALUE words; severity, source and service are fields, not labels."""
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
        else:
            labels[name] = value
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


def _explanation_text(alert: Alert, explanation: Explanation, config: Config) -> str:
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
    return "\n".join(lines)


def _explanation_json(alert: Alert, explanation: Explanation,
                      config: Config) -> dict[str, Any]:
    return {
        "alert": {"summary": alert.summary, "severity": alert.severity.value,
                  "source": alert.source, "service": alert.service,
                  "labels": dict(alert.labels)},
        "routes": [{"position": step.position + 1, "name": step.route.name,
                    "where": str(step.route.where), "matched": step.matched,
                    "reached": step.reached, "taken": step.taken,
                    "mismatch": None if step.mismatch is None else {
                        "name": step.mismatch.name, "operator": step.mismatch.operator,
                        "value": step.mismatch.value, "alert_value": step.value}}
                   for step in explanation.steps],
        "decision": _outcome(explanation, config),
    }
