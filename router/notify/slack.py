"""Slack incoming-webhook channel (room: notify; imports notify.wire, config.model, errors).

This module holds the channel's settings; rendering and classifying requests come with the
delivery engine. Slack accepts about one webhook message per second, hence the default rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from router.config.model import Secret


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    webhook_url: Secret
    signing_secret: Secret | None = None
    channel: str | None = None
    username: str = "router"
    messages_per_second: float = 1.0
    timeout: timedelta = timedelta(seconds=10)
