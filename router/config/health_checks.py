"""Semantic rules of the `checks:` section, one function per rule (room: config; imports
config.model, errors): thresholds in order, a command that exists and may be run, a URL
router can fetch, a cpu check whose samples fit in its timeout, absolute disk paths, and the
checks and services that checks, routes and services name. config/checks.py runs them with
the others."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator
from urllib.parse import urlsplit

from router.config.model import Config, Thresholds
from router.errors import Problem, Where


def run(config: Config, *, references: bool) -> list[Problem]:
    found = [*check_thresholds(config), *check_commands(config), *check_urls(config),
             *check_samples(config), *check_paths(config)]
    if references:
        found += check_names(config)
    return found


def check_thresholds(config: Config) -> Iterator[Problem]:
    """warning <= critical when higher is worse, warning >= critical when lower is."""
    for check in config.checks.values():
        for name, thresholds in (("", check.thresholds), ("swap.", check.swap),
                                 ("inodes.", check.inodes)):
            if thresholds is not None and _out_of_order(thresholds):
                word = "at least" if thresholds.inverted else "at most"
                yield Problem(check.where, f"{name}warning",
                              f"warning ({thresholds.warning:g}) must be {word} critical "
                              f"({thresholds.critical:g})")


def _out_of_order(thresholds: Thresholds) -> bool:
    warning, critical = thresholds.warning, thresholds.critical
    if warning is None or critical is None:
        return False
    return warning < critical if thresholds.inverted else warning > critical


def check_commands(config: Config) -> Iterator[Problem]:
    """A command check's program exists and is executable (found on PATH when it has no
    slash, as the daemon runs it)."""
    for check in config.checks.values():
        if check.type != "command" or not check.command:
            continue
        program = check.command[0]
        found = shutil.which(program) if os.sep not in program else program
        if found is None or not os.path.isfile(found):
            yield Problem(check.where, "command[0]", f"no program {program!r} "
                          f"{'on PATH' if os.sep not in program else 'there'}")
        elif not os.access(found, os.X_OK):
            yield Problem(check.where, "command[0]", f"{program!r} is not executable "
                          f"(chmod +x, or name its interpreter first)")


def check_urls(config: Config) -> Iterator[Problem]:
    for check in config.checks.values():
        if check.type != "http":
            continue
        parts = urlsplit(check.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            yield Problem(check.where, "url", f"{check.url!r} is not an http:// or https:// "
                          "URL with a host")


def check_paths(config: Config) -> Iterator[Problem]:
    """A disk check's paths are absolute: a relative one would be measured from wherever
    the daemon happened to start."""
    for check in config.checks.values():
        for index, path in enumerate(check.paths if check.type == "disk" else ()):
            if not os.path.isabs(path):
                yield Problem(check.where, f"paths[{index}]", "expected an absolute path "
                              f"such as /var/lib, got {path!r}")


def check_samples(config: Config) -> Iterator[Problem]:
    """A cpu check samples once a second: its samples must fit in its timeout."""
    for check in config.checks.values():
        if check.type == "cpu" and check.samples >= check.timeout.total_seconds():
            yield Problem(check.where, "samples", f"{check.samples} one-second samples do "
                          f"not fit in the timeout of {check.timeout.total_seconds():g}s; lower "
                          "samples or "
                          "raise timeout")


def check_names(config: Config) -> Iterator[Problem]:
    """The checks routes and services attach exist (the service a check names:
    config/checks.py's check_source_services)."""
    holders: Iterable[tuple[Where, tuple[str, ...]]] = [
        *((service.where, service.attach_checks) for service in config.services.values()),
        *((route.where, route.attach_checks) for route in config.routes)]
    for where, names in holders:
        for index, name in enumerate(names):
            if name not in config.checks:
                yield Problem(where, f"attach_checks[{index}]", f"no check with id {name!r}")

