"""`router reload`: ask the running daemon to reload its config (room: cli; imports
cli_support, config, store, errors).

It sends `POST /-/reload` to the daemon's HTTP listener (`--listen`, else the config's
`settings.listen`; over HTTPS when `--listen` says `https://` or the config has
`settings.tls`, trusting exactly the certificates of `--cacert`, else the config's
`settings.tls.cert`), with the bearer token in `$ROUTER_TOKEN` when set, else the admin token
the daemon wrote to its state directory (`--state`, default ./state), and prints what the
daemon answered: the new config's summary, or every problem that kept it out (the daemon
goes on serving the config it had). Exit codes: 0 reloaded; 1 the new config is invalid, or
the daemon refused or failed the request; 2 usage, or no daemon answers at the address.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import httpx

from router.cli.support import EXIT_INVALID, EXIT_OK, EXIT_USAGE, command
from router.config import ConfigInvalid, load_config
from router.config.model import Settings
from router.config.values import parse_listen
from router.errors import Problem, Where
from router.store import DEFAULT_STATE_DIR
from router.store.files import ADMIN_TOKEN_FILE, read_admin_token

TOKEN_VARIABLE = "ROUTER_TOKEN"
TIMEOUT = 60.0  # seconds: the daemon answers once a large config has loaded
_EXITS = ("exit status: 0 reloaded; 1 the new config is invalid (the daemon keeps the old "
          "one) or the daemon refused; 2 usage, or no daemon answers at the address.")


def add_commands(commands: Any) -> None:
    """Register `reload` on the CLI's subparsers."""
    reload = command(commands, "reload", "make the running daemon reload its config now",
                     exits=_EXITS)
    reload.add_argument("--listen", metavar="HOST:PORT",
                        help="the daemon's HTTP listener (default: settings.listen of the "
                             "config)")
    reload.add_argument("--config", action="append", metavar="DIR|FILE",
                        help="where to read settings.listen (default: config); may repeat")
    reload.add_argument("--cacert", type=Path, metavar="PEM",
                        help="over HTTPS, trust exactly these certificates (default: the "
                             "config's settings.tls.cert, the one the daemon serves)")
    reload.add_argument("--state", type=Path, default=DEFAULT_STATE_DIR, metavar="DIR",
                        help=f"the daemon's state directory, whose {ADMIN_TOKEN_FILE} is "
                             f"sent unless ${TOKEN_VARIABLE} is set (default: "
                             f"{DEFAULT_STATE_DIR})")
    reload.set_defaults(handler=run_reload)


def run_reload(arguments: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        target = _target(arguments, err)
        verify = True if target.cacert is None else _pinned(target.cacert)
    except ValueError as error:
        print(f"router reload: {error}", file=err)
        return EXIT_USAGE
    url = target.url
    try:
        token = os.environ.get(TOKEN_VARIABLE) or read_admin_token(arguments.state) or ""
    except OSError as error:
        print(f"router reload: cannot read the admin token in {arguments.state}: "
              f"{error.strerror}; run as the daemon's user or set {TOKEN_VARIABLE}", file=err)
        return EXIT_INVALID
    headers = {"authorization": f"Bearer {token}"} if token else {}
    try:
        with httpx.Client(timeout=TIMEOUT, trust_env=False, verify=verify) as client:
            response = client.post(url, headers=headers)
    except httpx.ConnectError as error:
        print(f"router reload: no daemon answers at {url} ({error}); is `router run` "
              "running, and is this its --listen address?", file=err)
        return EXIT_USAGE
    except httpx.HTTPError as error:
        print(f"router reload: {url}: {type(error).__name__}: {error}", file=err)
        return EXIT_INVALID
    return _report(response, url, out, err)


@dataclass(frozen=True, slots=True)
class _Target:
    url: str
    cacert: Path | None  # None: plain HTTP, or HTTPS with the host's trust store


def _target(arguments: argparse.Namespace, err: TextIO) -> _Target:
    """Where to send the reload, and over HTTPS which certificates to trust."""
    listen: str | None = arguments.listen
    scheme = "http"
    if listen is not None and "://" in listen:
        scheme, _, listen = listen.partition("://")
        if scheme not in ("http", "https"):
            raise ValueError(f"--listen: expected http:// or https://, got {scheme}://")
    settings = None
    if listen is None or (scheme == "https" and arguments.cacert is None):
        settings = _configured_settings(arguments.config, err)
    if listen is None:
        listen = settings.listen if settings else Settings().listen
        scheme = "https" if settings and settings.tls else "http"
    cacert = arguments.cacert
    if scheme == "https" and cacert is None and settings and settings.tls:
        cacert = Path(settings.tls.certificate)
    return _Target(reload_url(listen, scheme=scheme), cacert if scheme == "https" else None)


def _configured_settings(paths: list[str] | None, err: TextIO) -> Settings | None:
    """The config's settings; None when the config cannot be read (it may be the very
    config that is invalid), saying so."""
    try:
        return load_config(paths or ["config"], resolve_secrets=False).settings
    except ConfigInvalid as invalid:
        print(f"router reload: the config here is invalid ({len(invalid.problems)} "
              f"problem(s)), so its settings.listen and settings.tls are unknown; trying "
              f"{Settings().listen} (pass --listen)", file=err)
        return None


def _pinned(cacert: Path) -> ssl.SSLContext:
    """Trust exactly the certificates in `cacert`: the daemon's own certificate (or its
    CA). A certificate trusted by itself names its server already, and the address here is
    the daemon's listener, often a loopback address its certificate does not name: so no
    host name check."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_verify_locations(cafile=str(cacert))
    except (OSError, ssl.SSLError) as error:
        raise ValueError(f"--cacert {cacert}: cannot load certificates from it "
                         f"({getattr(error, 'strerror', None) or error})") from None
    context.check_hostname = False
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    return context


def reload_url(listen: str, *, scheme: str = "http") -> str:
    """The reload URL of a listener; a wildcard address is reached over loopback."""
    host, port = parse_listen(listen)
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:  # a name
        pass
    return f"{scheme}://{host}:{port}/-/reload"


def _report(response: httpx.Response, url: str, out: TextIO, err: TextIO) -> int:
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code == 200 and isinstance(body, dict):
        print(f"reloaded: {body.get('summary', '')}", file=out)
        return EXIT_OK
    if response.status_code == 400 and isinstance(body, dict) and "problems" in body:
        problems = [_problem(item) for item in body["problems"]]
        for problem in problems:
            print(problem, file=err)
        errors = sum(problem.severity == "error" for problem in problems)
        print(f"config invalid: {errors} problem{'' if errors == 1 else 's'}; the daemon "
              "keeps serving its previous config", file=err)
        return EXIT_INVALID
    if response.status_code in (401, 403):
        print(f"router reload: {url} refused the token: set {TOKEN_VARIABLE} to a token "
              f"with the admin scope, or pass the daemon's --state (its {ADMIN_TOKEN_FILE})",
              file=err)
        return EXIT_INVALID
    print(f"router reload: {url} answered {response.status_code}: "
          f"{response.text.strip()[:500]}", file=err)
    return EXIT_INVALID


def _problem(item: Any) -> Problem:
    """A problem as the daemon's JSON gives it back."""
    if not isinstance(item, dict):
        return Problem(Where(""), "", str(item))
    where = Where(str(item.get("file", "")), int(item.get("line") or 0),
                  int(item.get("column") or 0))
    path, message = str(item.get("path", "")), str(item.get("message", ""))
    if item.get("severity") == "warning":
        return Problem(where, path, message, "warning")
    return Problem(where, path, message)
