"""`settings.store` and `router run --store`: `sqlite`, or a PostgreSQL URL whose password is
never written where people read (room: config; imports config.model, config.secrets,
redaction, errors).

A URL carries its password in its user info (`postgresql://router:PASSWORD@db/router`). In
a config under git or on a command line that `ps` shows, that password would be public, so
it must be a `${file:PATH}` or `${env:NAME}` reference (`postgresql://router:${file:/etc/
router/pg-password}@db/router`), or the whole URL must be one (`${env:ROUTER_STORE_URL}`):
a password written as it is, in the user info or as `?password=`, is an error. Without a
password, libpq's own PGPASSWORD and ~/.pgpass apply.

The written text is parsed with every reference masked first, since a reference's path holds
`/` and `:` that would break the URL apart; a referenced password is percent-encoded when it
is put in, so the file holds the password as it is. No message here repeats the URL's user
info or query: they show `display_url` or nothing.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from router.config.model import DatabaseUrl, Secret, StoreSetting
from router.config.secrets import REFERENCE, SecretResolver
from router.redaction import display_url

SCHEMES = ("postgresql", "postgres")
EXPECTED = ("expected sqlite or a PostgreSQL URL such as "
            "postgresql://USER:${file:PATH}@HOST/DATABASE (or postgres://)")
_HOLE = re.compile("\ue000([0-9]+)\ue001")
"""Stands for the reference of that index while the URL is parsed (private-use
characters: nothing a person writes)."""
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")


def parse_store(text: str, resolver: SecretResolver, base_dir: Path) -> StoreSetting:
    """`sqlite`, or a PostgreSQL URL as `parse_database_url` reads it."""
    if text.strip() == "sqlite":
        return "sqlite"
    return parse_database_url(text, resolver, base_dir)


def parse_database_url(written: str, resolver: SecretResolver, base_dir: Path
                       ) -> DatabaseUrl:
    """The URL `written`, its references resolved by `resolver` (relative paths against
    `base_dir`), or left for later when the resolver does not resolve.

    Raises:
        ValueError: not a PostgreSQL URL, or one with a password written in it; the message
            never holds the URL's user info or query.
        SecretMissing: a reference that cannot be resolved.
    """
    whole = REFERENCE.fullmatch(written.strip())
    if whole is not None and not whole.group(1):
        return _whole_reference(written.strip(), resolver, base_dir)
    texts, references = _split(written)
    masked = "".join(_interleave(texts, [f"\ue000{index}\ue001"
                                         for index in range(len(references))]))
    password = _check(masked)
    shown_masked = display_url(masked)
    if not resolver.resolve:
        shown = _HOLE.sub(lambda match: references[int(match.group(1))], shown_masked)
        return DatabaseUrl(written=written, shown=shown, base_dir=str(base_dir))
    plain = SecretResolver(environ=resolver.environ)  # the host or user: not secrets
    values = []
    secret = None
    for index, reference in enumerate(references):
        if index == password:
            value = resolver.expand(reference, base_dir)  # remembered: kept out of messages
            secret = Secret(value, reference)
            values.append(quote(value, safe=""))
        else:
            values.append(plain.expand(reference, base_dir))
    url = "".join(_interleave(texts, values))
    shown = display_url(url)
    return DatabaseUrl(written=written, shown=shown, url=Secret(url, shown), password=secret,
                       base_dir=str(base_dir))


def _whole_reference(written: str, resolver: SecretResolver, base_dir: Path) -> DatabaseUrl:
    """A URL that is one reference: the file or variable holds it whole, password and all."""
    url = resolver.expand(written, base_dir)
    if not resolver.resolve:
        return DatabaseUrl(written=written, shown=written, base_dir=str(base_dir))
    try:
        _check(url, written=False)
    except ValueError as error:
        raise ValueError(f"the URL in {written}: {error}") from None
    password = password_as_written(url)
    shown = display_url(url)
    return DatabaseUrl(written=written, shown=shown, url=Secret(url, shown),
                       password=None if not password else Secret(unquote(password), written),
                       base_dir=str(base_dir))


def password_as_written(url: str) -> str | None:
    """The password in `url`'s user info as written, or None: the user info read up to the
    LAST `@`, as `display_url` reads it, since a password held unencoded may hold `/`, `?`,
    `#` or `@`, which break the URL apart where urlsplit looks."""
    rest = url.partition("//")[2]
    user_info = rest.rpartition("@")[0]
    return user_info.partition(":")[2] if ":" in user_info else None


def _split(written: str) -> tuple[list[str], list[str]]:
    """The text between references (one more than the references) and the references; an
    escaped `$${...}` is text, already unescaped."""
    texts, references, start, text = [], [], 0, ""
    for match in REFERENCE.finditer(written):
        text += written[start:match.start()]
        start = match.end()
        if match.group(1):
            text += match.group(0)[1:]
            continue
        texts.append(text)
        references.append(match.group(0))
        text = ""
    texts.append(text + written[start:])
    return texts, references


def _interleave(texts: list[str], values: list[str]) -> list[str]:
    parts = [texts[0]]
    for value, text in zip(values, texts[1:], strict=True):
        parts += [value, text]
    return parts


def _check(url: str, *, written: bool = True) -> int | None:
    """Check the shape of `url`: with its references masked when it is `written` in the
    config or on the command line, or as read from the reference that holds it whole.

    Returns:
        The index of the reference that is the URL's password; None without a password (or
        when the URL is not `written`, which may hold one).

    Raises:
        ValueError: not a PostgreSQL URL, a port that is not a number, a user info holding
            `/`, `?`, `#` or `@` unencoded (the text reads it up to the last `@`, libpq up to
            the first `@` or `/`: they would connect as different users to different hosts),
            or a password written in a URL that is `written`.

    The parts are read from the text as `display_url` reads them (the user info up to the
    last `@`), never by urlsplit, which a password holding `/` breaks apart.
    """
    text = url.strip()
    scheme = _SCHEME.match(text)
    if scheme is None:
        raise ValueError(EXPECTED)
    if scheme.group(1).lower() not in SCHEMES:
        raise ValueError(f"{EXPECTED}, got a {scheme.group(1)!r} URL")
    if not text[scheme.end():].startswith("//"):
        raise ValueError(f"{EXPECTED}: write // after {scheme.group(0)!r}")
    rest = text[scheme.end() + 2:]
    user_info, _, after = rest.rpartition("@")
    password = password_as_written(text)
    hole = None if password is None else _HOLE.fullmatch(password)
    if written and password and hole is None:
        raise ValueError("a password is written in the URL: write it as ${file:PATH} or "
                         "${env:NAME} (postgresql://USER:${file:PATH}@HOST/DATABASE; the file "
                         "holds only the password), never in the config or on a command line")
    if any(character in user_info for character in "/?#@"):
        raise ValueError("the URL's user info holds '/', '?', '#' or '@' as it is, which "
                         "breaks the URL apart: percent-encode them (%2F, %3F, %23, %40)")
    host_port = re.split(r"[/?#]", after, maxsplit=1)[0]
    try:
        if not _HOLE.search(host_port):
            urlsplit(f"//{host_port}").port  # noqa: B018 (ValueError: a port not a number)
    except ValueError:
        raise ValueError("the URL's host and port do not parse: expected HOST, HOST:PORT or "
                         "[IPv6]:PORT, the port a number up to 65535") from None
    if not written:
        return None
    query = after.partition("?")[2].partition("#")[0]
    if any(name == "password" for name, _ in parse_qsl(query, keep_blank_values=True)):
        raise ValueError("a password is written in the URL (?password=): give it in the user "
                         "info as ${file:PATH} or ${env:NAME}, postgresql://USER:${file:PATH}"
                         "@HOST/DATABASE")
    if hole is None:
        return None
    return int(hole.group(1))


def resolve_later(setting: DatabaseUrl, environ: Mapping[str, str] | None = None
                  ) -> DatabaseUrl:
    """`setting` with its references resolved, for a command that loaded the config without
    its secrets and now opens the store; `setting` itself when they were resolved already.

    Raises:
        SecretMissing: a reference that cannot be resolved.
        ValueError: a URL read whole from a reference that is not a PostgreSQL URL.
    """
    if setting.url is not None:
        return setting
    resolver = SecretResolver() if environ is None else SecretResolver(environ=environ)
    return dataclasses.replace(
        parse_database_url(setting.written, resolver, Path(setting.base_dir)),
        where=setting.where)
