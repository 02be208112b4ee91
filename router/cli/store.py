"""`router store stats` and `router store prune` (room: cli; imports cli_support, config,
store, views, clock, errors).

Both work on the store in a state directory whether or not the daemon runs (SQLite WAL lets
a second process read, and write between the daemon's transactions). `prune` removes what
the daemon's hourly retention pass would (store/retention.py), in the same small batches, so
a running daemon's ingest waits for one batch at most; then it gives the freed pages back to
the file system and truncates the WAL. A store created before router used incremental
auto-vacuum keeps its size until one `prune --vacuum`, which rewrites the file (a write lock
for as long as that takes, and free disk space for a copy: best with the daemon stopped).
The cutoff is `--older-than`, else the config's `settings.retention` when `--config` is given,
else its default.
Exit codes: 0 done, 1 no state directory, an invalid config or a store problem, 2 usage.
"""

from __future__ import annotations

import argparse
import functools
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import trio

from router.cli import migrate_to
from router.cli.support import (
    EXIT_INVALID,
    EXIT_OK,
    Failure,
    command,
    fields,
    print_json,
    text_time,
)
from router.clock import SystemClock
from router.config import ConfigInvalid, load_config
from router.config.model import Settings
from router.config.values import parse_positive_duration
from router.engine.views import instant_json
from router.errors import StoreError
from router.store import DATABASE_NAME, DEFAULT_STATE_DIR
from router.store.opening import open_store
from router.store.retention import Measure, Pruned

_EXITS = ("exit status: 0 done; 1 no state directory, an invalid config or a store problem; "
          "2 usage. Works with or without a running daemon (SQLite WAL).")
_BATCH = 100
_PAGES = 256  # as the daemon's pass: an ingest beside it waits for one of these at most
_KINDS = (("incidents", "incident", "incidents"), ("alerts", "alert", "alerts"),
          ("timeline", "timeline entry", "timeline entries"),
          ("notifications", "notification", "notifications"),
          ("deliveries", "delivery attempt", "delivery attempts"),
          ("silences", "silence", "silences"))


def add_commands(commands: Any) -> None:
    """Register `store stats` and `store prune` on the CLI's subparsers."""
    store = commands.add_parser("store", help="the state store: its size, and pruning it",
                                description="The state store: its size, and pruning it.")
    verbs = store.add_subparsers(dest="verb", metavar="VERB", required=True)
    stats = command(verbs, "stats", "rows per table, file sizes, the oldest resolved "
                    "incident and what prune would remove", exits=_EXITS)
    _options(stats)
    stats.set_defaults(handler=_stats)
    prune = command(verbs, "prune", "remove resolved incidents (with their alerts, timeline "
                    "and deliveries), ended silences and old notices; shrink the file",
                    exits=_EXITS)
    _options(prune)
    prune.add_argument("--dry-run", action="store_true",
                       help="say what would be removed; remove nothing")
    prune.add_argument("--vacuum", action="store_true",
                       help="then rewrite the file (VACUUM) and turn on incremental vacuum, "
                            "for a store created before it; best with the daemon stopped")
    prune.set_defaults(handler=_prune)
    migrate_to.add_command(verbs)


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state", type=Path, default=DEFAULT_STATE_DIR, metavar="DIR",
                        help=f"state directory holding {DATABASE_NAME} (default: "
                             f"{DEFAULT_STATE_DIR})")
    parser.add_argument("--older-than", metavar="DURATION",
                        help="what is older than this goes (30d, 2w; default: the config's "
                             f"settings.retention, else {_words(Settings().retention)})")
    parser.add_argument("--config", action="append", metavar="DIR|FILE",
                        help="read settings.retention from this config; may repeat")
    parser.add_argument("--format", choices=("text", "json"), default="text")


