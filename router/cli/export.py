"""`router export alerts` (room: cli; imports cli_support, config.model, config.values, core,
store, clock, errors).

Writes the alerts a router received, read-only from its store (running or stopped), as
JSONL: one received alert per line, earliest first, in the shape `router replay` reads
(docs/replay.md), from the state directory's SQLite store or, with `--store URL`, from
PostgreSQL. Needs no config. Exit codes: 0 done, 1 no store or a store problem, 2 usage.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from router.cli import support
from router.cli.support import EXIT_INVALID, EXIT_OK, EXIT_USAGE, Usage, command
from router.clock import SystemClock
from router.config.model import StoreSetting
from router.config.values import parse_positive_duration
from router.core.incidents import label_fingerprint
from router.errors import StoreError
from router.store import DATABASE_NAME, DEFAULT_STATE_DIR
from router.store.history import ReceivedAlert, received_alerts, received_alerts_at
from router.store.opening import without_secrets

_EXITS = ("exit status: 0 done; 1 no store or a store problem; 2 usage. Reads the store "
          "read-only, with or without a running daemon (SQLite WAL).")


def add_commands(commands: Any) -> None:
    """Register `router export alerts` on the CLI's subparsers."""
    export = commands.add_parser("export", help="write what the store holds, for other tools",
                                 description="Write what the store holds, for other tools.")
    subjects = export.add_subparsers(dest="subject", metavar="SUBJECT", required=True)
    alerts = command(subjects, "alerts", "the alerts received, one JSON object a line "
                     "(JSONL), earliest first: what `router replay` reads", exits=_EXITS)
    alerts.add_argument("--since", required=True, metavar="DURATION|INSTANT",
                        help="from this long ago (30d, 2w) or this instant (ISO 8601 with an "
                             "offset, 2026-11-01T00:00:00Z)")
    alerts.add_argument("--until", metavar="DURATION|INSTANT",
                        help="up to (not including) this instant or this long ago "
                             "(default: now)")
    alerts.add_argument("--state", "--state-dir", dest="state", type=Path,
                        default=DEFAULT_STATE_DIR, metavar="DIR",
                        help=f"state directory holding {DATABASE_NAME}, as `router run "
                             f"--state` (default: {DEFAULT_STATE_DIR})")
    alerts.add_argument("--store", type=support.store_argument, default="sqlite",
                        metavar="sqlite|URL",
                        help=f"the store: sqlite ({DATABASE_NAME} in --state, the default: "
                             "this command reads no config) or a PostgreSQL URL, "
                             "postgresql://USER:${env:NAME}@HOST/DB, its password as "
                             "${env:NAME} or ${file:PATH} (single-quote it in the shell)")
    alerts.add_argument("--out", type=Path, metavar="FILE",
                        help="write to FILE (created 0600: alerts may say more than they "
                             "should) instead of standard output")
    alerts.set_defaults(handler=run_export)


def run_export(arguments: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    now = SystemClock().now()
    try:
        since = instant(arguments.since, now, "--since")
        until = instant(arguments.until, now, "--until") if arguments.until else now
        if until <= since:
            raise Usage(f"--until ({until.isoformat()}) is not after --since "
                        f"({since.isoformat()})")
    except Usage as usage:
        print(f"router export alerts: {usage}", file=err)
        return EXIT_USAGE
    setting: StoreSetting = arguments.store
    try:
        with _destination(arguments.out, out) as target:
            lines = 0
            for received in _read(setting, arguments.state, since, until):
                target.write(json.dumps(export_line(received), ensure_ascii=False) + "\n")
                lines += 1
    except StoreError as error:
        where = ("(pass --state DIR, the directory `router run --state` names)"
                 if setting == "sqlite" else "")
        print(f"router export alerts: {error} {where}".rstrip(), file=err)
        return EXIT_INVALID
    except OSError as error:
        print(f"router export alerts: {error.filename or ''}: {error.strerror or error}",
              file=err)
        return EXIT_INVALID
    if arguments.out is not None:
        print(f"{lines} alert{'s' if lines != 1 else ''} written to {arguments.out}", file=err)
    return EXIT_OK


def _read(setting: StoreSetting, state: Path, since: datetime, until: datetime
          ) -> Iterator[ReceivedAlert]:
    """The alerts of the SQLite store in `state`, or of the PostgreSQL database `setting`
    names; a failure of the latter names it as `settings.store` would, without its password.

    Raises:
        StoreError: no store, or one that cannot be read.
    """
    if isinstance(setting, str):
        yield from received_alerts(state / DATABASE_NAME, since, until)
        return
    assert setting.url is not None  # store_argument resolves the references
    try:
        yield from received_alerts_at(setting.url.reveal(), since, until)
    except StoreError as error:
        raise StoreError(f"cannot open the store {setting.shown}: "
                         f"{without_secrets(str(error), setting)}") from None
    except ImportError as error:  # this router was installed without PostgreSQL support
        raise StoreError(f"cannot open the store {setting.shown}: PostgreSQL support needs "
                         f"the {error.name} package, which is not installed") from None


def instant(text: str, now: datetime, option: str) -> datetime:
    """A duration before `now` (`30d`) or an ISO 8601 instant with an offset.

    Raises:
        Usage: neither, or an instant without an offset.
    """
    with contextlib.suppress(ValueError):
        duration = parse_positive_duration(text)
        try:
            return now - duration
        except OverflowError:
            raise Usage(f"{option}: {text} ago is before the year 1") from None
    return aware_instant(text, option, "a duration (30d, 2w) or an ISO 8601 instant")


def aware_instant(text: str, option: str, expected: str = "an ISO 8601 instant") -> datetime:
    """An ISO 8601 instant with an offset, as `router export` and `router replay` read one.

    Raises:
        Usage: not ISO 8601 (the message says `expected`), or no offset.
    """
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise Usage(f"{option}: expected {expected} with an offset (2026-11-01T00:00:00Z), "
                    f"got {text!r}") from None
    if moment.tzinfo is None:
        raise Usage(f"{option}: {text!r} has no offset: add Z or +01:00, say")
    return moment


def export_line(received: ReceivedAlert) -> dict[str, object]:
    """One line of the export (docs/replay.md). The dedup key is kept only when it is not
    the hash router derived from the labels: a replay derives that again under its config."""
    derived = label_fingerprint({**received.labels, "__source": received.source,
                                 "__service": received.service or ""})
    return {
        "received_at": received.received_at.isoformat(),
        "last_received_at": received.last_received_at.isoformat(),
        "count": received.count,
        "status": received.status,
        "source": received.source,
        "summary": received.summary,
        "severity": received.severity,
        "labels": dict(received.labels),
        "annotations": dict(received.annotations),
        "dedup_key": None if received.dedup_key == derived else received.dedup_key,
        "starts_at": None,
        "ends_at": None,
        "incident": f"INC{received.incident}" if received.incident is not None else None,
        "suppressed_by": received.suppressed_by,
    }


@contextlib.contextmanager
def _destination(path: Path | None, out: TextIO) -> Iterator[TextIO]:
    if path is None:
        yield out
        return
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(descriptor, "w", encoding="utf-8") as target:
        yield target

