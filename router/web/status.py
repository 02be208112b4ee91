"""What the status page shows of the daemon (room: web).

The daemon owns these facts (its reloader, its listeners, its state directory); it hands the
web room a `StatusSource` that gathers them at each request, so the page shows the moment's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class DaemonStatus:
    version: str
    revision: str  # a digest of the config files' contents as loaded
    files: tuple[str, ...]
    last_reload: datetime | None
    reloads: int = 0
    reload_failures: int = 0
    reload_errors: tuple[str, ...] = ()  # the last reload's problems, when it failed
    store: str = ""
    listeners: tuple[str, ...] = ()


StatusSource = Callable[[], Awaitable[DaemonStatus]]
