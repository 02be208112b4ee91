"""PagerDuty Events API v2 channel (room: notify; imports notify.wire, config.model, errors).

This module holds the channel's settings; rendering and classifying requests come with the
delivery engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from router.config.model import Secret, frozen_mapping

DEFAULT_SEVERITY_MAP = {"critical": "critical", "error": "error", "warning": "warning",
                        "info": "none"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """`severity_map` maps router severities to PagerDuty's; "none" is not paged."""

    routing_key: Secret
    url: str = "https://events.pagerduty.com/v2/enqueue"
    severity_map: Mapping[str, str] = field(
        default_factory=lambda: frozen_mapping(DEFAULT_SEVERITY_MAP))
    client: str = "router"
    timeout: timedelta = timedelta(seconds=10)
