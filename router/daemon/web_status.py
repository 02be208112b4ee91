"""The facts the web interface's status page shows, gathered by the daemon that owns them
(room: daemon): version, config revision and files, reloads, store path, listeners."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import trio

from router import __version__
from router.daemon.reload import Reloader
from router.web.status import DaemonStatus, StatusSource


def revision(files: Sequence[str]) -> str:
    """The first 12 hex digits of a SHA-256 over the config files as they are on disk
    (names and contents): it changes when any file does; "unreadable" if one cannot be read."""
    digest = hashlib.sha256()
    for name in files:
        try:
            content = Path(name).read_bytes()
        except OSError:
            return "unreadable"
        digest.update(name.encode() + b"\0" + content + b"\0")
    return digest.hexdigest()[:12]


def status_source(reloader: Reloader, store: str,
                  listeners: Callable[[], Sequence[str]]) -> StatusSource:
    """Gathers a DaemonStatus at each call (the files are read in a worker thread). `store`
    names the store: its path, or its URL without user, password or query."""
    async def gather() -> DaemonStatus:
        config = reloader.engine.config
        status = reloader.status
        return DaemonStatus(
            version=__version__, files=config.files,
            revision=await trio.to_thread.run_sync(revision, config.files),
            last_reload=status.last_failure if not status.last_ok else status.last_success,
            reloads=status.successes, reload_failures=status.failures,
            reload_errors=tuple(str(problem) for problem in status.last_problems),
            store=store, listeners=tuple(listeners()))
    return gather
