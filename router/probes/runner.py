"""Runs every configured check on its interval (room: probes), started by the daemon.

Each check has a task of its own that runs it, hands the reading to the engine
(`engine.checks.record`) and sleeps until its next turn, so a slow check delays only
itself. A blocking probe runs in a worker thread (at most `THREADS` at once) that is
abandoned if it outlives the check's timeout, so a hung NFS mount or a stuck process table
never blocks the event loop, the other checks or shutdown; the http probe awaits the notify
transport on the loop. A run that fails or times out is recorded as `unknown` with the
error. A reload that changes the checks restarts the tasks with the new ones.
"""

from __future__ import annotations

import logging
import socket
import time
import uuid
from collections.abc import Callable, Mapping

import trio

from router.config.model import Check
from router.core.checks import CheckStatus, Reading
from router.engine import Engine
from router.engine.checks import CheckRun
from router.engine.health import GRACE
from router.errors import StoreError
from router.notify.transport import Transport
from router.probes import BLOCKING, http

logger = logging.getLogger(__name__)
THREADS = 4
"""Blocking probes running at once; an abandoned thread holds its slot until it ends."""
RELOAD_POLL = 1.0
"""How often a task looks for a reloaded config's checks."""


class CheckRunner:
    def __init__(self, engine: Engine, transport: Transport, *, host: str | None = None,
                 threads: int = THREADS,
                 probes: Mapping[str, Callable[[Check], Reading]] = BLOCKING) -> None:
        self.engine = engine
        self.transport = transport
        self.probes = probes
        self.host = host or socket.gethostname()
        self.limiter = trio.CapacityLimiter(threads)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        """Run the config's checks until cancelled, again from the start after a reload
        that changes them."""
        task_status.started()
        while True:
            checks = dict(self.engine.config.checks)
            async with trio.open_nursery() as nursery:
                for check in checks.values():
                    nursery.start_soon(self._every, check)
                nursery.start_soon(self._until_changed, checks, nursery.cancel_scope)

    async def _until_changed(self, checks: Mapping[str, Check], scope: trio.CancelScope
                             ) -> None:
        config = self.engine.config
        while True:
            await trio.sleep(RELOAD_POLL)
            if self.engine.config is not config:
                config = self.engine.config
                if dict(config.checks) != checks:
                    logger.info("checks changed: restarting them",
                                extra={"checks": sorted(config.checks)})
                    scope.cancel()
                    return

    async def _every(self, check: Check) -> None:
        failing = False
        while True:
            due = trio.current_time() + check.interval.total_seconds()
            try:
                await self.run_once(check)
            except StoreError as error:  # a full disk, PostgreSQL down: one line, no traceback
                if not failing:  # once per streak: a full disk must not flood the log
                    logger.error("check %s could not be recorded (%s); trying again every %gs",
                                 check.id, error, check.interval.total_seconds(),
                                 extra={"check": check.id})
                failing = True
            except Exception:  # a bug: its traceback, and the next turn tries again
                if not failing:
                    logger.exception("check %s could not be recorded; trying again every "
                                     "%gs", check.id, check.interval.total_seconds(),
                                     extra={"check": check.id})
                failing = True
            else:
                if failing:
                    logger.info("check %s is recorded again", check.id,
                                extra={"check": check.id})
                failing = False
            await trio.sleep_until(due)

    async def run_once(self, check: Check, trace_id: str | None = None) -> CheckRun:
        """Measure `check` once and record the run (and the alert, if its status changed)."""
        started_at, started = self.engine.now(), time.perf_counter()
        reading, error = await self.measure(check)
        return await self.engine.checks.record(
            check, reading, started_at=started_at,
            duration_ms=(time.perf_counter() - started) * 1000, host=self.host, error=error,
            trace_id=trace_id or uuid.uuid4().hex)

    async def measure(self, check: Check) -> tuple[Reading, str | None]:
        """The probe's reading within the check's timeout, and the error if there was one
        (the reading is then `unknown`, saying why)."""
        seconds = check.timeout.total_seconds()
        with trio.move_on_after(seconds + GRACE):
            try:
                if check.type == "http":
                    reading = await http.fetch(check, self.transport)
                    return reading, reading.error
                reading = await trio.to_thread.run_sync(
                    self.probes[check.type], check, limiter=self.limiter,
                    abandon_on_cancel=True)
                return reading, reading.error
            except Exception as failure:  # a probe's failure is its run's, never the loop's
                error = f"{type(failure).__name__}: {failure}"
                return Reading(status=CheckStatus.UNKNOWN,
                               message=f"the check failed: {error}"), error
        error = f"no result within its timeout of {seconds:g}s"
        return Reading(status=CheckStatus.UNKNOWN, message=error), error
