"""A web user's actions land in the incident's timeline under their name (issue 22 item 3):
the engine on a real SQLite store, acting as `actor(principal_of(user))`."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

from router.alerts.model import Alert, Severity
from router.clock import FixedClock
from router.config import load_config
from router.config.model import User
from router.engine import Engine
from router.store import Store
from router.web.auth.principal import actor, principal_of

NOW = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
CONFIG = """
channels: [{id: log, type: log}]
escalation_policies:
  - {id: one, levels: [{targets: [{channel: log}], delay: 5m}]}
services: [{id: api, escalation_policy: one, channels: [log]}]
routes: [{service: api}]
"""


async def test_acknowledge_and_note_are_recorded_with_the_user_s_name(tmp_path: Path) -> None:
    (tmp_path / "router.yaml").write_text(textwrap.dedent(CONFIG))
    store = await Store.open(tmp_path / "router.db", synchronous="NORMAL")
    try:
        engine = Engine(load_config([tmp_path / "router.yaml"]), store, FixedClock(NOW))
        await engine.ingest([Alert(summary="Disk full", source="native",
                                   severity=Severity.CRITICAL, labels={"alertname": "Disk"})])
        ann = actor(principal_of(User(name="ann", role="respond")))
        await engine.acknowledge("INC1", ann)
        await engine.add_note("INC1", "pool restarted", ann)
        detail = await engine.incident("INC1")
    finally:
        await store.close()
    assert detail is not None
    assert [(entry.actor, entry.action) for entry in detail.timeline[-2:]] == [
        ("web:ann", "acknowledged"), ("web:ann", "note")]
