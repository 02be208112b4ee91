"""The command line (room: cli; imports config, core, engine, store, daemon, errors).

Parses arguments, calls one function, prints its result. Exit codes: 0 success, 1 the input
was wrong (invalid config, ...), 2 the command line itself was wrong. A user never sees a
traceback: every expected failure is a value printed to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import re
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, timedelta
from pathlib import Path
from socket import gethostname
from typing import Any, TextIO

import trio

from router import __version__, daemon
from router.cli import (
    analysis as cli_analysis,
)
from router.cli import (
    casereport as cli_casereport,
)
from router.cli import (
    checks as cli_checks,
)
from router.cli import (
    cluster as cli_cluster,
)
from router.cli import (
    deliveries as cli_deliveries,
)
from router.cli import (
    diff as cli_diff,
)
from router.cli import (
    export as cli_export,
)
from router.cli import (
    heartbeats as cli_heartbeats,
)
from router.cli import (
    importer as cli_importer,
)
from router.cli import (
    incidents as cli_incidents,
)
from router.cli import (
    jobs as cli_jobs,
)
from router.cli import (
    lifecycle as cli_lifecycle,
)
from router.cli import (
    notify as cli_notify,
)
from router.cli import (
    oncall as cli_oncall,
)
from router.cli import (
    overrides as cli_overrides,
)
from router.cli import (
    passwd as cli_passwd,
)
from router.cli import (
    reload as cli_reload,
)
from router.cli import (
    replay as cli_replay,
)
from router.cli import (
    routes as cli_routes,
)
from router.cli import (
    store as cli_store,
)
from router.cli.support import EXIT_INVALID, EXIT_OK, EXIT_USAGE, store_argument
from router.clock import SystemClock
from router.config import ConfigInvalid, load_config
from router.config.checks import fallback_warnings
from router.config.schema import bundled_schema
from router.config.values import parse_listen, parse_positive_duration
from router.daemon import logs
from router.engine import roster
from router.errors import Problem
from router.store import DEFAULT_STATE_DIR
from router.store.opening import BackendMissing


def build_parser() -> argparse.ArgumentParser:
    """Every command's parser; `--help` lists the commands in this order."""
    parser = argparse.ArgumentParser(
        prog="router", description="Self-hosted alert router and on-call daemon.")
    parser.add_argument("--version", action="version", version=f"router {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_validate(commands)
    _add_run(commands)
    schema = commands.add_parser("schema", help="print the config's JSON Schema")
    schema.set_defaults(handler=run_schema)
    for add_commands in _COMMAND_GROUPS:
        add_commands(commands)
    return parser


_COMMAND_GROUPS: tuple[Callable[[Any], None], ...] = (
    cli_oncall.add_commands,
    cli_overrides.add_commands,
    cli_routes.add_commands,
    cli_incidents.add_commands,
    cli_analysis.add_commands,
    cli_lifecycle.add_commands,
    cli_reload.add_commands,
    cli_deliveries.add_commands,
    cli_store.add_commands,
    cli_notify.add_commands,
    cli_checks.add_commands,
    cli_importer.add_commands,
    cli_heartbeats.add_commands,
    cli_cluster.add_commands,
    cli_jobs.add_commands,
    cli_casereport.add_commands,
    cli_diff.add_commands,
    cli_export.add_commands,
    cli_replay.add_commands,
    cli_passwd.add_commands,
)
"""The commands of the other modules of cli/, each module adding its own (`add_commands`)."""


def _add_validate(commands: Any) -> None:
    """`router validate`: the config's problems and warnings, as CI runs it."""
    validate = commands.add_parser(
        "validate", help="check a config directory or files; exit 1 listing every problem")
    validate.add_argument("paths", nargs="*", default=["config"], metavar="DIR|FILE",
                          help="config directories and/or files (default: config)")
    validate.add_argument("--no-secrets", action="store_true",
                          help="do not resolve ${env:...} and ${file:...} (for CI runners)")
    validate.add_argument("--format", choices=("text", "json"), default="text",
                          help="problems as text lines or one JSON document")
    validate.add_argument("--horizon", type=_horizon, default=roster.GAP_HORIZON,
                          metavar="DURATION",
                          help="how far ahead to look for coverage gaps, e.g. 8w "
                               f"(default: {roster.GAP_HORIZON.days}d)")
    validate.add_argument("--at", metavar="INSTANT",
                          help="look for gaps from this instant, ISO 8601; without an offset "
                               "in the settings' timezone, as `router oncall --at` (default: "
                               "now)")
    validate.add_argument("--strict", action="store_true",
                          help="warnings are errors (coverage gaps, routes that can never "
                               "match, matcher slips, ...): exit 1 when there is any")
    validate.set_defaults(handler=run_validate)


def _add_run(commands: Any) -> None:
    """`router run`: the daemon, with what overrides its config."""
    run = commands.add_parser("run", help="run the daemon")
    run.add_argument("--config", action="append", type=Path, metavar="DIR|FILE",
                     help="config directory or file (default: config); may repeat")
    run.add_argument("--state", type=Path, default=DEFAULT_STATE_DIR, metavar="DIR",
                     help=f"state directory: the store and the socket "
                          f"(default: {DEFAULT_STATE_DIR})")
    run.add_argument("--listen", metavar="HOST:PORT",
                     help="HTTP listener; overrides settings.listen (default 127.0.0.1:9080)")
    run.add_argument("--socket", type=Path, metavar="PATH",
                     help="unix socket path (default: STATE/router.sock)")
    run.add_argument("--tls-cert", type=Path, metavar="PEM",
                     help="serve HTTPS with this certificate chain (with --tls-key); "
                          "overrides settings.tls.cert; read again on every reload")
    run.add_argument("--tls-key", type=Path, metavar="PEM",
                     help="the certificate's private key, unencrypted (with --tls-cert)")
    run.add_argument("--store", type=store_argument, metavar="sqlite|URL",
                     help="the store; overrides settings.store: sqlite (router.db in --state) "
                          "or postgresql://USER:${env:NAME}@HOST/DB, the password only as "
                          "${env:NAME} or ${file:PATH}, or the whole URL one (single-quote it "
                          "in the shell)")
    run.add_argument("--node-id", type=_node_id, metavar="NAME",
                     help="this router's name among those sharing one PostgreSQL store "
                          "(default: the host name)")
    run.add_argument("--log-format", choices=logs.FORMATS, metavar="FORMAT",
                     help="log lines as json, text or journal (default: journal when stderr "
                          "is systemd's journal stream, else json)")
    run.add_argument("--log-level", choices=logs.LEVELS, default="info", metavar="LEVEL",
                     help="least level logged: debug, info, warning or error (default: info)")
    run.set_defaults(handler=run_daemon)


def run_validate(arguments: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        if arguments.at is not None:  # its words, before the config: a usage error first
            roster.read_instant(arguments.at, UTC)
    except ValueError as error:
        print(f"router validate: --at: {error}", file=err)
        return EXIT_USAGE
    try:
        config = load_config(arguments.paths, resolve_secrets=not arguments.no_secrets)
    except ConfigInvalid as invalid:
        _report(invalid.problems, arguments.format, valid=False, out=out, err=err)
        return EXIT_INVALID
    try:
        now = SystemClock().now() if arguments.at is None \
            else roster.read_instant(arguments.at, config.settings.timezone)
    except ValueError as error:
        print(f"router validate: --at: {error}", file=err)
        return EXIT_USAGE
    gaps = roster.coverage_problems(config, now, arguments.horizon, strict=arguments.strict)
    problems = [*config.warnings, *fallback_warnings(config), *gaps]
    if arguments.strict:  # what CI means by strict: anything suspicious fails the build
        problems = [dataclasses.replace(problem, severity="error") for problem in problems]
    valid = not (arguments.strict and problems)
    if arguments.format == "json":
        _report(problems, "json", valid=valid, out=out, err=err,
                summary=config.summary() if valid else "")
    else:
        _report(problems, "text", valid=valid, out=out, err=err)
        if valid:
            print(f"config valid: {config.summary()}", file=out)
    return EXIT_OK if valid else EXIT_INVALID


def _horizon(text: str) -> timedelta:
    try:
        return parse_positive_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _report(problems: Sequence[Problem], form: str, *, valid: bool, out: TextIO,
            err: TextIO, summary: str = "") -> None:
    if form == "json":
        document = {"valid": valid, "summary": summary,
                    "problems": [problem.to_json() for problem in problems]}
        print(json.dumps(document, indent=2), file=out)
        return
    for problem in problems:
        print(problem, file=err)
    if not valid:
        errors = sum(problem.severity == "error" for problem in problems)
        print(f"config invalid: {errors} problem{'s' if errors != 1 else ''}", file=err)


def run_daemon(arguments: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    redactor = logs.configure(form=arguments.log_format, level=arguments.log_level, stream=err)
    options = daemon.Options(config_paths=arguments.config or [Path("config")],
                             state_dir=arguments.state, listen=arguments.listen,
                             socket=arguments.socket, tls_certificate=arguments.tls_cert,
                             tls_key=arguments.tls_key, store=arguments.store,
                             node_id=arguments.node_id or gethostname())
    try:
        if arguments.listen is not None:
            parse_listen(arguments.listen)
        if (arguments.tls_cert is None) != (arguments.tls_key is None):
            raise ValueError("--tls-cert and --tls-key go together: give both or neither")
        trio.run(lambda: daemon.run(options, redactor=redactor))
    except ConfigInvalid as invalid:
        _report(invalid.problems, "text", valid=False, out=out, err=err)
        return EXIT_INVALID
    except BackendMissing as missing:  # router was asked for what it cannot do
        print(f"router run: {missing}", file=err)
        return EXIT_USAGE
    except daemon.StartFailed as failed:
        print(f"router run: {failed}", file=err)
        return EXIT_INVALID
    except ValueError as error:
        print(f"router run: {error}", file=err)
        return EXIT_USAGE
    except OSError as error:
        print(f"router run: {error.strerror or error}", file=err)
        return EXIT_INVALID
    return EXIT_OK


NODE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")


def _node_id(text: str) -> str:
    """An argparse type: a node's name, as a host name is spelled (at most 63 characters)."""
    if NODE_ID.fullmatch(text) is None:
        raise argparse.ArgumentTypeError(
            f"expected letters, digits, '.', '_' or '-', at most 63, starting with a letter "
            f"or digit, got {text!r}")
    return text


def run_schema(arguments: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    print(json.dumps(bundled_schema(), indent=2), file=out)
    return EXIT_OK


def main(argv: Sequence[str] | None = None, out: TextIO | None = None,
         err: TextIO | None = None) -> int:
    """Run one command; `out` and `err` default to the process's stdout and stderr."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    parser = build_parser()
    try:  # argparse prints usage, --help and --version itself: to the streams given here
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            arguments = parser.parse_args(argv)
    except SystemExit as stop:  # argparse exits 2 on usage errors, 0 on --help/--version
        return int(stop.code or 0)
    try:
        return int(arguments.handler(arguments, out, err))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
