"""`router route-test`, `router silence add|list|expire`, `router incidents` and `router
incident show` (room: cli; imports config, core, engine, store, alerts, views, clock, errors).

route-test reads the config alone. The others open the SQLite store in the state directory
whether or not the daemon runs: WAL mode lets this process read and write while the daemon
does. One option scheme in every command: `--config DIR|FILE` (default config), `--state DIR`
the state directory (default state, as `router run --state`), `--status` an incident state,
`--format text|json`. Times are ISO 8601; one without an offset is UTC, and text output
prints UTC. Config secrets are not resolved: none of these commands sends anything.
Exit codes: 0 done, 1 not found / invalid config or input file / store problem, 2 usage.
"""

from __future__ import annotations

import argparse
import getpass
import json
import re
import sqlite3
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO, TypeVar
from zoneinfo import ZoneInfo

import trio

from router.alerts.formats import native
from router.alerts.model import Alert, IncidentState, Severity, Silence, SilenceMatcher
from router.clock import SystemClock
from router.config import ConfigInvalid, load_config
from router.config.model import Config
from router.config.values import (
    parse_datetime,
    parse_duration,
    parse_matcher,
    parse_positive_duration,
)
from router.core.routing import Explanation, RouteTable, explain
from router.engine import Engine, parse_incident_id
from router.errors import BadRequest, Where
from router.store import DATABASE_NAME, DEFAULT_STATE_DIR, IncidentDetail, Store
from router.views import detail_json, incident_json, silence_json, silence_state

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
_UTC_ZONE = ZoneInfo("UTC")
T = TypeVar("T")

_CONFIG_HELP = "config directory or file (default: config); may repeat"
_STATE_HELP = (f"state directory holding {DATABASE_NAME}, as `router run --state` "
               f"(default: {DEFAULT_STATE_DIR}); an incident state filter is --status")
_TIME_HELP = "ISO 8601 (2026-05-25T03:00, 2026-05-25T05:00+02:00); without an offset it is UTC"
_EXITS = ("exit status: 0 done; 1 not found, invalid config or a store problem; 2 usage. "
          "Works with or without a running daemon (SQLite WAL).")
_ROUTE_TEST_EXITS = ("exit status: 0 when a route matched (every alert, for a list); 1 when "
                     "only the default route applies, so CI can assert that an alert is "
                     "routed, or the config or alert file is invalid; 2 usage. Config secrets "
                     "are not resolved.")
_PLAIN = re.compile(r"[\w.\-/:@]+")


def add_commands(commands: Any) -> None:
    """Register route-test, silence, incidents and incident on the CLI's subparsers."""
    _add_route_test(commands)
    _add_silence(commands)
    _add_incidents(commands)


def _add_route_test(commands: Any) -> None:
    test = _command(commands, "route-test", "which routes an alert matches and what would be "
                    "notified, as `amtool config routes test`", _ROUTE_TEST_EXITS)
    test.add_argument("alert", nargs="*", metavar="ALERT.json | NAME=VALUE",
                      help="a file of router's alert JSON (one alert or a list), or labels; "
                           "severity=, source= and service= set those fields")
    test.add_argument("--severity", choices=[item.value for item in Severity])
    test.add_argument("--source", help="the inbound format's name (default: native)")
    test.add_argument("--service", help="a service the sender names")
    _common(test, "route-test", _route_test, store=False)


