"""`router import alertmanager` (room: cli; imports migrate, cli_support).

Reads an `alertmanager.yml`, writes router's config files into a directory and prints the
report. Exit 0 when the files were written (the report says what changed meaning or was left
out), 2 when the file cannot be imported at all (unreadable, not YAML, not an Alertmanager
config, a route router cannot keep the meaning of) or the directory is not empty: one line
on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from router.cli.support import EXIT_OK, EXIT_USAGE, command
from router.migrate.alertmanager.convert import convert, write
from router.migrate.alertmanager.report import Refused

_EXITS = ("exit status: 0 the files were written (read the report); 2 the file cannot be "
          "imported or DIR is not empty (give --force).")


def add_commands(commands: Any) -> None:
    """Register `import alertmanager` on the CLI's subparsers."""
    importer = commands.add_parser("import", help="write router's config from another "
                                                  "tool's config")
    kinds = importer.add_subparsers(dest="kind", metavar="TOOL", required=True)
    alertmanager = command(kinds, "alertmanager", "write router's config files from an "
                           "alertmanager.yml and report what changed meaning", _EXITS)
    alertmanager.add_argument("file", type=Path, metavar="FILE", help="the alertmanager.yml")
    alertmanager.add_argument("--out", type=Path, default=Path("config"), metavar="DIR",
                              help="where to write router's files (default: config)")
    alertmanager.add_argument("--force", action="store_true",
                              help="write into DIR even when it holds files")
    alertmanager.add_argument("--webhook-fallback", action="store_true",
                              help="turn integrations router has no channel for (OpsGenie, "
                                   "Pushover, ...) into webhook channels to a bridge")
    alertmanager.set_defaults(handler=_import_alertmanager)


def _import_alertmanager(arguments: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    path: Path = arguments.file
    try:
        imported = convert(path, webhook_fallback=arguments.webhook_fallback)
        write(imported, arguments.out, force=arguments.force)
    except Refused as refused:
        print(f"router import alertmanager: {refused.describe(str(path))}", file=err)
        return EXIT_USAGE
    except FileExistsError as error:
        print(f"router import alertmanager: {error}", file=err)
        return EXIT_USAGE
    except UnicodeDecodeError:
        print(f"router import alertmanager: {path}: not UTF-8 text", file=err)
        return EXIT_USAGE
    except OSError as error:
        print(f"router import alertmanager: cannot read or write: "
              f"{error.filename or path}: {error.strerror or error}", file=err)
        return EXIT_USAGE
    except ValueError as error:
        print(f"router import alertmanager: {error}", file=err)
        return EXIT_USAGE
    print(imported.report.render(), end="", file=out)
    print(f"wrote {', '.join(sorted(imported.files))} to {arguments.out}; check them with "
          f"`router validate {arguments.out}` and `router route-test`", file=out)
    return EXIT_OK
