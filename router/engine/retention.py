"""The store's retention, on a schedule (room: engine; imports store, clock).

Once an INTERVAL (and at start), everything the store may forget is pruned
(store/retention.py: resolved incidents older than `settings.retention` with all that belongs
to them; loose alerts, finished notices, notices' deliveries and ended silences as old), then
the pages that freed are given back to the file system. Each batch and each page run is its
own unit of work, small enough that an ingest committed beside it hardly waits: a pass over
months of history is many short transactions, never one long one. The retention is read from
the config snapshot at each pass, so a reload applies at the next one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

import trio

from router.engine.core import Engine
from router.errors import StoreUnavailable
from router.store.retention import Pruned

logger = logging.getLogger(__name__)

INTERVAL = timedelta(hours=1)
"""How often the task prunes."""
BATCH = 100
"""Incidents per transaction (and rows of each loose kind)."""
RECLAIM_PAGES = 256
"""Free pages given back per transaction (1 MiB at SQLite's default page size): about 10 ms
of work, so an ingest committed beside it hardly waits (bench/bench_store_size.py)."""


class Retention:
    def __init__(self, engine: Engine, *, interval: timedelta = INTERVAL,
                 batch: int = BATCH) -> None:
        self._engine = engine
        self._interval = interval
        self._batch = batch
        self.on_pruned: Callable[[Pruned], None] = lambda pruned: None
        """Called after a pass that removed something (tests, metrics)."""

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        """Prune now and once an interval, until cancelled. A pass that fails (a full disk)
        is logged and tried again at the next interval."""
        task_status.started()
        while True:
            try:
                await self.prune_once()
            except StoreUnavailable:
                pass  # the store logs its own failures, once per cause every 10 s
            except Exception:
                logger.exception("pruning the store failed; trying again in %s",
                                 self._interval)
            await trio.sleep(self._interval.total_seconds())

    async def prune_once(self) -> Pruned:
        """One pass: batch after batch until nothing older than the cutoff is left, then
        the freed pages. Returns what it removed."""
        store = self._engine.store
        cutoff = self._engine.clock.now() - self._engine.snapshot.config.settings.retention
        total = Pruned()
        while True:
            batch = await store.write(
                lambda transaction: transaction.retention.prune(cutoff, self._batch))
            total += batch
            if not batch.rows:
                break
        pages = 0
        while freed := await store.write(
                lambda transaction: transaction.retention.reclaim(RECLAIM_PAGES)):
            pages += freed
        if total.rows:
            logger.info("store pruned", extra={
                **total.counts(), "pages_freed": pages, "cutoff": cutoff.isoformat()})
            self.on_pruned(total)
        return total
