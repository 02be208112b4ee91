"""`router silence add|list|expire`, `router incidents` and `router incident show` (room: cli;
imports cli_support, config, engine, store, alerts, views, clock, errors).

They open the SQLite store in the state directory whether or not the daemon runs: WAL mode
lets this process read and write while the daemon does. One option scheme in every command:
`--config DIR|FILE` (read only when given or when ./config exists: these commands need only
the store), `--state DIR` the state directory (default state, as `router run --state`),
`--status` an incident state, `--format text|json`. Times are ISO 8601;
one without an offset is UTC, and text output prints UTC. Config secrets are not resolved:
none of these commands sends anything.
Exit codes: 0 done, 1 not found / invalid config or store problem, 2 usage.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from datetime import datetime
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from router.alerts.model import IncidentState, Silence, SilenceMatcher
from router.cli.support import (
    EXIT_OK,
    Failure,
    Usage,
    add_common_options,
    command,
    fields,
    login_name,
    positive,
    print_json,
    quoted,
    table,
    text_time,
    with_engine,
)
from router.clock import SystemClock
from router.config.model import Config
from router.config.values import (
    parse_datetime,
    parse_duration,
    parse_matcher,
    parse_positive_duration,
)
from router.engine import Engine, parse_incident_id
from router.engine.muting import NEVER
from router.engine.views import detail_json, incident_json, silence_json, silence_state
from router.errors import BadRequest, Where
from router.store import IncidentDetail

_UTC_ZONE = ZoneInfo("UTC")
_TIME_HELP = "ISO 8601 (2026-05-25T03:00, 2026-05-25T05:00+02:00); without an offset it is UTC"


def add_commands(commands: Any) -> None:
    """Register silence, incidents and incident on the CLI's subparsers."""
    _add_silence(commands)
    _add_incidents(commands)


def _add_silence(commands: Any) -> None:
    silence = commands.add_parser("silence", help="run-time silences: add, list, expire")
    actions = silence.add_subparsers(dest="silence_command", metavar="ACTION", required=True)
    add = command(actions, "add", "silence matching alerts from now on: they are recorded on "
                  "their incident but nobody is notified, and an open incident whose firing "
                  "alerts it all matches stops escalating; prints the new silence's id")
    add.add_argument("--match", action="append", required=True, metavar="MATCHER",
                     help="name=value, name!=value, name=~regex or name!~regex as in a route "
                          "(a regex matches the whole value); may repeat: all must match")
    end = add.add_mutually_exclusive_group()
    end.add_argument("--until", metavar="TIME", help=f"when it ends: {_TIME_HELP}")
    end.add_argument("--for", dest="duration", metavar="DURATION",
                     help="how long from now: 30m, 2h, 1d")
    add.add_argument("--until-resolved", action="store_true",
                     help="end when every open incident it covers now has resolved (with "
                          "--until or --for: at that time at the latest)")
    add.add_argument("--reason", required=True, metavar="TEXT")
    add.add_argument("--by", metavar="NAME", help="who silences (default: your login name)")
    add_common_options(add, "silence add", _silence_add, store_only=True)
    listing = command(actions, "list", "silences in force (with --all: every silence), by id")
    listing.add_argument("--all", action="store_true",
                         help="also silences that have ended or not yet begun")
    add_common_options(listing, "silence list", _silence_list, store_only=True)
    expire = command(actions, "expire", "end a silence now")
    expire.add_argument("id", metavar="ID", help="a silence id such as SIL-1a2b3c4d")
    add_common_options(expire, "silence expire", _silence_expire, store_only=True)


