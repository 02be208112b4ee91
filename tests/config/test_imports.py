"""The config package has no import loop and stays light for its readers: importing a module
of `core/` or `alerts/` (which read config.model) loads no Jinja2, no channel and no config
builder, and `router.notify` imports alone. Each check runs in a fresh interpreter, since
this one has imported everything already."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROUTER = Path(__file__).resolve().parents[2] / "router"
HEAVY = ("jinja2", "router.notify", "router.config.build")


def _modules(*rooms: str) -> list[str]:
    names = []
    for room in rooms:
        for path in sorted((ROUTER / room).rglob("*.py")):
            parts = path.relative_to(ROUTER.parent).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def _loaded_after(statement: str) -> list[str]:
    """The heavy modules in sys.modules after `statement` ran in a fresh interpreter."""
    script = (f"{statement}; import sys; print(sorted(m for m in sys.modules "
              f"if m.startswith({HEAVY!r})))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    return list(ast.literal_eval(result.stdout))


@pytest.mark.parametrize("module", _modules("core", "alerts"))
def test_core_and_alerts_import_no_templates_channels_or_builder(module: str) -> None:
    assert _loaded_after(f"import {module}") == []


def test_router_notify_imports_first_without_a_loop() -> None:
    assert "router.notify" in _loaded_after("import router.notify")


def test_config_exposes_load_config_and_loads_the_builder_when_asked() -> None:
    assert "router.config.build" in _loaded_after(
        "from router.config import ConfigInvalid, load_config")
