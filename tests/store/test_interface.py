"""The store's one public interface (router/store/interface.py): nothing outside store/
touches a database connection, and the SQLite classes satisfy the Protocols (issue 14 item 3).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from router.store import interface, postgres, sqlite
from tests.store.conftest import Backend

ROUTER = Path(__file__).resolve().parent.parent.parent / "router"

READS = (interface.OutboxReader, interface.OverridesReader, interface.RetentionReader,
         interface.ChecksReader, interface.NodesReader, interface.SecretsReader)
WRITES = (interface.OutboxWriter, interface.OverridesWriter, interface.RetentionWriter,
          interface.ChecksWriter, interface.NodesWriter, interface.SecretsWriter)


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


async def test_both_backends_classes_are_the_interface_s_protocols(backend: Backend) -> None:
    """mypy checks the signatures (`sqlite.conforms`, `postgres.conforms`, in `make lint`);
    this checks, on a real store of each backend, that every member the Protocols name is
    there, views included."""
    store = await backend.open()
    conforms = postgres.conforms if backend.name == "postgresql" else sqlite.conforms
    try:
        assert isinstance(store, interface.Store)

        def views(reader: object) -> tuple[object, ...]:
            assert isinstance(reader, interface.Reader)
            return (reader, reader.outbox, reader.overrides, reader.retention, reader.checks,
                    reader.nodes, reader.secrets)

        read = await store.read(views)
        written = await store.write(views)
        assert conforms(store, *read[:1], *written[:1]) == (  # type: ignore[arg-type]
            store, read[0], written[0])
    finally:
        await store.close()
    assert [isinstance(view, protocol) for view, protocol in zip(read[1:], READS, strict=True)] \
        == [True] * len(READS)
    assert [isinstance(view, protocol) for view, protocol in zip(read[1:], WRITES, strict=True)] \
        == [False] * len(WRITES), "a Reader's views do not write"
    assert isinstance(written[0], interface.Transaction)
    assert all(isinstance(view, protocol)
               for view, protocol in zip(written[1:], WRITES, strict=True))


@pytest.mark.parametrize("module", ["interface.py", "values.py"])
def test_the_interface_names_no_database(module: str) -> None:
    """No sqlite3, and no connection or cursor in any signature or value: a second backend
    implements the same Protocols with the same values."""
    tree = ast.parse((ROUTER / "store" / module).read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom)}
    assert not any("sqlite" in name for name in imported)
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    names |= {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    names |= {node.arg for node in ast.walk(tree) if isinstance(node, ast.arg)}
    assert not {name for name in names
                if any(word in name.lower() for word in ("connection", "cursor", "sqlite"))}