def _add_incidents(commands: Any) -> None:
    incidents = command(commands, "incidents", "incidents, newest first")
    incidents.add_argument("--status", action="append", metavar="STATE",
                           choices=[item.value for item in IncidentState],
                           help="only incidents in this state: triggered, acknowledged or "
                                "resolved; may repeat (default: every state)")
    incidents.add_argument("--service", help="only this service's incidents")
    incidents.add_argument("--since", metavar="TIME",
                           help=f"only incidents opened at or after TIME: {_TIME_HELP}; or a "
                                "duration back from now such as 24h")
    incidents.add_argument("--limit", type=positive, default=100, metavar="N",
                           help="at most N incidents (default: 100)")
    add_common_options(incidents, "incidents", _incidents, store_only=True)

    incident = commands.add_parser("incident", help="one incident: router incident show ID")
    verbs = incident.add_subparsers(dest="incident_command", metavar="ACTION", required=True)
    show = command(verbs, "show", "an incident with its alerts and timeline")
    show.add_argument("id", metavar="ID", help="an incident id such as INC12 (or 12)")
    add_common_options(show, "incident show", _incident_show, store_only=True)


# silences


def _silence_add(arguments: argparse.Namespace, config: Config, out: TextIO) -> int:
    matchers = [_silence_matcher(text) for text in arguments.match]
    reason = arguments.reason.strip()
    if not reason:
        raise Usage("--reason must not be empty")
    now = SystemClock().now()
    if arguments.until is None and arguments.duration is None:
        if not arguments.until_resolved:
            raise Usage("say when the silence ends: --until, --for or --until-resolved")
        ends_at = None
    else:
        ends_at = _silence_end(arguments, now)
    try:  # the engine checks again and picks the id, as for POST /v1/silences
        silence = with_engine(arguments, config, lambda engine: engine.create_silence(
            matchers, starts_at=now, ends_at=ends_at, reason=reason,
            created_by=arguments.by if arguments.by is not None else login_name(),
            until_resolved=arguments.until_resolved))
    except BadRequest as bad:
        raise Usage(str(bad)) from None
    if arguments.format == "json":
        print_json(silence_json(silence, now), out)
    else:
        print(silence.id, file=out)
    return EXIT_OK


def _silence_matcher(text: str) -> tuple[str, str, str]:
    """A matcher in a route's syntax (quotes, anchored regexes) as (name, operator, value)."""
    try:
        matcher = parse_matcher(text, Where("--match"))
    except ValueError as error:
        raise Usage(f"--match {text!r}: {error}") from None
    return matcher.name, matcher.operator, matcher.value


def _silence_end(arguments: argparse.Namespace, now: datetime) -> datetime:
    if arguments.duration is not None:
        try:
            return now + parse_positive_duration(arguments.duration)
        except ValueError as error:
            raise Usage(f"--for: {error}") from None
    end = _instant("--until", arguments.until)
    if end <= now:
        raise Usage(f"--until {text_time(end)} is not in the future")
    return end


def _instant(option: str, text: str) -> datetime:
    try:
        return parse_datetime(text, _UTC_ZONE)
    except ValueError as error:
        raise Usage(f"{option}: {error}") from None


def _silence_list(arguments: argparse.Namespace, config: Config, out: TextIO) -> int:
    silences, now = with_engine(arguments, config, lambda engine: _silences(
        engine, include_expired=arguments.all))
    if arguments.format == "json":
        print_json({"silences": [silence_json(item, now) for item in silences]}, out)
        return EXIT_OK
    if not silences:
        print("no silences" if arguments.all else "no silences in force", file=out)
        return EXIT_OK
    rows = [(item.id, silence_state(item, now), text_time(item.starts_at),
             _silence_ends(item), item.created_by or "-",
             ", ".join(_matcher_text(matcher) for matcher in item.matchers), item.reason)
            for item in silences]
    print("\n".join(table(("ID", "STATE", "STARTS", "ENDS", "BY", "MATCHERS", "REASON"),
                           rows)), file=out)
    return EXIT_OK


def _silence_ends(silence: Silence) -> str:
    """The ENDS column: a time, or which incidents' resolve ends an until-resolved one."""
    if not silence.covers:
        return text_time(silence.ends_at)
    ends = "when " + ", ".join(f"INC{number}" for number in silence.covers) + (
        " resolves" if len(silence.covers) == 1 else " resolve")
    return ends if silence.ends_at == NEVER else f"{ends}, or {text_time(silence.ends_at)}"


async def _silences(engine: Engine, *, include_expired: bool) -> tuple[list[Silence], datetime]:
    return await engine.silences(include_expired=include_expired), engine.now()


