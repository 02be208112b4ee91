"""What every config-reading command shares (room: cli; imports config, engine, store, clock).

The exit codes, the option scheme (`--config`, `--state`, `--format`), the one place that
loads the config and turns expected failures into a message and an exit code, and the text
layout that more than one command module prints. Exit codes: 0 done, 1 the input was wrong
(not found, invalid config or input file, a store problem), 2 the command line was wrong.
"""

from __future__ import annotations

import argparse
import functools
import getpass
import json
import re
import socket
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO, TypeVar

import trio

from router.clock import SystemClock
from router.config import ConfigInvalid, load_config
from router.config.database_url import parse_store, resolve_later
from router.config.model import Config, Settings, StoreSetting
from router.config.secrets import SecretMissing, SecretResolver
from router.engine import Engine
from router.errors import NotFound, StoreError
from router.store import DATABASE_NAME, DEFAULT_STATE_DIR
from router.store.opening import BackendMissing, describe, open_store

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
T = TypeVar("T")

Action = Callable[[argparse.Namespace, Config, TextIO], int]
"""A command's body: the parsed arguments and the loaded config in, an exit code out."""

DEFAULT_CONFIG = "config"
_CONFIG_HELP = "config directory or file (default: config); may repeat"
_OPTIONAL_CONFIG_HELP = ("config directory or file; may repeat. Read only when given or when "
                         "./config exists: this command needs only the store")
_STATE_HELP = (f"state directory holding {DATABASE_NAME}, as `router run --state` "
               f"(default: {DEFAULT_STATE_DIR}); an incident state filter is --status")
STORE_HELP = ("the store: sqlite (DATABASE in --state) or a PostgreSQL URL, "
              "postgresql://USER:${env:NAME}@HOST/DB, its password as ${env:NAME} or "
              "${file:PATH} (single-quote it in the shell); default: the config's "
              "settings.store").replace("DATABASE", DATABASE_NAME)
_STORE_EXITS = ("exit status: 0 done; 1 not found, invalid config or a store problem; 2 usage. "
                "Works with or without a running daemon (SQLite WAL).")
SOCKET_NAME = "router.sock"  # daemon/root.py's, in the state directory
_PLAIN = re.compile(r"[\w.\-/:@]+")


class Usage(Exception):
    """A bad argument value; exits 2 with the message."""


class Failure(Exception):
    """Not found, an unreadable input file, a store problem; exits 1 with the message."""


def command(commands: Any, name: str, summary: str,
            exits: str = _STORE_EXITS) -> argparse.ArgumentParser:
    """A subcommand whose --help repeats the summary and ends with what its exit codes mean.

    The default epilog is the store commands'; a command with other exit codes passes its own.
    """
    parser: argparse.ArgumentParser = commands.add_parser(
        name, help=summary, description=f"{summary}.", epilog=exits)
    return parser


def add_common_options(parser: argparse.ArgumentParser, name: str, act: Action, *,
                       store: bool = True, resolve_secrets: bool = False,
                       store_only: bool = False) -> None:
    """Add `--config`, `--state` (when the command opens the store) and `--format`.

    Args:
        name: the command as the user typed it, prefixed to every error message.
        act: the command's body, run by `run` once the config loaded.
        store: whether the command reads the store in the state directory.
        resolve_secrets: whether loading resolves `${env:...}` and `${file:...}`; a command
            that sends nothing need not, and then runs where the secrets are absent.
        store_only: the command reads (or adds to) the store and uses no config: it runs
            with `--state` alone, and reads a config only when `--config` is given or
            `./config` exists (`act` is then given an empty config otherwise).
    """
    parser.add_argument("--config", action="append", metavar="DIR|FILE",
                        help=_OPTIONAL_CONFIG_HELP if store_only else _CONFIG_HELP)
    if store:
        parser.add_argument("--state", type=Path, default=DEFAULT_STATE_DIR, metavar="DIR",
                            help=_STATE_HELP)
        parser.add_argument("--store", type=store_argument, metavar="sqlite|URL",
                            help=STORE_HELP)
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.set_defaults(handler=functools.partial(
        run, name=name, act=act, resolve_secrets=resolve_secrets, store_only=store_only))


def run(arguments: argparse.Namespace, out: TextIO, err: TextIO, *, name: str, act: Action,
        resolve_secrets: bool, store_only: bool = False) -> int:
    """Load the config, run the command, turn expected failures into messages and codes.

    `NotFound` is what the engine raises for an unknown rota, service, person or override;
    like `Failure` it carries one message, printed as is. Any other error is a bug: a trace.
    """
    try:
        if store_only and not arguments.config and not Path(DEFAULT_CONFIG).exists():
            config = _without_config(arguments.state, arguments.store)
        else:
            config = load_config(arguments.config or [DEFAULT_CONFIG],
                                 resolve_secrets=resolve_secrets)
    except Failure as failure:
        print(f"router {name}: {failure.args[0]}", file=err)
        return EXIT_INVALID
    except ConfigInvalid as invalid:
        for problem in invalid.problems:
            print(problem, file=err)
        print("config invalid: fix it first (router validate)", file=err)
        return EXIT_INVALID
    # A warning does not stop the command: it goes to stderr, so stdout stays the answer.
    arguments.warn = lambda text: print(f"router {name}: warning: {text}", file=err)
    try:
        return int(act(arguments, config, out))
    except Usage as usage:
        print(f"router {name}: {usage}", file=err)
        return EXIT_USAGE
    except (Failure, NotFound) as failure:
        print(f"router {name}: {failure.args[0]}", file=err)
        return EXIT_INVALID


