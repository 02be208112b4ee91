"""The `heartbeats` section -> model (room: config): each heartbeat's period or cron
schedule, grace, timezone, ping token and alert matchers, every value checked at its own
place (`heartbeats[0].schedule`); the service each names is checked to exist with every
other reference (config/checks.py).

Schedules are parsed here by the same library the core runs them with (cronsim), so
`router validate` rejects one the daemon could not run. Only the five fields of cron are
accepted (cronsim also reads a sixth, seconds, which cron has not).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cronsim import CronSim, CronSimError

from router.config.build.context import Context
from router.config.load import Source
from router.config.model import Heartbeat, Secret, frozen_mapping
from router.config.values import parse_positive_duration, parse_timezone

MIN_TOKEN_LENGTH = 16
"""A ping URL's token is its only credential: shorter ones could be guessed."""
_PROBE = datetime(2000, 1, 1, tzinfo=UTC)
"""Where a schedule is tried from to check it runs at all (any instant would do)."""


def heartbeat(context: Context, data: dict[str, Any], source: Source) -> Heartbeat:
    values: dict[str, Any] = {key: data[key] for key in ("severity", "summary") if key in data}
    for key in ("period", "grace"):
        if key in data:
            values[key] = context.parse(parse_positive_duration, data, source, key)
    if "timezone" in data:
        values["timezone"] = context.parse(parse_timezone, data, source, "timezone")
    else:
        values["timezone"] = context.settings.timezone
    if "schedule" in data:
        values["schedule"] = _schedule(context, str(data["schedule"]), source.at("schedule"))
    if "token" in data:
        values["token"] = _token(context, data["token"], source.at("token"))
    _one_timing(context, data, source)
    if "token" not in data and not data.get("match"):
        context.error(source, "a heartbeat needs a `token` (its ping URL's secret) or a "
                              "`match` (alerts that feed it), or nothing can ping it")
    return Heartbeat(id=data["id"], service=data["service"],
                     match=frozen_mapping({str(name): str(value) for name, value
                                           in (data.get("match") or {}).items()}),
                     where=context.place(source),
                     **{key: value for key, value in values.items() if value is not None})


def _one_timing(context: Context, data: dict[str, Any], source: Source) -> None:
    if "period" in data and "schedule" in data:
        context.error(source.at("schedule"), "give `period` or `schedule`, not both")
    elif "period" not in data and "schedule" not in data:
        context.error(source, "expected `period` (a duration such as 1h) or `schedule` "
                              "(cron, such as '0 2 * * *')")
    if "timezone" in data and "schedule" not in data:
        context.error(source.at("timezone"), "a timezone applies to a `schedule` only")


def _schedule(context: Context, text: str, source: Source) -> str | None:
    """The schedule if it parses and ever runs; else None, with the problem reported."""
    fields = len(text.split())
    if fields != 5:
        context.error(source, f"expected a cron schedule of 5 fields (minute hour "
                              f"day-of-month month day-of-week), got {fields}: {text!r}")
        return None
    try:
        next(CronSim(text, _PROBE))
    except CronSimError as error:
        context.error(source, f"{text!r} is not a cron schedule: {error} (expected 5 fields "
                              "such as '0 2 * * *' or '*/15 * * * 1-5')")
        return None
    except StopIteration:
        context.error(source, f"the schedule {text!r} never runs")
        return None
    return text


def _token(context: Context, text: str, source: Source) -> Secret:
    """The token; its length is checked only once resolved (`validate --no-secrets` keeps
    `${env:NAME}` as written)."""
    secret = context.secret(text)
    if context.resolver.resolve and len(secret.reveal()) < MIN_TOKEN_LENGTH:
        context.error(source, f"a ping token must be at least {MIN_TOKEN_LENGTH} characters "
                              "(it is the URL's only credential; try `openssl rand -hex 16` "
                              "in a file read with ${file:...})")
    return secret
