"""The import table of DESIGN.md, enforced: any other edge between router's modules fails.

Deliberate changes to the table are recorded in docs/design-changes.md.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROUTER = Path(__file__).resolve().parent.parent / "router"

# module prefix -> router modules it may import (prefix match on dotted names)
ALLOWED: dict[str, tuple[str, ...]] = {
    "router.errors": (),
    "router.clock": (),
    "router.config.model": ("router.errors",),
    "router.alerts.model": ("router.errors",),
    "router.config.load": ("router.config.model", "router.config.secrets", "router.errors"),
    "router.config.schema": ("router.config.model", "router.config.load", "router.errors"),
    "router.config.secrets": ("router.config.model", "router.errors"),
    "router.config.values": ("router.config.model", "router.errors"),
    "router.config.checks": ("router.config.model", "router.errors", "router.redaction"),
    "router.config.build": (
        "router.config.model", "router.config.values", "router.config.load",
        "router.config.secrets", "router.config.checks", "router.errors", "router.notify",
    ),
    "router.config": ("router.config", "router.errors"),
    "router.alerts.formats": ("router.alerts.model", "router.errors"),
    "router.core": ("router.core", "router.config.model", "router.alerts.model",
                    "router.errors"),
    "router.store": ("router.config.model", "router.alerts.model", "router.errors"),
    "router.notify.transport": ("router.notify.wire", "router.notify.smtp", "router.errors",
                                "router.redaction"),
    "router.notify.deliver": ("router.notify", "router.store", "router.clock",
                              "router.config.model", "router.alerts.model", "router.errors"),
    "router.notify": ("router.notify", "router.config.model", "router.alerts.model",
                      "router.errors", "router.redaction"),
    "router.engine": ("router.core", "router.store", "router.config.model",
                      "router.alerts.model", "router.clock", "router.errors"),
    "router.server": ("router.engine", "router.roster", "router.alerts.formats",
                      "router.errors", "router.views", "router.lifecycle", "router.links",
                      "router.overrides"),
    "router.cli": ("router", "router.cli_oncall", "router.cli_deliveries", "router.roster",
                   "router.config",
                   "router.core", "router.engine", "router.store", "router.daemon",
                   "router.errors", "router.clock", "router.cli_incidents", "router.views",
                   "router.cli_routes", "router.cli_support", "router.logs"),
    "router.cli_incidents": ("router.cli_support", "router.alerts", "router.config",
                             "router.core", "router.engine", "router.store", "router.views",
                             "router.clock", "router.errors"),
    "router.cli_routes": ("router.cli_support", "router.alerts", "router.config",
                          "router.core", "router.engine", "router.store", "router.views",
                          "router.clock", "router.errors"),
    "router.cli_support": ("router.alerts", "router.config", "router.core", "router.engine",
                           "router.store", "router.views", "router.clock", "router.errors"),
    "router.cli_deliveries": ("router.cli_support", "router.config", "router.engine",
                              "router.store", "router.notify.deliver",
                              "router.notify.transport", "router.views", "router.clock",
                              "router.errors", "router.redaction"),
    "router.cli_store": ("router.cli_support", "router.config", "router.store",
                         "router.views", "router.clock", "router.errors"),
    "router.links": (),
    "router.lifecycle": ("router.engine", "router.alerts.model", "router.errors"),
    "router.cli_lifecycle": ("router.cli_support", "router.config", "router.engine",
                             "router.lifecycle", "router.views", "router.errors"),
    "router.views": ("router.alerts.model", "router.store", "router.errors",
                     "router.redaction"),
    "router.scheduler": ("router.engine", "router.clock", "router.errors"),
    "router.cli_oncall": ("router.cli_support", "router.config", "router.roster",
                          "router.core", "router.clock", "router.errors", "router.engine",
                          "router.store", "router.overrides"),
    "router.roster": ("router.core", "router.config.model", "router.errors"),
    "router.overrides": ("router.roster", "router.core", "router.store", "router.config.model",
                         "router.engine", "router.errors"),
    "router.cli_overrides": ("router.cli_support", "router.overrides", "router.config",
                             "router.engine", "router.store", "router.clock", "router.errors"),
    "router.logs": ("router.config.model", "router.redaction"),
    "router.redaction": (),
    "router.cli_reload": ("router.cli_support", "router.config", "router.store",
                          "router.errors"),
    "router.reload": ("router.config", "router.engine", "router.errors", "router.logs",
                      "router.clock"),
    "router.metrics": ("router.store", "router.alerts.model"),
    "router.daemon": ("router",),
    "router.__main__": ("router.cli",),
    "router": (),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROUTER.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def rule_for(module: str) -> tuple[str, ...]:
    """The most specific entry of ALLOWED whose key is the module or a package above it."""
    keys = [key for key in ALLOWED if module == key or module.startswith(key + ".")]
    return ALLOWED[max(keys, key=len)]


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "router" or name.startswith("router.")}


def room_of(module: str) -> str:
    """`router.store.records` -> `router.store`: a room's modules may use one another."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 2 or module in PACKAGES else module


PACKAGES = {"router.config", "router.alerts", "router.core", "router.store", "router.notify",
            "router.server", "router.engine"}


def allowed(module: str, target: str) -> bool:
    if room_of(module) in PACKAGES and room_of(module) == room_of(target):
        return _within_room(module, target)
    if target == "router" or target == module:
        return module in ("router.daemon", "router.cli", "router.__main__") or target == module
    prefixes = rule_for(module)
    return any(target == prefix or target.startswith(prefix + ".") for prefix in prefixes)


def _within_room(module: str, target: str) -> bool:
    """Inside a room anything goes, except that models stay leaves: config.model and
    alerts.model import nothing of their own room, and alerts.model nothing of formats."""
    if module in ("router.config.model", "router.alerts.model"):
        return False
    return not (module.startswith("router.alerts.formats")
                and not target.startswith(("router.alerts.formats", "router.alerts.model")))


def forbidden_edges() -> list[str]:
    edges = []
    for path in sorted(ROUTER.rglob("*.py")):
        module = module_name(path)
        for target in sorted(imports_of(path)):
            # `from router.x import name` also lists router.x.name: accept when the module
            # router.x itself is allowed.
            parent = target.rsplit(".", 1)[0]
            if not (allowed(module, target) or allowed(module, parent)):
                edges.append(f"{module} -> {target}")
    return edges


def test_every_import_is_allowed_by_the_design() -> None:
    assert forbidden_edges() == []


def test_the_walker_catches_a_forbidden_edge(tmp_path: Path) -> None:
    assert not allowed("router.core.oncall", "router.store")
    assert not allowed("router.config.model", "router.notify")
    assert allowed("router.config.build", "router.notify.slack")
    assert not allowed("router.errors", "router.config.model")
    assert not allowed("router.config.model", "router.config.load")
    assert allowed("router.store", "router.store.records")
    assert not allowed("router.server.http", "router.store")
