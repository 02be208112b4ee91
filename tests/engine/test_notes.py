"""Incident notes (issue 16 item 7): a line of the timeline with its author; nothing else
changes. The engine on a real SQLite store."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from router.alerts.model import Alert, Severity, TimelineEntry
from router.clock import FixedClock
from router.config import load_config
from router.engine import Engine
from router.engine.notes import MAX_CHARACTERS
from router.engine.views import detail_json
from router.errors import BadRequest, NotFound
from router.store import Store

NOW = datetime(2026, 12, 5, 9, 30, tzinfo=UTC)
CONFIG = """
channels: [{id: log, type: log}]
escalation_policies:
  - {id: one, levels: [{targets: [{channel: log}], delay: 5m}]}
services: [{id: api, escalation_policy: one, channels: [log]}]
routes: [{service: api}]
"""


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    (tmp_path / "router.yaml").write_text(textwrap.dedent(CONFIG))
    store = await Store.open(tmp_path / "router.db", synchronous="NORMAL")
    engine = Engine(load_config([tmp_path / "router.yaml"]), store, FixedClock(NOW))
    await engine.ingest([Alert(summary="Disk full", source="native",
                               severity=Severity.CRITICAL, labels={"alertname": "DiskFull"})])
    yield engine
    await store.close()


async def test_a_note_is_a_timeline_line_with_its_author_and_changes_nothing_else(
        engine: Engine) -> None:
    before = await engine.incident("INC1")
    timers = await engine.store.write(lambda transaction: transaction.timers_of(1))
    entry = await engine.add_note("inc1", "  restarted the pool\n", "cli:ann")
    assert entry == TimelineEntry(at=NOW, actor="cli:ann", action="note",
                                  details={"text": "restarted the pool"})
    after = await engine.incident("INC1")
    assert before is not None and after is not None
    assert after.incident == before.incident
    assert after.timeline == (*before.timeline, entry)
    assert await engine.store.write(lambda transaction: transaction.timers_of(1)) == timers
    assert detail_json(after)["timeline"][-1] == {
        "at": "2026-12-05T09:30:00+00:00", "actor": "cli:ann", "action": "note",
        "details": {"text": "restarted the pool"}}


async def test_a_resolved_incident_takes_notes(engine: Engine) -> None:
    await engine.resolve("INC1", "cli:ann")
    await engine.add_note("INC1", "root cause: a full disk", "api:ann")
    detail = await engine.incident("INC1")
    assert detail is not None and detail.timeline[-1].action == "note"


@pytest.mark.parametrize(("text", "message"), [
    ("", "is empty: write what was done or found"),
    (" \n\t", "is empty: write what was done or found"),
    ("x" * (MAX_CHARACTERS + 1), "is 4001 characters long; a note may have at most 4000"),
])
async def test_an_empty_or_oversized_note_is_refused(engine: Engine, text: str,
                                                     message: str) -> None:
    with pytest.raises(BadRequest) as refused:
        await engine.add_note("INC1", text, "cli:ann")
    assert (refused.value.field, refused.value.message) == ("text", message)
    await engine.add_note("INC1", "y" * MAX_CHARACTERS, "cli:ann")  # the limit itself is fine


async def test_an_unknown_incident_or_no_author_is_refused(engine: Engine) -> None:
    with pytest.raises(NotFound, match="no incident INC9"):
        await engine.add_note("INC9", "restarted", "cli:ann")
    with pytest.raises(BadRequest, match="a note needs its author"):
        await engine.add_note("INC1", "restarted", " ")