def _stats(arguments: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    return _run(arguments, err, "store stats", lambda path, older_than: _print_stats(
        arguments, path, older_than, out))


def _prune(arguments: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    return _run(arguments, err, "store prune", lambda path, older_than: _print_prune(
        arguments, path, older_than, out))


def _run(arguments: argparse.Namespace, err: TextIO, name: str, act: Any) -> int:
    try:
        older_than = _older_than(arguments)
        directory: Path = arguments.state
        if not directory.is_dir():
            raise Failure(f"no state directory {str(directory)!r} (router run creates it; or "
                          "pass --state DIR)")
        path = directory / DATABASE_NAME
        if not path.is_file():
            raise Failure(f"no store in {str(directory)!r} (router run creates {DATABASE_NAME})")
        return int(act(path, older_than))
    except ConfigInvalid as invalid:
        for problem in invalid.problems:
            print(problem, file=err)
        print("config invalid: fix it first (router validate)", file=err)
    except Failure as failure:
        print(f"router {name}: {failure.args[0]}", file=err)
    except (StoreError, OSError) as error:  # not a database, a newer schema, a full disk
        print(f"router {name}: the store failed: {error}", file=err)
    return EXIT_INVALID


def _older_than(arguments: argparse.Namespace) -> timedelta:
    if arguments.older_than is not None:
        try:
            return parse_positive_duration(arguments.older_than)
        except ValueError as error:
            raise Failure(f"--older-than: {error}") from None
    if arguments.config:
        return load_config(arguments.config, resolve_secrets=False).settings.retention
    return Settings().retention


def _print_stats(arguments: argparse.Namespace, path: Path, older_than: timedelta,
                 out: TextIO) -> int:
    cutoff = SystemClock().now() - older_than

    async def session() -> tuple[Measure, Pruned]:
        store = await open_store("sqlite", path.parent)
        try:
            return await store.read(lambda reader: (
                reader.retention.measure(path),
                reader.retention.prunable(cutoff)))
        finally:
            await store.close()

    measure, would = trio.run(session)
    if arguments.format == "json":
        print_json({"store": str(path), **_measure_json(measure),
                    "older_than": _words(older_than), "prunable": would.counts()}, out)
        return EXIT_OK
    lines = [f"store {path}", *fields([
        ("database", f"{_size(measure.database_bytes)} ({_size(measure.free_bytes)} free)"),
        ("wal", _size(measure.wal_bytes)),
        ("vacuum", "incremental" if measure.incremental_vacuum
         else "none: prune --vacuum once to shrink the file"),
        ("oldest resolved", text_time(measure.oldest_resolved))], indent="  "),
        "rows:", *fields([(table, f"{count:,}") for table, count in measure.rows.items()],
                         indent="  "),
        f"prune (older than {_words(older_than)}) would remove: {_counts(would)}"]
    print("\n".join(lines), file=out)
    return EXIT_OK


async def _prune_store(path: Path, cutoff: datetime, *, dry_run: bool,
                       vacuum: bool) -> tuple[Pruned, Measure, Measure]:
    """What was removed (or would be), and the store's size before and after."""
    store = await open_store("sqlite", path.parent)
    try:
        before = await store.read(lambda reader: reader.retention.measure(path))
        if dry_run:
            would = await store.read(lambda reader: reader.retention.prunable(cutoff))
            return would, before, before
        total = Pruned()
        while (batch := await store.write(
                lambda transaction: transaction.retention.prune(cutoff, _BATCH))).rows:
            total += batch
        while await store.write(lambda transaction: transaction.retention.reclaim(_PAGES)):
            pass
        if vacuum:
            await store.vacuum()
        await store.checkpoint()
        after = await store.read(lambda reader: reader.retention.measure(path))
        return total, before, after
    finally:
        await store.close()


def _print_prune(arguments: argparse.Namespace, path: Path, older_than: timedelta,
                 out: TextIO) -> int:
    cutoff = SystemClock().now() - older_than
    pruned, before, after = trio.run(functools.partial(
        _prune_store, path, cutoff, dry_run=arguments.dry_run, vacuum=arguments.vacuum))
    if arguments.format == "json":
        print_json({"store": str(path), "older_than": _words(older_than),
                    "dry_run": arguments.dry_run, "removed": pruned.counts(),
                    "before": _measure_json(before), "after": _measure_json(after)}, out)
        return EXIT_OK
    if arguments.dry_run:
        print(f"would remove (older than {_words(older_than)}): {_counts(pruned)}\n"
              "dry run: nothing removed", file=out)
        return EXIT_OK
    lines = [f"removed (older than {_words(older_than)}): {_counts(pruned)}",
             f"store {path}: {_size(_total(before))} -> {_size(_total(after))} "
             "(database and WAL)"]
    if not after.incremental_vacuum:
        lines.append("the file keeps its free pages for new rows; `router store prune "
                     "--vacuum` once gives them back (and turns on incremental vacuum)")
    print("\n".join(lines), file=out)
    return EXIT_OK


def _measure_json(measure: Measure) -> dict[str, Any]:
    return {"rows": measure.rows, "database_bytes": measure.database_bytes,
            "wal_bytes": measure.wal_bytes, "free_bytes": measure.free_bytes,
            "incremental_vacuum": measure.incremental_vacuum,
            "oldest_resolved": instant_json(measure.oldest_resolved)}


def _counts(pruned: Pruned) -> str:
    if not pruned.rows:
        return "nothing"
    return ", ".join(f"{count:,} {one if count == 1 else many}"
                     for (name, one, many) in _KINDS
                     if (count := pruned.counts()[name]))


def _total(measure: Measure) -> int:
    return measure.database_bytes + measure.wal_bytes


def _size(count: int) -> str:
    """Bytes in the largest binary unit that keeps the number at least 1."""
    size, unit = float(count), "B"
    for larger in ("KiB", "MiB", "GiB", "TiB"):
        if size < 1024:
            break
        size, unit = size / 1024, larger
    return f"{count} B" if unit == "B" else f"{size:.1f} {unit}"


def _words(duration: timedelta) -> str:
    """A whole number of days as `90d`, else hours, minutes or seconds."""
    seconds = int(duration.total_seconds())
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
