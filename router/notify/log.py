"""Log channel: writes notifications to the daemon's log (room: notify).

Needs no outside service, so the example config works on a machine with no network.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    level: Literal["debug", "info", "warning", "error"] = "info"
