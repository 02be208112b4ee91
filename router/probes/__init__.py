"""Local health checks' probes and their runner (room: probes; imports config.model, core,
engine, notify.transport, notify.wire, clock, errors; the only importer of psutil).

A probe measures one check once and returns a `core.checks.Reading`; the host, network and
command probes block (psutil, a TCP connect, a child process) and run in a worker thread,
the http probe awaits the notify transport. `runner.py` runs each check every `interval`
under its `timeout` and hands the reading to the engine (engine/checks.py), which grades it,
keeps the run and opens or resolves the check's alert.
"""

from __future__ import annotations

from collections.abc import Callable

from router.config.model import Check
from router.core.checks import Reading
from router.probes import command, host, network

BLOCKING: dict[str, Callable[[Check], Reading]] = {
    "cpu": host.cpu, "memory": host.memory, "disk": host.disk, "process": host.process,
    "network": network.connect, "command": command.run,
}
"""The probes run in a worker thread, by check type (http is async: probes/http.py)."""
