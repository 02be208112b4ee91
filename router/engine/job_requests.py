"""What a job's runner and its operators send, checked (room: engine; imports config.model,
store values, errors): a run's report, a job to create and an alert target to add, each
from a JSON object, each problem a `BadRequest` naming the field (400 over HTTP, exit 2 in
the CLI). `POST /v1/jobs/{id}/runs`, `POST /v1/jobs`, `POST /v1/jobs/{id}/alerts` and
`router job` share these checks, so both answer the same words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast
from urllib.parse import urlsplit

from router.config.model import JOB_SEVERITIES, Config, Job
from router.engine import fields
from router.errors import BadRequest
from router.store.values import JobStatus

STATUSES: tuple[JobStatus, ...] = ("started", "succeeded", "failed", "timed_out")
OUTPUT_BYTES = 4096
"""How much of a run's output is kept: its last 4 KiB, where the error usually is."""
ALERT_TYPES = ("webhook", "email")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}")
_ADDRESS = re.compile(r"[^@\s<>,;\"]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*")
_RUN_FIELDS = ("run_id", "status", "exit_code", "duration", "output", "started_at", "timeout")
_JOB_FIELDS = ("id", "service", "timeout", "severity", "description")
_ALERT_FIELDS = ("alert_type", "target", "on_failure", "on_timeout", "channel", "created_by")


@dataclass(frozen=True, slots=True, kw_only=True)
class RunReport:
    """One report of a run: it started, or it ended with `status`."""

    run_id: str
    status: JobStatus
    exit_code: int | None = None
    duration: float | None = None
    output: str = ""
    started_at: datetime | None = None
    timeout: timedelta | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertRequest:
    alert_type: Literal["webhook", "email"]
    target: str
    on_failure: bool = True
    on_timeout: bool = True
    channel: str | None = None
    created_by: str = ""


def tail(output: str) -> str:
    """The last OUTPUT_BYTES of `output` (UTF-8), cut at a character boundary."""
    encoded = output.encode("utf-8", "replace")
    if len(encoded) <= OUTPUT_BYTES:
        return output
    return encoded[-OUTPUT_BYTES:].decode("utf-8", "ignore")


def parse_run(body: Mapping[str, Any]) -> RunReport:
    """A run's report from its JSON object.

    Raises:
        BadRequest: naming the first field at fault.
    """
    fields.refuse_unknown(body, _RUN_FIELDS)
    run_id = fields.text(body, "run_id")
    if not _RUN_ID.fullmatch(run_id):
        raise BadRequest("run_id", "expected 1 to 128 letters, digits, '.', '_', ':', '@' or "
                                   f"'-', starting with a letter or digit, got {run_id[:200]!r}")
    status = fields.text(body, "status")
    if status not in STATUSES:
        raise BadRequest("status", f"expected one of: {', '.join(STATUSES)}, got {status!r}")
    exit_code = body.get("exit_code")
    if exit_code is not None and (isinstance(exit_code, bool) or not isinstance(exit_code, int)
                                  or not -255 <= exit_code <= 255):
        raise BadRequest("exit_code", f"expected a whole number from -255 to 255, got "
                                      f"{exit_code!r}")
    if status == "failed" and exit_code == 0:
        raise BadRequest("exit_code", "a failed run's exit code is not 0")
    timeout = fields.seconds(body, "timeout")
    if timeout is not None and timeout <= 0:
        raise BadRequest("timeout", f"expected a number of seconds above 0, got {timeout!r}")
    return RunReport(
        run_id=run_id, status=status, exit_code=exit_code,
        duration=fields.seconds(body, "duration"),
        output=tail(fields.optional_text(body, "output") or ""),
        started_at=_utc(fields.instant(body, "started_at")),
        timeout=None if timeout is None else timedelta(seconds=timeout))


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)


def check_job_id(job_id: str, field: str = "id") -> str:
    if not _ID.fullmatch(job_id):
        raise BadRequest(field, "expected an id of letters, digits, '.', '_' and '-', "
                                f"starting with a letter or digit, got {job_id[:200]!r}")
    return job_id


