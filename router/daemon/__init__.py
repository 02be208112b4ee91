"""The daemon (room: daemon): the composition root (`root.py`) with what it opens at start
(`options.py`, `opening.py`, `tls_files.py`), reloads, metrics, logs, systemd integration.
The only room that may import every other."""

from router.daemon.opening import StartFailed
from router.daemon.options import Options
from router.daemon.root import run

__all__ = ["Options", "StartFailed", "run"]
