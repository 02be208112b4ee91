"""The explicit registry of outbound channels (room: notify).

A new channel is one module here, one schema file in schemas/channels/ and one line below;
mypy checks that the module satisfies `Channel` (router/notify/contract.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from router.notify import email, log, pagerduty, slack, webhook
from router.notify.contract import Channel

CHANNELS: Mapping[str, Channel[Any, Any]] = {
    "pagerduty": pagerduty,
    "slack": slack,
    "email": email,
    "webhook": webhook,
    "log": log,
}

__all__ = ["CHANNELS", "Channel"]
