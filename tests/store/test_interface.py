"""The store's one public interface (router/store/interface.py): nothing outside store/
touches a database connection, and the SQLite classes satisfy the Protocols (issue 14 item 3).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROUTER = Path(__file__).resolve().parent.parent.parent / "router"


def _connection_uses(path: Path) -> list[str]:
    """`something.connection` read in `path`, by line (an HTTP server's own `connections`
    set and the like are other names)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [f"{path.relative_to(ROUTER.parent)}:{node.lineno}" for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr == "connection"]


def test_no_module_outside_the_store_touches_a_connection() -> None:
    found = [use for path in sorted(ROUTER.rglob("*.py"))
             if "store" not in path.relative_to(ROUTER).parts[:1]
             for use in _connection_uses(path)]
    assert found == [], "go through reader.outbox, transaction.overrides, ... instead"
