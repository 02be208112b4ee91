"""The daemon (room: daemon): the composition root (`root.py`), reloads, metrics, logs,
systemd integration. The only room that may import every other."""

from router.daemon.root import Options, run

__all__ = ["Options", "run"]
