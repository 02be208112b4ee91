"""`router store migrate-to URL` (room: cli; imports cli_support, config.secrets, redaction,
store, errors): the way from one SQLite host to several routers on PostgreSQL (docs/ha.md).

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
import re
import socket
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote, urlsplit

from router.cli.support import EXIT_INVALID, EXIT_OK, EXIT_USAGE, Usage, command
from router.config.secrets import REFERENCE, SecretMissing, SecretResolver
from router.errors import StoreError
from router.redaction import redact_urls
from router.store import DATABASE_NAME, DEFAULT_STATE_DIR

SOCKET_NAME = "router.sock"  # daemon/root.py's, in the state directory
_SCHEMES = ("postgresql", "postgres")
_EXITS = ("exit status: 0 copied and verified; 1 a store problem (nothing written); 2 usage, "
          "or refused: a daemon runs on the store, or the database is not empty. Stop the "
          "daemon first.")
_HOLE = "\ue000{}\ue001"  # a reference, masked while the URL is checked


class _Target:
    """The URL to connect with, as messages show it, and the secrets kept out of them."""

    def __init__(self, url: str, secrets: list[str]) -> None:
        self.url = url
        self.shown = shown_url(url)
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
    """The URL `text`, its `${env:}`/`${file:}` references resolved (a relative file
    against the working directory; a referenced password percent-encoded).

    Raises:
        Usage: not a PostgreSQL URL, a password written in it, or a reference that cannot be
            resolved; the message never holds the URL's user info.
    """
    resolver, here = SecretResolver(), Path.cwd()
    try:
        whole = REFERENCE.fullmatch(text.strip())
        if whole is not None and not whole.group(1):
            url = resolver.expand(text.strip(), here)
            _check_shape(url)
            return _Target(url, [url, _written_password(url) or ""])
        references = [match.group(0) for match in REFERENCE.finditer(text)
                      if not match.group(1)]
        masked = REFERENCE.sub(lambda match: match.group(0) if match.group(1) else
                               _HOLE.format(references.index(match.group(0))), text)
        _check_shape(masked)
        password = _written_password(masked)
        if password and re.fullmatch("\ue000[0-9]+\ue001", password) is None:
            raise Usage("a password is written in the URL: give it as ${env:NAME} or "
                        "${file:PATH} (postgresql://USER:${file:PATH}@HOST/DB), never on "
                        "a command line")
        values = [resolver.expand(reference, here) for reference in references]
        url = masked.replace("$${", "${")
        for index, value in enumerate(values):
            url = url.replace(_HOLE.format(index), quote(value, safe=""))
        return _Target(url, values)
    except SecretMissing as missing:
        raise Usage(f"URL: {missing}") from None


def _check_shape(url: str) -> None:
    """Usage unless `url` is a PostgreSQL URL whose port (if any) is a number; the message
    repeats no part of it (a password with a `/` would break it apart anywhere)."""
    scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]*)://", url.strip())
    if scheme is None or scheme.group(1).lower() not in _SCHEMES:
        got = f", got a {scheme.group(1)!r} URL" if scheme else ""
        raise Usage(f"expected a PostgreSQL URL, postgresql://USER:${{env:NAME}}@HOST/DB{got}")
    if _written_password(url) is None:
        try:
            urlsplit(url).port  # noqa: B018 (raises ValueError for a port that is not a number)
        except ValueError:
            raise Usage("the URL's host and port do not parse: expected HOST, HOST:PORT or "
                        "[IPv6]:PORT") from None


def shown_url(url: str) -> str:
    """`url` without user info, query and fragment: the host, port and database. Unlike
    `display_url`, a password holding `/` (which breaks the URL apart) is never shown."""
    scheme, separator, rest = url.partition("//")
    rest = re.split(r"[?#]", rest, maxsplit=1)[0]
    return scheme + separator + rest.rpartition("@")[2]


def _written_password(url: str) -> str | None:
    """The password in the URL's user info as written (up to the last `@` before any `?`
    or `#`: a password may hold `/`), or None."""
    rest = re.split(r"[?#]", url.partition("//")[2], maxsplit=1)[0]
    user_info = rest.rpartition("@")[0]
    return user_info.partition(":")[2] if ":" in user_info else None


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