def _add_silence(commands: Any) -> None:
    silence = commands.add_parser("silence", help="run-time silences: add, list, expire")
    actions = silence.add_subparsers(dest="silence_command", metavar="ACTION", required=True)
    add = _command(actions, "add", "silence matching alerts from now on: they are recorded on "
                   "their incident but nobody is notified; prints the new silence's id")
    add.add_argument("--match", action="append", required=True, metavar="MATCHER",
                     help="name=value, name!=value, name=~regex or name!~regex as in a route "
                          "(a regex matches the whole value); may repeat: all must match")
    end = add.add_mutually_exclusive_group(required=True)
    end.add_argument("--until", metavar="TIME", help=f"when it ends: {_TIME_HELP}")
    end.add_argument("--for", dest="duration", metavar="DURATION",
                     help="how long from now: 30m, 2h, 1d")
    add.add_argument("--reason", required=True, metavar="TEXT")
    add.add_argument("--by", metavar="NAME", help="who silences (default: your login name)")
    _common(add, "silence add", _silence_add)
    listing = _command(actions, "list", "silences in force (with --all: every silence), by id")
    listing.add_argument("--all", action="store_true",
                         help="also silences that have ended or not yet begun")
    _common(listing, "silence list", _silence_list)
    expire = _command(actions, "expire", "end a silence now")
    expire.add_argument("id", metavar="ID", help="a silence id such as SIL-1a2b3c4d")
    _common(expire, "silence expire", _silence_expire)


def _add_incidents(commands: Any) -> None:
    incidents = _command(commands, "incidents", "incidents, newest first")
    incidents.add_argument("--status", action="append", metavar="STATE",
                           choices=[item.value for item in IncidentState],
                           help="only incidents in this state: triggered, acknowledged or "
                                "resolved; may repeat (default: every state)")
    incidents.add_argument("--service", help="only this service's incidents")
    incidents.add_argument("--since", metavar="TIME",
                           help=f"only incidents opened at or after TIME: {_TIME_HELP}; or a "
                                "duration back from now such as 24h")
    incidents.add_argument("--limit", type=_positive, default=100, metavar="N",
                           help="at most N incidents (default: 100)")
    _common(incidents, "incidents", _incidents)

    incident = commands.add_parser("incident", help="one incident: router incident show ID")
    verbs = incident.add_subparsers(dest="incident_command", metavar="ACTION", required=True)
    show = _command(verbs, "show", "an incident with its alerts and timeline")
    show.add_argument("id", metavar="ID", help="an incident id such as INC12 (or 12)")
    _common(show, "incident show", _incident_show)


def _command(commands: Any, name: str, summary: str,
             exits: str | None = None) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        name, help=summary, description=f"{summary}.", epilog=exits or _EXITS)
    return parser


def _common(parser: argparse.ArgumentParser, name: str,
            act: Callable[[argparse.Namespace, Config, TextIO], int], *,
            store: bool = True) -> None:
    parser.add_argument("--config", action="append", metavar="DIR|FILE", help=_CONFIG_HELP)
    if store:
        parser.add_argument("--state", type=Path, default=DEFAULT_STATE_DIR, metavar="DIR",
                            help=_STATE_HELP)
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.set_defaults(handler=_run, name=name, act=act)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


class _Usage(Exception):
    """A bad argument value; exits 2 with the message."""


class _Failure(Exception):
    """Not found, an unreadable input file, a store problem; exits 1 with the message."""


