"""`router store migrate-to URL` (room: cli; imports cli_support, config.database_url,
config.secrets, redaction, store, errors): the way from one SQLite host to several routers
on PostgreSQL (docs/ha.md).

Copies the store of a state directory into an empty PostgreSQL database in one transaction
and verifies it there (store/transfer.py); prints what it copied. The URL's password is
given as `${env:NAME}` or `${file:PATH}` (or the whole URL as one), never written on the
command line, which `ps` shows; no message repeats it. It refuses while a daemon answers on
the state directory's socket: what that daemon accepted after the copy would never reach
PostgreSQL. Exit codes: 0 copied and verified; 1 a store problem (nothing written);
2 usage, or refused (a daemon running, a database that is not empty).
"""

from __future__ import annotations

import argparse
import contextlib
import socket
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote

from router.cli.support import EXIT_INVALID, EXIT_OK, EXIT_USAGE, Usage, command
from router.config.database_url import parse_database_url
from router.config.secrets import SecretMissing, SecretResolver
from router.errors import StoreError
from router.redaction import redact_urls
from router.store import DATABASE_NAME, DEFAULT_STATE_DIR

SOCKET_NAME = "router.sock"  # daemon/root.py's, in the state directory
_EXITS = ("exit status: 0 copied and verified; 1 a store problem (nothing written); 2 usage, "
          "or refused: a daemon runs on the store, or the database is not empty. Stop the "
          "daemon first.")


class _Target:
    """The URL to connect with, as messages show it, and the secrets kept out of them."""

    def __init__(self, url: str, shown: str, secrets: list[str]) -> None:
        self.url = url
        self.shown = shown
        self.secrets = sorted({form for secret in secrets if secret
                               for form in (secret, quote(secret, safe=""))},
                              key=len, reverse=True)

    def clean(self, text: str) -> str:
        """`text` without the URL's password (as read and as encoded) or user info."""
        text = text.replace(self.url, self.shown)
        for secret in self.secrets:
            text = text.replace(secret, "<redacted>")
        return redact_urls(text)


def add_command(verbs: Any) -> None:
    """Register `router store migrate-to` on `router store`'s verbs."""
    migrate = command(verbs, "migrate-to", "copy the state directory's store into an empty "
                      "PostgreSQL database, in one transaction, and verify it",
                      exits=_EXITS)
    migrate.add_argument("url", metavar="URL",
                         help="postgresql://USER:${env:NAME}@HOST/DB: the password only as "
                              "${env:NAME} or ${file:PATH}, or the whole URL one "
                              "(single-quote it in the shell)")
    migrate.add_argument("--state", "--state-dir", dest="state", type=Path,
                         default=DEFAULT_STATE_DIR, metavar="DIR",
                         help=f"state directory holding {DATABASE_NAME}, as `router run "
                              f"--state` (default: {DEFAULT_STATE_DIR})")
    migrate.set_defaults(handler=run_migrate_to)


def run_migrate_to(arguments: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        target = target_url(arguments.url)
        _check_stopped(arguments.state)
    except Usage as usage:
        print(f"router store migrate-to: {usage}", file=err)
        return EXIT_USAGE
    from router.store import transfer  # psycopg only for this command, as store/opening.py

    path = arguments.state / DATABASE_NAME
    try:
        copied = transfer.copy_store(path, target.url)
    except transfer.Refused as refused:
        print(f"router store migrate-to: {target.shown}: {target.clean(str(refused))}",
              file=err)
        return EXIT_USAGE
    except StoreError as error:
        print(f"router store migrate-to: {target.shown}: {target.clean(str(error))}",
              file=err)
        return EXIT_INVALID
    width = max(map(len, copied.rows))
    lines = [f"copied {path} to {target.shown} in one transaction:",
             *(f"  {table:<{width}}  {count:>12,}" for table, count in copied.rows.items()),
             *([f"kept {', '.join(copied.adopted)} from {arguments.state}: links already "
                "mailed, logins and calendar feed URLs hold on every node"]
               if copied.adopted else []),
             f"verified: the rows of {len(copied.rows)} tables counted, "
             f"{copied.incidents_verified:,} incidents read back equal",
             f"the next incident is INC{copied.next_incident}; start the routers with "
             f"settings.store {{url: ...}} or --store (docs/ha.md)"]
    print("\n".join(lines), file=out)
    return EXIT_OK


def target_url(text: str) -> _Target:
    """The URL `text` read as settings.store and `router run --store` read one
    (config.database_url, one rule for all three): its `${env:}`/`${file:}` references
    resolved (a relative file against the working directory; a referenced password
    percent-encoded).

    Raises:
        Usage: not a PostgreSQL URL, a password written in it, or a reference that cannot be
            resolved; the message never holds the URL's user info.
    """
    try:
        setting = parse_database_url(text, SecretResolver(), Path.cwd())
    except SecretMissing as missing:
        raise Usage(f"URL: {missing}") from None
    except ValueError as error:
        raise Usage(str(error)) from None
    if setting.url is None:  # a resolving resolver always resolves: never here
        raise Usage("URL: its references were not resolved")
    password = setting.password.reveal() if setting.password is not None else ""
    return _Target(setting.url.reveal(), setting.shown, [password])


def _check_stopped(state: Path) -> None:
    """Usage (refused) if a daemon answers on the state directory's socket."""
    path = state / SOCKET_NAME
    if not path.exists():
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe, \
            contextlib.suppress(OSError):
        probe.settimeout(2)
        probe.connect(str(path))
        raise Usage(f"a router daemon is running on this store ({path} answers): stop it "
                    "first; what it accepts after the copy would never reach PostgreSQL")
