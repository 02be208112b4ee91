"""A TCP connection to host:port (room: probes): ICMP needs privileges the hardened unit
does not grant, and a service's port answering says more than a ping. Blocks: runs in a
worker thread."""

from __future__ import annotations

import socket
import time

from router.config.model import Check
from router.core.checks import CheckStatus, Reading


def connect(check: Check) -> Reading:
    """The time to connect in milliseconds; critical when no connection opens."""
    started = time.perf_counter()
    where = f"{check.host}:{check.port}"
    try:
        with socket.create_connection((check.host, check.port),
                                      timeout=check.timeout.total_seconds()):
            elapsed = (time.perf_counter() - started) * 1000
    except OSError as error:
        reason = error.strerror or str(error) or type(error).__name__
        return Reading(status=CheckStatus.CRITICAL,
                       message=f"cannot connect to {where}: {reason}")
    return Reading(metrics={"connect_ms": round(elapsed, 2)},
                   message=f"connected to {where} in {elapsed:.1f} ms")
