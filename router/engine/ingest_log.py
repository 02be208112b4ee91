"""Ingest's INFO line, `alerts accepted`, written at most once a second (room: engine).

A JSON log line costs about 20 µs of CPU (40 on a busy core), as much as the rest of
accepting an alert before the store (issue 15's budget is 60-70 µs a request), and at
10,000 requests a second a line per request is a flood into the journal. So a request
accepted when no line was written in the last `period` is logged at once, with its own
`trace_id`, as before; those that follow within the period are tallied, and the tally is
written as one line (`count`, `actions`, `requests`) when the period ends (`run`) or at the
next request after it. A quiet daemon logs every request; a busy one logs twice a second.
The line per alert (`alert accepted`, with its incident) stays at DEBUG.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable

import trio

logger = logging.getLogger("router.engine.core")


class IngestLog:
    """The tally of accepted alerts not yet logged, and when a line was last written."""

    def __init__(self, period: float = 1.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.period = period
        self._monotonic = monotonic
        self._last = -math.inf
        self._requests = 0
        self._actions: dict[str, int] = {}
        self._trace_id: str | None = None

    def accepted(self, actions: Iterable[str], trace_id: str | None) -> None:
        """Count one request's alerts by action; write the line if one is due."""
        for action in actions:
            self._actions[action] = self._actions.get(action, 0) + 1
        self._requests += 1
        self._trace_id = trace_id
        if self._monotonic() - self._last >= self.period:
            self.flush()

    def flush(self) -> None:
        """Write the tally, if any, as one line."""
        if not self._requests:
            return
        extra: dict[str, object] = {"count": sum(self._actions.values()),
                                    "actions": self._actions}
        if self._requests == 1:
            extra["trace_id"] = self._trace_id
        else:
            extra["requests"] = self._requests
        logger.info("alerts accepted", extra=extra)
        self._last = self._monotonic()
        self._requests, self._actions, self._trace_id = 0, {}, None

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        """Write the tally at the end of each period, and once more when cancelled (so
        the daemon's last requests are in the log before its `stopped` line)."""
        task_status.started()
        try:
            while True:
                await trio.sleep(self.period)
                self.flush()
        finally:
            self.flush()
