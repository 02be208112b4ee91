"""Email channel over SMTP (room: notify; imports notify.wire, config.model, errors).

This module holds the channel's settings; rendering messages comes with the delivery engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from router.config.model import Secret


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """`to` is for channel-level mail; people are mailed at their own addresses."""

    host: str
    sender: str = field(metadata={"key": "from"})
    port: int = 587
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: Secret | None = None
    to: tuple[str, ...] = ()
    timeout: timedelta = timedelta(seconds=30)
