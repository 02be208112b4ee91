"""The `users` section and `settings.web` -> model (room: config): who may log in to the
web interface, with which role, and how its sessions are signed and kept.

A `password_hash` must be a hash (config/passwords.py); a plain password written there is
an error at its file and line whose message never repeats it. `session_secret` signs every
session, so it must come from `${file:...}` or `${env:...}`, never the YAML itself.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

from router.config.build.context import Context
from router.config.load import Source
from router.config.model import Config, TrustedProxy, User, WebSettings
from router.config.passwords import parse_hash
from router.config.secrets import REFERENCE
from router.config.values import parse_positive_duration
from router.errors import Problem

MIN_SECRET_LENGTH = 32
"""Anyone who knows the session secret can sign themselves in as any user."""


def user(context: Context, data: dict[str, Any], source: Source) -> User:
    password_hash = data.get("password_hash")
    if password_hash is not None:
        context.parse(parse_hash, data, source, "password_hash")
    return User(name=data["name"], role=data["role"], password_hash=password_hash,
                where=context.place(source))


def web_settings(context: Context, data: dict[str, Any], source: Source) -> WebSettings:
    values: dict[str, Any] = {}
    if "session_secret" in data:
        values["session_secret"] = _session_secret(context, str(data["session_secret"]),
                                                   source.at("session_secret"))
    if (lifetime := context.parse(parse_positive_duration, data, source, "session_lifetime")):
        values["session_lifetime"] = lifetime
    if "trusted_proxy" in data:
        values["trusted_proxy"] = _trusted_proxy(context, data["trusted_proxy"],
                                                 source.at("trusted_proxy"))
    return WebSettings(**values)


def _session_secret(context: Context, value: str, source: Source) -> Any:
    """The secret, if it came from a reference (resolved, or kept as written by
    `validate --no-secrets`); else the problem is reported."""
    referenced = value in context.resolver.references or (
        not context.resolver.resolve and REFERENCE.fullmatch(value) is not None)
    if not referenced:
        context.error(source, "write the session secret as ${file:PATH} or ${env:NAME}, not "
                              "in the config itself (or leave it out: the daemon then keeps "
                              "one in its state directory)")
        return None
    if context.resolver.resolve and len(value) < MIN_SECRET_LENGTH:
        context.error(source, f"a session secret must be at least {MIN_SECRET_LENGTH} "
                              "characters (it signs every login; try `openssl rand -hex 32` "
                              "in a file read with ${file:...})")
    return context.secret(value)


def _trusted_proxy(context: Context, data: dict[str, Any], source: Source) -> TrustedProxy:
    values = {"header": data["header"]} if "header" in data else {}
    header = TrustedProxy(**values).header
    networks = []
    for index, text in enumerate(data.get("from", ())):
        place = source.at("from").at(index)
        try:
            network = ipaddress.ip_network(str(text))
        except ValueError:
            context.error(place, f"expected an address or network such as 10.0.0.5 or "
                                 f"10.0.0.0/24 (host bits zero), got {text!r}")
            continue
        networks.append(network)
        if network.prefixlen == 0:  # router validate --strict makes this an error
            context.problems.append(Problem(
                place.where, place.path, f"{network} is every address: any client that "
                f"reaches router can send {header} and be logged in as any user; list only "
                "the proxy's own addresses", severity="warning"))
    return TrustedProxy(sources=tuple(networks), **values)


def check_users(config: Config) -> Iterator[Problem]:
    """Who could never log in: a trusted proxy's header can only name a declared user, and
    a user without a password hash can come in only through that proxy."""
    proxy = config.settings.web.trusted_proxy
    if proxy is not None and not config.users:
        yield Problem(config.settings.where, "settings.web.trusted_proxy",
                      "a trusted proxy names users, but no `users:` are declared",
                      severity="warning")
    for item in config.users.values():
        if item.password_hash is None and proxy is None:
            yield Problem(item.where, "password_hash", f"user {item.name!r} has no "
                          "password_hash and there is no settings.web.trusted_proxy, so "
                          "they cannot log in (make one with `router passwd`)",
                          severity="warning")
