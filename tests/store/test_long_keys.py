"""Dedup keys as long as the limits let an alert bring, on both backends (issue 18
follow-up 5): a PostgreSQL B-tree entry holds at most about 2,700 bytes, and
`incidents_open_key`, `incidents_by_key` and `alerts_repeat` index the dedup key. A sender's
own key is bounded only by the request body (1 MiB); a service's template renders label
values of up to 16 KiB each. Router keeps a key longer than core.incidents.DEDUP_KEY_BYTES
as its head and its SHA-256, the same on both backends, so equal keys stay one incident."""

from __future__ import annotations

import secrets
import textwrap
from pathlib import Path

from router.alerts.model import Alert, Severity, Status
from router.clock import FixedClock
from router.config import load_config
from router.config.model import AlertLimits
from router.core.incidents import DEDUP_KEY_BYTES
from router.engine import Engine
from router.store import interface
from router.store.records import Reader
from tests.store.histories import NOW

CONFIG = """
channels: [{id: log, type: log}]
services:
  - {id: api, channels: [log], dedup_key: "{{ labels.key }}"}
routes: [{service: api}]
"""
BODY_BYTES = 1024 * 1024  # server/http.py's max_body_bytes: what bounds a sender's key


def alert(status: Status = Status.FIRING, *, own: str | None = None, **labels: str) -> Alert:
    return Alert(summary="Disk full", source="native", severity=Severity.CRITICAL,
                 status=status, dedup_key=own, labels={"alertname": "DiskFull", **labels})


async def test_the_longest_keys_the_limits_allow_open_attach_and_resolve(
        store: interface.Store, tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(textwrap.dedent(CONFIG))
    engine = Engine(load_config([tmp_path / "config.yaml"]), store, FixedClock(NOW))
    own = secrets.token_hex(BODY_BYTES // 2 - 1024)  # hex: as long as a body holds
    rendered = secrets.token_hex(AlertLimits().label_value_bytes // 2)  # 16 KiB, rendered
    assert len(own) > 1_000_000 and len(rendered) == AlertLimits().label_value_bytes
    first = []
    for each in (alert(own=own), alert(own=own[:-1] + "x"), alert(key=rendered),
                 alert(key=rendered, instance="db2")):
        first += await engine.ingest([each])
    assert [accepted.action for accepted in first] == ["opened", "opened", "opened",
                                                       "updated"]
    assert len({accepted.incident_id for accepted in first}) == 3
    again = await engine.ingest([alert(own=own)]) + await engine.ingest(
        [alert(key=rendered)])
    assert [accepted.incident_id for accepted in again] == [first[0].incident_id,
                                                            first[3].incident_id]
    keys = [accepted.dedup_key for accepted in first]
    assert all(len(key.encode()) <= DEDUP_KEY_BYTES for key in keys)
    assert keys[0].startswith(own[:500]) and keys[0] != keys[1]

    def stored(reader: Reader) -> list[str]:
        return [row[0] for row in reader.connection.execute(
            "SELECT dedup_key FROM alerts ORDER BY id")]
    assert all(len(key.encode()) <= DEDUP_KEY_BYTES
               for key in await store.read(stored))  # type: ignore[arg-type]
    resolved = await engine.ingest([alert(Status.RESOLVED, own=own)])
    assert [accepted.incident_id for accepted in resolved] == [first[0].incident_id]