def _run(arguments: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Load the config, run the command, turn expected failures into messages and codes."""
    try:
        config = load_config(arguments.config or ["config"], resolve_secrets=False)
    except ConfigInvalid as invalid:
        for problem in invalid.problems:
            print(problem, file=err)
        print("config invalid: fix it first (router validate)", file=err)
        return EXIT_INVALID
    try:
        return int(arguments.act(arguments, config, out))
    except _Usage as usage:
        print(f"router {arguments.name}: {usage}", file=err)
        return EXIT_USAGE
    except _Failure as failure:
        print(f"router {arguments.name}: {failure}", file=err)
        return EXIT_INVALID


def _with_engine(arguments: argparse.Namespace, config: Config,
                 work: Callable[[Engine], Awaitable[T]]) -> T:
    """Open the store in the state directory, run `work` on an engine, close the store."""
    directory: Path = arguments.state
    path = directory / DATABASE_NAME
    if not directory.is_dir():
        raise _Failure(f"no state directory {str(directory)!r} (router run creates it; or "
                       "pass --state DIR)")

    async def session() -> T:
        try:
            store = await Store.open(path)
        except (sqlite3.Error, OSError, RuntimeError) as error:  # RuntimeError: newer schema
            raise _Failure(f"cannot open the store {path}: {error}") from None
        try:
            return await work(Engine(config, store, SystemClock()))
        finally:
            await store.close()

    try:
        return trio.run(session)
    except sqlite3.Error as error:
        raise _Failure(f"the store {path} failed: {error}") from None


def _print_json(document: object, out: TextIO) -> None:
    print(json.dumps(document, indent=2, ensure_ascii=False), file=out)


# route-test


def _route_test(arguments: argparse.Namespace, config: Config, out: TextIO) -> int:
    table = RouteTable.compile(config.routes)
    tested = [(alert, explain(alert, table)) for alert in _test_alerts(arguments)]
    if arguments.format == "json":
        _print_json({"alerts": [_explanation_json(alert, item, config)
                                for alert, item in tested]}, out)
    else:
        print("\n\n".join(_explanation_text(alert, item, config) for alert, item in tested),
              file=out)
    return EXIT_INVALID if any(item.decision.default for _, item in tested) else EXIT_OK


def _test_alerts(arguments: argparse.Namespace) -> list[Alert]:
    words: list[str] = arguments.alert
    files = [word for word in words if "=" not in word]
    if not words:
        raise _Usage("give an alert file or NAME=VALUE labels")
    if files and len(words) > 1:
        raise _Usage("give one alert file, or NAME=VALUE labels, not both")
    alerts = _read_alerts(Path(files[0])) if files else [_pairs_alert(words)]
    fields = {"source": arguments.source, "service": arguments.service,
              "severity": Severity(arguments.severity) if arguments.severity else None}
    return [replace(alert, **{key: value for key, value in fields.items() if value})
            for alert in alerts]


def _read_alerts(path: Path) -> list[Alert]:
    try:
        return native.parse(path.read_bytes(), {})
    except OSError as error:
        raise _Failure(f"cannot read {path}: {error.strerror or error}") from None
    except BadRequest as bad:
        raise _Failure(f"{path}: {bad}") from None


def _pairs_alert(words: Sequence[str]) -> Alert:
    """An alert from NAME=VALUE words; severity, source and service are fields, not labels."""
    labels: dict[str, str] = {}
    severity, source, service = Severity.WARNING, native.SOURCE, None
    for word in words:
        name, _, value = word.partition("=")
        if not name:
            raise _Usage(f"expected NAME=VALUE, got {word!r}")
        if name == "severity":
            if value not in native.SEVERITIES:
                raise _Usage(f"severity: expected one of {', '.join(native.SEVERITIES)}; "
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
    labels = " ".join(f"{name}={_quoted(value)}" for name, value in sorted(alert.labels.items()))
    lines = [f"alert {json.dumps(alert.summary, ensure_ascii=False)}: "
             f"severity={alert.severity.value} source={alert.source} "
             f"service={alert.service or '-'}" + (f" labels: {labels}" if labels else ""),
             "routes:"]
    lines += [f"  {step.describe()}" for step in explanation.steps] or ["  none configured"]
    lines.append("decision (no route matched: the default route):" if outcome["default"]
                 else "decision:")
    lines += _fields([
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


# silences


def _silence_add(arguments: argparse.Namespace, config: Config, out: TextIO) -> int:
    matchers = [_silence_matcher(text) for text in arguments.match]
    reason = arguments.reason.strip()
    if not reason:
        raise _Usage("--reason must not be empty")
    now = SystemClock().now()
    ends_at = _silence_end(arguments, now)
    try:  # the engine checks again and picks the id, as for POST /v1/silences
        silence = _with_engine(arguments, config, lambda engine: engine.create_silence(
            matchers, starts_at=now, ends_at=ends_at, reason=reason,
            created_by=arguments.by if arguments.by is not None else _login()))
    except BadRequest as bad:
        raise _Usage(str(bad)) from None
    if arguments.format == "json":
        _print_json(silence_json(silence, now), out)
    else:
        print(silence.id, file=out)
    return EXIT_OK


def _silence_matcher(text: str) -> tuple[str, str, str]:
    """A matcher in a route's syntax (quotes, anchored regexes) as (name, operator, value)."""
    try:
        matcher = parse_matcher(text, Where("--match"))
    except ValueError as error:
        raise _Usage(f"--match {text!r}: {error}") from None
    return matcher.name, matcher.operator, matcher.value


def _silence_end(arguments: argparse.Namespace, now: datetime) -> datetime:
    if arguments.duration is not None:
        try:
            return now + parse_positive_duration(arguments.duration)
        except ValueError as error:
            raise _Usage(f"--for: {error}") from None
    end = _instant("--until", arguments.until)
    if end <= now:
        raise _Usage(f"--until {_text_time(end)} is not in the future")
    return end


def _instant(option: str, text: str) -> datetime:
    try:
        return parse_datetime(text, _UTC_ZONE)
    except ValueError as error:
        raise _Usage(f"{option}: {error}") from None


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in the environment or the password database
        return ""


def _silence_list(arguments: argparse.Namespace, config: Config, out: TextIO) -> int:
    silences, now = _with_engine(arguments, config, lambda engine: _silences(
        engine, include_expired=arguments.all))
    if arguments.format == "json":
        _print_json({"silences": [silence_json(item, now) for item in silences]}, out)
        return EXIT_OK
    if not silences:
        print("no silences" if arguments.all else "no silences in force", file=out)
        return EXIT_OK
    rows = [(item.id, silence_state(item, now), _text_time(item.starts_at),
             _text_time(item.ends_at), item.created_by or "-",
             ", ".join(_matcher_text(matcher) for matcher in item.matchers), item.reason)
            for item in silences]
    print("\n".join(_table(("ID", "STATE", "STARTS", "ENDS", "BY", "MATCHERS", "REASON"),
                           rows)), file=out)
    return EXIT_OK


async def _silences(engine: Engine, *, include_expired: bool) -> tuple[list[Silence], datetime]:
    return await engine.silences(include_expired=include_expired), engine.clock.now()


def _silence_expire(arguments: argparse.Namespace, config: Config, out: TextIO) -> int:
    silence_id = arguments.id.strip()
    if silence_id.upper().startswith("SIL-"):
        silence_id = "SIL-" + silence_id[4:].lower()

    async def expire(engine: Engine) -> tuple[Silence, datetime] | None:
        if not await engine.expire_silence(silence_id):
            return None
        silences, now = await _silences(engine, include_expired=True)
        return next(item for item in silences if item.id == silence_id), now

    found = _with_engine(arguments, config, expire)
    if found is None:
        raise _Failure(f"no silence {silence_id} in force")
    if arguments.format == "json":
        _print_json(silence_json(*found), out)
    else:
        print(f"{silence_id} expired", file=out)
    return EXIT_OK


# incidents


def _incidents(arguments: argparse.Namespace, config: Config, out: TextIO) -> int:
    since = None
    if arguments.since is not None:
        try:
            since = SystemClock().now() - parse_duration(arguments.since)
        except ValueError:
            since = _instant("--since", arguments.since)
    found = _with_engine(arguments, config, lambda engine: engine.incidents(
        states=tuple(dict.fromkeys(arguments.status or ())), service=arguments.service,
        since=since, limit=arguments.limit))
    if arguments.format == "json":
        _print_json({"incidents": [incident_json(item) for item in found]}, out)
        return EXIT_OK
    if not found:
        print("no incidents", file=out)
        return EXIT_OK
    rows = [(item.id, item.state.value, item.severity.value, item.service or "-",
             str(item.alert_count), _text_time(item.opened_at), item.assigned_to or "-",
             item.summary) for item in found]
    print("\n".join(_table(("ID", "STATE", "SEVERITY", "SERVICE", "ALERTS", "OPENED",
                            "ASSIGNED TO", "SUMMARY"), rows)), file=out)
    return EXIT_OK


def _incident_show(arguments: argparse.Namespace, config: Config, out: TextIO) -> int:
    try:
        number = parse_incident_id(arguments.id.strip())
    except BadRequest as bad:
        raise _Usage(bad.message) from None
    detail = _with_engine(arguments, config, lambda engine: engine.incident(str(number)))
    if detail is None:
        raise _Failure(f"no incident INC{number}")
    if arguments.format == "json":
        _print_json(detail_json(detail), out)
    else:
        print("\n".join(_detail_text(detail)), file=out)
    return EXIT_OK


def _detail_text(detail: IncidentDetail) -> list[str]:
    incident = detail.incident
    policy = (f"{incident.escalation_policy} (level {incident.level})"
              if incident.escalation_policy else None)
    acknowledged = (f"{_text_time(incident.acknowledged_at)} by {incident.acknowledged_by}"
                    if incident.acknowledged_at else None)
    lines = [f"{incident.id}: {incident.summary}", *_fields([
        ("state", incident.state.value), ("severity", incident.severity.value),
        ("service", incident.service), ("source", incident.source),
        ("escalation policy", policy), ("assigned to", incident.assigned_to),
        ("alerts", str(incident.alert_count)), ("dedup key", incident.dedup_key),
        ("opened", _text_time(incident.opened_at)), ("updated", _text_time(incident.updated_at)),
        ("acknowledged", acknowledged), ("resolved", _text_time(incident.resolved_at)),
        ("suppressed by", incident.suppressed_by), ("labels", _labels(incident.labels))],
        indent="  ")]
    lines += ["", f"alerts ({len(detail.alerts)}):", *_table(
        ("RECEIVED", "STATUS", "SEVERITY", "SOURCE", "SUMMARY", "LABELS"),
        [(_text_time(alert["received_at"]), alert["status"], alert["severity"],
          alert["source"], alert["summary"], _labels(alert["labels"]) or "-")
         for alert in detail.alerts], indent="  ")]
    lines += ["", f"timeline ({len(detail.timeline)}):", *_table(
        ("AT", "ACTOR", "ACTION", "DETAILS"),
        [(_text_time(entry.at), entry.actor, entry.action, _labels(entry.details) or "-")
         for entry in detail.timeline], indent="  ")]
    return lines


# text layout


def _text_time(moment: datetime | None) -> str:
    return "-" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _quoted(value: str) -> str:
    """A value as a matcher or label is written: bare when plain, else a JSON string."""
    return value if _PLAIN.fullmatch(value) else json.dumps(value, ensure_ascii=False)


def _matcher_text(matcher: SilenceMatcher) -> str:
    return f"{matcher.name}{matcher.operator}{_quoted(matcher.value)}"


def _labels(labels: Mapping[str, str]) -> str:
    return " ".join(f"{name}={_quoted(value)}" for name, value in labels.items())


def _fields(pairs: Sequence[tuple[str, str | None]], *, indent: str = "") -> list[str]:
    """`name  value` lines with the values aligned; a missing or empty value prints `-`."""
    width = max(len(name) for name, _ in pairs)
    return [f"{indent}{name.ljust(width)}  {value or '-'}" for name, value in pairs]


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], *,
           indent: str = "") -> list[str]:
    """Left-aligned columns two spaces apart, no trailing blanks."""
    lines = [header, *rows]
    widths = [max(len(line[column]) for line in lines) for column in range(len(header))]
    return [(indent + "  ".join(cell.ljust(width) for cell, width in zip(line, widths,
                                                                          strict=True))).rstrip()
            for line in lines]