def _without_config(state: Path, store: StoreSetting | None = None) -> Config:
    """The empty config a store-only command runs on when none is given or at ./config.

    The engine that opens the store is built over a config, but reading incidents,
    deliveries, silences and overrides uses none of it. With no store there either (and no
    `--store URL`), the user is probably in the wrong directory: say so rather than create
    an empty store.

    Raises:
        Failure: there is no store in `state` either.
    """
    database = state / DATABASE_NAME
    if (store is None or store == "sqlite") and not database.is_file():
        raise Failure(f"found neither a store ({database}) nor a config ({DEFAULT_CONFIG}): "
                      "pass --state DIR, the directory `router run --state` names, or run "
                      "this where `router run` ran")
    return Config(settings=Settings(), people={}, channels={}, rotas={},
                  escalation_policies={}, services={}, routes=(), suppressions=())


def positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def store_argument(text: str) -> StoreSetting:
    """An argparse type: `--store sqlite` or a PostgreSQL URL, its references resolved (a
    relative `${file:PATH}` against the working directory). The error never repeats the
    value: argparse would print it whole, password and all."""
    try:
        return parse_store(text, SecretResolver(), Path.cwd())
    except (ValueError, SecretMissing) as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def chosen_store(arguments: argparse.Namespace, config: Config) -> StoreSetting:
    """`--store` when given, else the config's settings.store, its references resolved now
    if the config was loaded without its secrets.

    Raises:
        Failure: a reference in settings.store cannot be resolved.
    """
    setting: StoreSetting | None = getattr(arguments, "store", None)
    if setting is not None:
        return setting
    setting = config.settings.store
    if isinstance(setting, str):
        return setting
    try:
        return resolve_later(setting)
    except (ValueError, SecretMissing) as error:
        raise Failure(f"settings.store.url ({setting.where}): {error}") from None


def with_engine(arguments: argparse.Namespace, config: Config,
                work: Callable[[Engine], Awaitable[T]]) -> T:
    """Open the store (`chosen_store`: SQLite in the state directory, or PostgreSQL), run
    `work` on an engine, close the store."""
    setting = chosen_store(arguments, config)
    directory: Path = arguments.state
    name = describe(setting, directory)
    if setting == "sqlite" and not directory.is_dir():
        raise Failure(f"no state directory {str(directory)!r} (router run creates it; or "
                      "pass --state DIR)")
    if setting == "sqlite":
        _refuse_beside_another_store(directory)

    async def session() -> T:
        try:
            store = await open_store(setting, directory)
        except BackendMissing as error:
            raise Usage(str(error)) from None
        except (StoreError, OSError) as error:  # not a database, a newer schema, no access
            raise Failure(str(error) if setting != "sqlite"
                          else f"cannot open the store {name}: {error}") from None
        try:
            return await work(Engine(config, store, SystemClock()))
        finally:
            await store.close()

    try:
        return trio.run(session)
    except StoreError as error:  # e.g. a full disk
        raise Failure(f"the store {name} failed: {error}") from None


def _refuse_beside_another_store(directory: Path) -> None:
    """Failure if the state directory holds no SQLite store while a daemon answers on its
    socket: that daemon keeps its store elsewhere (a node on PostgreSQL), and opening SQLite
    here would create an empty store and report nothing found."""
    if (directory / DATABASE_NAME).exists():
        return
    path = directory / SOCKET_NAME
    if not path.exists():
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(2)
        try:
            probe.connect(str(path))
        except OSError:  # a socket left behind by a daemon that stopped
            return
    raise Failure(f"no store in {str(directory)!r}, and a daemon answers on {path}: it keeps "
                  "its store elsewhere (settings.store or `router run --store`); give this "
                  "command the same --store URL or the config that sets it")


def print_json(document: object, out: TextIO, *, ascii_only: bool = False) -> None:
    """One indented JSON document.

    `ascii_only` escapes non-ASCII text as `\\uXXXX`, as oncall, schedule and fatigue always
    have; the other commands print UTF-8 as it is.
    """
    print(json.dumps(document, indent=2, ensure_ascii=ascii_only), file=out)


def quoted(value: str) -> str:
    """A value as a matcher or label is written: bare when plain, else a JSON string."""
    return value if _PLAIN.fullmatch(value) else json.dumps(value, ensure_ascii=False)


def fields(pairs: Sequence[tuple[str, str | None]], *, indent: str = "") -> list[str]:
    """`name  value` lines with the values aligned; a missing or empty value prints `-`."""
    width = max(len(name) for name, _ in pairs)
    return [f"{indent}{name.ljust(width)}  {value or '-'}" for name, value in pairs]


def text_time(moment: datetime | None) -> str:
    return "-" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def table(header: Sequence[str], rows: Sequence[Sequence[str]], *,
           indent: str = "") -> list[str]:
    """Left-aligned columns two spaces apart, no trailing blanks."""
    lines = [header, *rows]
    widths = [max(len(line[column]) for line in lines) for column in range(len(header))]
    return [(indent + "  ".join(cell.ljust(width) for cell, width in zip(line, widths,
                                                                          strict=True))).rstrip()
            for line in lines]


def login_name() -> str:
    """Who runs the command, for `--by` defaults: the login name, or "" when the environment
    and the password database have none."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""
