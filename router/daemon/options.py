"""What `router run` tells the daemon (room: daemon): where it reads its config, keeps its
state and listens, each given option overriding the config's setting."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from socket import gethostname

from router.config.model import StoreSetting


@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    """Where the daemon reads and listens; `listen`, `socket`, `store` and the TLS
    certificate and key (both or neither) override the config. `node_id` names this daemon
    among the routers that share one PostgreSQL store (`router run --node-id`): the cluster
    table and the deliverer's claims are kept under it."""

    config_paths: Sequence[Path]
    state_dir: Path
    listen: str | None = None
    socket: Path | None = None
    tls_certificate: Path | None = None
    tls_key: Path | None = None
    store: StoreSetting | None = None
    node_id: str = field(default_factory=gethostname)
    """This router's name among those sharing its store (issue 18 D5): `--node-id`, by default
    the host name."""