def _silence_expire(arguments: argparse.Namespace, config: Config, out: TextIO) -> int:
    silence_id = arguments.id.strip()
    if silence_id.upper().startswith("SIL-"):
        silence_id = "SIL-" + silence_id[4:].lower()

    async def expire(engine: Engine) -> tuple[Silence, datetime] | None:
        if not await engine.expire_silence(silence_id):
            return None
        silences, now = await _silences(engine, include_expired=True)
        return next(item for item in silences if item.id == silence_id), now

    found = with_engine(arguments, config, expire)
    if found is None:
        raise Failure(f"no silence {silence_id} in force")
    if arguments.format == "json":
        print_json(silence_json(*found), out)
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
    found = with_engine(arguments, config, lambda engine: engine.incidents(
        states=tuple(dict.fromkeys(arguments.status or ())), service=arguments.service,
        since=since, limit=arguments.limit))
    if arguments.format == "json":
        print_json({"incidents": [incident_json(item) for item in found]}, out)
        return EXIT_OK
    if not found:
        print("no incidents", file=out)
        return EXIT_OK
    rows = [(item.id, item.state.value, item.severity.value, item.service or "-",
             str(item.alert_count), text_time(item.opened_at), item.assigned_to or "-",
             item.summary) for item in found]
    print("\n".join(table(("ID", "STATE", "SEVERITY", "SERVICE", "ALERTS", "OPENED",
                            "ASSIGNED TO", "SUMMARY"), rows)), file=out)
    return EXIT_OK


def _incident_show(arguments: argparse.Namespace, config: Config, out: TextIO) -> int:
    try:
        number = parse_incident_id(arguments.id.strip())
    except BadRequest as bad:
        raise Usage(bad.message) from None
    detail = with_engine(arguments, config, lambda engine: engine.incident(str(number)))
    if detail is None:
        raise Failure(f"no incident INC{number}")
    if arguments.format == "json":
        print_json(detail_json(detail), out)
    else:
        print("\n".join(_detail_text(detail)), file=out)
    return EXIT_OK


def _detail_text(detail: IncidentDetail) -> list[str]:
    incident = detail.incident
    policy = (f"{incident.escalation_policy} (level {incident.level})"
              if incident.escalation_policy else None)
    acknowledged = (f"{text_time(incident.acknowledged_at)} by {incident.acknowledged_by}"
                    if incident.acknowledged_at else None)
    lines = [f"{incident.id}: {incident.summary}", *fields([
        ("state", incident.state.value), ("severity", incident.severity.value),
        ("service", incident.service), ("source", incident.source),
        ("escalation policy", policy), ("assigned to", incident.assigned_to),
        ("alerts", str(incident.alert_count)), ("dedup key", incident.dedup_key),
        ("opened", text_time(incident.opened_at)), ("updated", text_time(incident.updated_at)),
        ("acknowledged", acknowledged), ("resolved", text_time(incident.resolved_at)),
        ("suppressed by", incident.suppressed_by), ("labels", _labels(incident.labels))],
        indent="  ")]
    lines += ["", f"alerts ({len(detail.alerts)}):", *table(
        ("RECEIVED", "STATUS", "SEVERITY", "SOURCE", "SUMMARY", "LABELS"),
        [(text_time(alert["received_at"]), alert["status"], alert["severity"],
          alert["source"], alert["summary"], _labels(alert["labels"]) or "-")
         for alert in detail.alerts], indent="  ")]
    lines += ["", f"timeline ({len(detail.timeline)}):", *table(
        ("AT", "ACTOR", "ACTION", "DETAILS"),
        [(text_time(entry.at), entry.actor, entry.action, _labels(entry.details) or "-")
         for entry in detail.timeline], indent="  ")]
    return lines


# text layout


def _matcher_text(matcher: SilenceMatcher) -> str:
    return f"{matcher.name}{matcher.operator}{quoted(matcher.value)}"


def _labels(labels: Mapping[str, str]) -> str:
    return " ".join(f"{name}={quoted(value)}" for name, value in labels.items())
