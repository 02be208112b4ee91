"""The `jobs` section -> model (room: config): each batch job's service, timeout and
severity, every value checked at its own place (`jobs[0].timeout`), and the service each
names checked to exist.

Jobs created over the API (`POST /v1/jobs`) are the store's; a config job's id wins over
nothing: the API refuses an id the config declares.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any

from router.config.build.context import Context
from router.config.load import Source
from router.config.model import Config, Job
from router.config.values import parse_positive_duration
from router.errors import Problem


def job(context: Context, data: dict[str, Any], source: Source) -> Job:
    values: dict[str, Any] = {key: data[key] for key in ("service", "severity", "description")
                              if key in data}
    if "timeout" in data:
        values["timeout"] = context.parse(parse_positive_duration, data, source, "timeout")
    return Job(id=data["id"], where=context.place(source), **values)


def check_services(config: Config) -> Iterator[Problem]:
    """A job's service must be one the config declares."""
    for item in config.jobs.values():
        if item.service is not None and item.service not in config.services:
            close = difflib.get_close_matches(item.service, list(config.services), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            yield Problem(item.where, "service",
                          f"unknown service {item.service!r}{hint}")
