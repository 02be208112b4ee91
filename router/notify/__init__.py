"""The explicit registry of outbound channels (room: notify).

A new channel is one module here, one schema file in schemas/channels/ and one line below.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType

from router.notify import email, log, pagerduty, slack, webhook

CHANNELS: Mapping[str, ModuleType] = {
    "pagerduty": pagerduty,
    "slack": slack,
    "email": email,
    "webhook": webhook,
    "log": log,
}
