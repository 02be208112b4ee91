"""`router oncall`, `router schedule` and `router fatigue` (room: cli; imports cli_support, config,
roster, core, engine, store, overrides, clock, errors).

Read-only answers, no daemon needed: who is on call, the final shifts of a rota (text, JSON or
iCal) and the on-call load per person. Times print in the rota's (or person's) own timezone.
When there is a store to read, the answers apply its run-time overrides (`router override
add`) and the fatigue report counts its pages: a PostgreSQL store (`--store URL`, else
settings.store), or SQLite's file in the state directory (`--state`, else ./state); without
one they come from the config alone, without a word. A `--state` given that holds no store
is an error.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO, TypeVar
from zoneinfo import ZoneInfo

from router.cli.feeds import run_feeds
from router.cli.support import (
    EXIT_OK,
    STORE_HELP,
    Action,
    Failure,
    Usage,
    add_common_options,
    chosen_store,
    print_json,
    store_argument,
    with_engine,
)
from router.clock import SystemClock
from router.config.model import Config, Override
from router.config.values import parse_duration
from router.core.oncall import EARLIEST, LATEST, Shift
from router.engine import Engine, roster
from router.engine.overrides import extra_overrides
from router.store import DATABASE_NAME, DEFAULT_STATE_DIR

T = TypeVar("T")
Overrides = Mapping[str, Sequence[Override]]


def add_commands(commands: Any) -> None:
    """Register the three commands on the CLI's subparsers."""
    oncall = commands.add_parser(
        "oncall", help="who is on call now (or --at), until when, and who is next",
        epilog="`router oncall feeds` lists the secret URL of each rota's and person's "
               "calendar feed (no API token needed); `router oncall feeds rotate [FEED]` "
               "replaces the token of one feed (rota:ID, person:ID) or of all, revoking the "
               "old URLs.")
    oncall.add_argument("team", nargs="?", metavar="ROTA|SERVICE",
                        help="a rota, or a service (its escalation policy's rotas); all rotas "
                             "if omitted; `feeds` for the calendar feeds' URLs")
    oncall.add_argument("words", nargs="*", help=argparse.SUPPRESS)  # feeds rotate FEED
    oncall.add_argument("--at", metavar="TIME", help="ISO 8601 instant (default: now)")
    _common(oncall, "oncall", _oncall)

    schedule = commands.add_parser("schedule", help="the final shifts of a rota")
    schedule.add_argument("rota", metavar="ROTA")
    _window(schedule)
    schedule.add_argument("--ics", action="store_true", help="print an iCalendar feed")
    _common(schedule, "schedule", _schedule)

    fatigue = commands.add_parser("fatigue", help="on-call hours, nights and weekends per "
                                                  "person, flagged over the configured limits")
    _window(fatigue)
    _common(fatigue, "fatigue", _fatigue)


def _common(parser: argparse.ArgumentParser, name: str, act: Action) -> None:
    """The shared options; secrets resolved, as these commands always have. `--state` has
    no default here: absent, ./state is read only if it holds a store."""
    add_common_options(parser, name, act, store=False, resolve_secrets=True)
    parser.add_argument("--state", type=Path, metavar="DIR",
                        help=f"state directory holding {DATABASE_NAME}, as `router run --state`: "
                             "its run-time overrides apply, and fatigue counts its pages "
                             f"(default: {DEFAULT_STATE_DIR} if it holds a store, else the "
                             "config alone)")
    parser.add_argument("--store", type=store_argument, metavar="sqlite|URL", help=STORE_HELP)


def _from_store(arguments: argparse.Namespace, config: Config,
                work: Callable[[Engine], Awaitable[T]]) -> T | None:
    """`work` on the store (PostgreSQL's when `--store` or settings.store names one, else the
    state directory's), or None when there is none to read."""
    directory: Path = arguments.state or DEFAULT_STATE_DIR
    store = chosen_store(arguments, config)
    if store == "sqlite" and not (directory / DATABASE_NAME).is_file():
        if arguments.state is not None:
            raise Failure(f"no store {DATABASE_NAME} in {str(directory)!r} (router run "
                          "creates it; leave out --state to answer from the config alone)")
        return None
    return with_engine(argparse.Namespace(state=directory, store=store), config, work)


def _overrides(arguments: argparse.Namespace, config: Config, since: datetime) -> Overrides:
    """Run-time overrides that apply at or after `since`, per rota; none without a store."""
    return _from_store(arguments, config,
                       lambda engine: extra_overrides(engine, since)) or {}


def _window(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="start", metavar="TIME",
                        help="ISO 8601 date or instant (default: now)")
    parser.add_argument("--until", dest="end", metavar="TIME",
                        help="ISO 8601 date or instant, or a duration after --from such as "
                             "2w (default: 2w)")