def parse_job(body: Mapping[str, Any], config: Config) -> Job:
    """A job to create over the API from its JSON object (`timeout` in seconds).

    Raises:
        BadRequest: naming the first field at fault.
    """
    fields.refuse_unknown(body, _JOB_FIELDS)
    job_id = check_job_id(fields.text(body, "id"))
    service = fields.optional_text(body, "service")
    if service is not None and service not in config.services:
        raise BadRequest("service", f"unknown service {service!r}")
    severity = fields.optional_text(body, "severity") or "critical"
    if severity not in JOB_SEVERITIES:
        raise BadRequest("severity", f"expected one of: {', '.join(JOB_SEVERITIES)}, got "
                                     f"{severity!r}")
    timeout = fields.seconds(body, "timeout")
    if timeout is not None and timeout <= 0:
        raise BadRequest("timeout", f"expected a number of seconds above 0, got {timeout!r}")
    return Job(id=job_id, service=service, severity=severity,
               timeout=None if timeout is None else timedelta(seconds=timeout),
               description=fields.optional_text(body, "description") or "")


def parse_alert(body: Mapping[str, Any], config: Config) -> AlertRequest:
    """An alert target from its JSON object: a webhook's http(s) URL or an email address,
    and the channel of that type it goes through (by default the config's first).

    Raises:
        BadRequest: naming the first field at fault.
    """
    fields.refuse_unknown(body, _ALERT_FIELDS)
    alert_type = fields.text(body, "alert_type")
    if alert_type not in ALERT_TYPES:
        raise BadRequest("alert_type", f"expected one of: {', '.join(ALERT_TYPES)}, got "
                                       f"{alert_type!r}")
    target = fields.text(body, "target").strip()
    check_target(alert_type, target)
    channel = fields.optional_text(body, "channel")
    channel_of_type(config, alert_type, channel)
    on_failure, on_timeout = fields.flag(body, "on_failure"), fields.flag(body, "on_timeout")
    if not on_failure and not on_timeout:
        raise BadRequest("on_failure", "a target told of neither failures nor timeouts "
                                       "would never be told anything")
    return AlertRequest(alert_type=cast(Literal["webhook", "email"], alert_type),
                        target=target, on_failure=on_failure, on_timeout=on_timeout,
                        channel=channel,
                        created_by=fields.optional_text(body, "created_by") or "")


def check_target(alert_type: str, target: str) -> None:
    """Raises BadRequest("target") unless `target` is an http(s) URL with a host (webhook)
    or one email address (email)."""
    if alert_type == "email":
        if not _ADDRESS.fullmatch(target):
            raise BadRequest("target", f"expected one email address such as "
                                       f"ops@example.com, got {target[:200]!r}")
        return
    try:
        parts = urlsplit(target)
        port_ok = parts.port is None or parts.port > 0
    except ValueError as error:
        raise BadRequest("target", f"expected an http:// or https:// URL: {error}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok \
            or any(character.isspace() for character in target):
        raise BadRequest("target", "expected an http:// or https:// URL with a host, got "
                                   f"{target[:200]!r}")


def channel_of_type(config: Config, alert_type: str, channel: str | None) -> str:
    """The channel a target of `alert_type` goes through: `channel`, which must be of that
    type, or the config's first of that type.

    Raises:
        BadRequest: naming `channel`, or `alert_type` when the config has none of it.
    """
    if channel is not None:
        found = config.channels.get(channel)
        if found is None or found.type != alert_type:
            known = ", ".join(item.id for item in config.channels.values()
                              if item.type == alert_type) or "it has none"
            article = "an" if alert_type == "email" else "a"
            raise BadRequest("channel", f"expected {article} {alert_type} channel of the "
                                        f"config ({known}), got {channel!r}")
        return channel
    first = next((item.id for item in config.channels.values() if item.type == alert_type),
                 None)
    if first is None:
        raise BadRequest("alert_type", f"the config has no {alert_type} channel to send it "
                                       "through (docs/channels.md)")
    return first
