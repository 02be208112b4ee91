"""Generic JSON webhook channel (room: notify; imports notify.wire, config.model, errors).

This module holds the channel's settings; rendering and classifying requests come with the
delivery engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from router.config.model import Secret, frozen_mapping


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """`body` is a Jinja2 template; None sends the documented default JSON body."""

    url: str
    method: Literal["POST", "PUT"] = "POST"
    headers: Mapping[str, str] = field(default_factory=frozen_mapping)
    hmac_secret: Secret | None = None
    signature_header: str = "X-Router-Signature"
    body: str | None = None
    timeout: timedelta = timedelta(seconds=10)
