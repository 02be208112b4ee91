"""The `jobs` section -> model (room: config): each batch job's service, timeout and
severity, every value checked at its own place (`jobs[0].timeout`); the service each names
is checked to exist with every other reference (config/checks.py).

Jobs created over the API (`POST /v1/jobs`) are the store's; a config job's id wins over
nothing: the API refuses an id the config declares.
"""

from __future__ import annotations

from typing import Any

from router.config.build.context import Context
from router.config.load import Source
from router.config.model import Job
from router.config.values import parse_positive_duration


def job(context: Context, data: dict[str, Any], source: Source) -> Job:
    values: dict[str, Any] = {key: data[key] for key in ("service", "severity", "description")
                              if key in data}
    if "timeout" in data:
        values["timeout"] = context.parse(parse_positive_duration, data, source, "timeout")
    return Job(id=data["id"], where=context.place(source), **values)
