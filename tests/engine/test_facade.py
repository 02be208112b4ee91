"""The engine is a composition over one explicit state, and code outside it uses the facade's
narrow accessors (`config`, `now()`, `routing_keys`, `check_writable()`) instead of reaching
through `engine.store`, `engine.snapshot` or `engine.clock` (issue 14 item 4)."""

from __future__ import annotations

import re
import textwrap
from datetime import UTC, datetime
from pathlib import Path

from router.clock import FixedClock
from router.config import load_config
from router.engine import Engine
from router.store import Store

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
BEFORE = "people:\n  - {id: ann}\n"
AFTER = "people:\n  - {id: ann}\n  - {id: ben}\n"
ROUTER = Path(__file__).resolve().parents[2] / "router"
REACH = re.compile(r"\bengine\.(store|snapshot|clock)\b")
ALLOWED: set[tuple[str, str]] = {  # (file under router/, text of the line)
    # `router test` builds its own Snapshot of a config (no engine, no store): it imports
    # the module, it does not reach into an engine's state
    ("cli/cases.py", "from router.engine.snapshot import Snapshot"),
    # `router replay` likewise builds a Snapshot of each config it replays against
    ("replay/simulation.py", "from router.engine.snapshot import Snapshot, render_key"),
}


async def test_every_use_case_sees_the_one_state_and_a_reload(tmp_path: Path) -> None:
    (tmp_path / "before.yaml").write_text(textwrap.dedent(BEFORE))
    (tmp_path / "after.yaml").write_text(textwrap.dedent(AFTER))
    store = await Store.open(tmp_path / "router.db")
    try:
        engine = Engine(load_config([tmp_path / "before.yaml"]), store, FixedClock(NOW),
                        new_id=lambda: "0" * 26)
        assert engine.escalation.state is engine.state
        assert engine.handoffs.state is engine.state
        assert engine.silencing.state is engine.state
        assert engine.escalation.handoffs is engine.handoffs
        assert (sorted(engine.config.people), engine.now(), engine.new_id()) == (
            ["ann"], NOW, "0" * 26)
        engine.use_config(load_config([tmp_path / "after.yaml"]))
        assert sorted(engine.escalation.state.snapshot.config.people) == ["ann", "ben"]
        assert engine.config is engine.silencing.state.snapshot.config
        assert await engine.check_writable() is None
    finally:
        await store.close()


def test_no_code_outside_the_engine_reaches_into_its_state() -> None:
    reaches = []
    for path in sorted(ROUTER.rglob("*.py")):
        relative = path.relative_to(ROUTER).as_posix()
        if relative.startswith("engine/"):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            allowed = any(relative == where and text in line for where, text in ALLOWED)
            if REACH.search(line) and not allowed:
                reaches.append(f"router/{relative}:{number}: {line.strip()}")
    assert reaches == []
