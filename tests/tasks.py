"""Starting one of router's long-running services (the scheduler, the deliverer) inside a
test's nursery so that the test can stop that service alone.

A test's nursery belongs to the test; cancelling it would end everything else it runs too
(fake receivers, other services). The service runs under a cancel scope of its own instead,
and the test or fixture cancels that scope, as the daemon stops a service.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import trio


async def start_stoppable(nursery: trio.Nursery,
                          service: Callable[..., Awaitable[object]]) -> trio.CancelScope:
    """Start `service(task_status=...)` in `nursery` and wait until it reports started;
    cancelling the returned scope stops it."""
    scope = trio.CancelScope()

    async def run(task_status: trio.TaskStatus[None]) -> None:
        with scope:
            await service(task_status=task_status)

    await nursery.start(run)
    return scope
