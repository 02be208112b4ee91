"""The health page (room: web): every heartbeat and local health check with its state.

Heartbeats read as `GET /v1/heartbeats` does: state (`new`, `up`, `missed`, `failed`), the
last ping and what it said, and the next deadline (when a missing ping becomes an alert).
Checks as `GET /v1/checks`: status (`pending` before the first run), since when, the last
run's message, and when the next run is due (the last start plus the interval). A last
message is the job's own text and is shown escaped, cut to its last 300 characters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from router.config.model import Check
from router.engine import Engine
from router.engine.checks import CheckState
from router.server.routes import Handler, Request, Response
from router.web.render import Renderer


@dataclass(frozen=True, slots=True)
class CheckRow:
    id: str
    check: Check | None  # None: the store remembers it, the config no longer has it
    state: CheckState | None  # None: never run
    next_run: datetime | None


class HealthPages:
    def __init__(self, engine: Engine, renderer: Renderer) -> None:
        self.engine = engine
        self.renderer = renderer

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [("GET", "/ui/health", self.health)]

    async def health(self, request: Request) -> Response:
        checks = self.engine.config.checks
        states = {state.check_id: state for state in await self.engine.checks.states()}
        rows = []
        for check_id in sorted(set(checks) | set(states)):
            check, state = checks.get(check_id), states.get(check_id)
            due = (state.last_run.started_at + check.interval
                   if check is not None and state is not None else None)
            rows.append(CheckRow(check_id, check, state, due))
        return self.renderer.page("health.html", heartbeats=await self.engine.heartbeats.listed(),
                                  checks=rows, span=span)


def span(length: timedelta | None) -> str:
    """A duration as the config writes it: 1h30m, 5m, 45s."""
    if length is None:
        return ""
    seconds, parts = int(length.total_seconds()), []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"