def _instant(text: str | None, zone: ZoneInfo, default: datetime) -> datetime:
    if text is None:
        return default
    try:
        return roster.read_instant(text, zone)
    except ValueError as error:
        raise Usage(str(error)) from None


def _span(arguments: argparse.Namespace, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """--from and --until; dates and times without an offset are read in `zone`."""
    start = _instant(arguments.start, zone, SystemClock().now())
    text = arguments.end or "2w"
    try:
        end = start + parse_duration(text)
    except ValueError:
        end = _instant(text, zone, start)
    if end <= start:
        raise Usage(f"--until ({end.isoformat()}) must be after --from ({start.isoformat()})")
    return start, end


def _oncall(arguments: argparse.Namespace, config: Config, out: TextIO) -> int:
    if arguments.team == "feeds":
        return run_feeds(arguments, config, out)
    if arguments.words:
        raise Usage(f"unexpected {' '.join(arguments.words)!r} after the rota or service")
    at = _instant(arguments.at, config.settings.timezone, SystemClock().now())
    answers = roster.on_call(config, arguments.team, at, _overrides(arguments, config, at))
    if arguments.format == "json":
        print_json({"at": at.isoformat(),
                    "rotas": [roster.on_call_json(item) for item in answers]},
                   out, ascii_only=True)
        return EXIT_OK
    for answer in answers:
        zone = answer.rota.timezone
        line = f"{answer.rota.id}: {_who(answer.shift, config)} {_until(answer.shift, zone)}"
        if answer.next is not None:
            line += (f"; next: {_who(answer.next, config)} from "
                     f"{_local(answer.next.start, zone)}")
        print(line, file=out)
    return EXIT_OK


def _schedule(arguments: argparse.Namespace, config: Config, out: TextIO) -> int:
    if arguments.ics:
        now = SystemClock().now()
        extra = _overrides(arguments, config, roster.calendar_window(now)[0])
        out.write(roster.rota_ics(config, arguments.rota, now, extra.get(arguments.rota, ()))
                  .decode("utf-8"))
        return EXIT_OK
    rota = roster.rotas_for(config, arguments.rota)[0]
    start, end = _span(arguments, rota.timezone)
    extra = _overrides(arguments, config, start)
    shifts = roster.schedule(config, rota.id, start, end, extra.get(rota.id, ()))
    if arguments.format == "json":
        print_json({"rota": arguments.rota, "from": start.isoformat(),
                    "until": end.isoformat(),
                    "shifts": [roster.shift_json(shift) for shift in shifts]},
                   out, ascii_only=True)
        return EXIT_OK
    for shift in shifts:
        print(f"{_local(shift.start, rota.timezone)}  {_local(shift.end, rota.timezone)}  "
              f"{_who(shift, config)}", file=out)
    return EXIT_OK


def _fatigue(arguments: argparse.Namespace, config: Config, out: TextIO) -> int:
    start, end = _span(arguments, config.settings.timezone)

    async def read(engine: Engine) -> tuple[Overrides, dict[str, list[datetime]]]:
        return await extra_overrides(engine, start), await engine.pages(start, end)

    stored = _from_store(arguments, config, read)
    extra, pages = stored if stored is not None else ({}, None)
    reports = roster.fatigue(config, start, end, pages, extra)
    if arguments.format == "json":
        print_json({"from": start.isoformat(), "until": end.isoformat(),
                    "people": [roster.fatigue_json(item) for item in reports]},
                   out, ascii_only=True)
        return EXIT_OK
    print(f"{'person':<16} {'hours':>7} {'night':>7} {'weekend':>8} {'pages':>6} "
          f"{'night pages':>11}  over limits", file=out)
    for item in reports:
        # without a store the pages are unknown, not zero
        paged = (f"{item.pages:>6} {item.night_pages:>11}" if pages is not None
                 else f"{'-':>6} {'-':>11}")
        print(f"{item.person:<16} {item.hours:>7.1f} {item.night_hours:>7.1f} "
              f"{item.weekend_hours:>8.1f} {paged}  {', '.join(item.flags) or '-'}", file=out)
    return EXIT_OK


def _who(shift: Shift, config: Config) -> str:
    if shift.person is None:
        return "nobody"
    person = config.people.get(shift.person)
    name = f"{person.name} ({shift.person})" if person and person.name != shift.person \
        else shift.person
    return f"{name} [{shift.layer}]" if shift.layer else name


def _until(shift: Shift, zone: ZoneInfo) -> str:
    return "until further notice" if shift.end == LATEST else f"until {_local(shift.end, zone)}"


def _local(moment: datetime, zone: ZoneInfo) -> str:
    if moment in (EARLIEST, LATEST):
        return "-"
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


