"""The daemon (room: daemon): the composition root (`root.py`), reloads, metrics, logs,
systemd integration. The only room that may import every other."""

from router.daemon.root import Options, StartFailed, run

__all__ = ["Options", "StartFailed", "run"]
