"""DESIGN.md's rooms and import rules, enforced: every import of every module under router/,
of router's own modules (absolute or relative) and of the libraries that do I/O, is checked
against the tables below, and each violation is named by file, line and rule.

Deliberate changes to the tables are recorded in docs/design-changes.md.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROUTER = Path(__file__).resolve().parent.parent / "router"

SHARED = ("router.errors",)
"""What every room may import."""

ROOMS: dict[str, tuple[str, ...]] = {
    # room or module -> what it may import of router besides itself and SHARED (prefixes);
    # the most specific key applies
    "router.errors": (),
    "router.clock": (),
    "router.links": (),
    "router.redaction": (),
    "router.sandbox": (),  # the one Jinja2 sandbox: config, engine and notify share it
    "router.config": ("router.redaction",),
    "router.config.model": (),
    "router.config.build": ("router.redaction", "router.sandbox"),
    "router.config.build.channels": ("router.redaction", "router.sandbox",
                                     "router.notify"),  # the channel registry
    "router.alerts": (),
    "router.core": ("router.config.model", "router.alerts.model", "router.alerts.identity"),
    "router.store": ("router.config.model", "router.alerts.model"),
    "router.notify": ("router.config.model", "router.alerts.model", "router.redaction",
                      "router.sandbox", "router.links"),  # links: the incident page's URL
    "router.notify.deliver": ("router.config.model", "router.alerts.model",
                              "router.redaction", "router.store", "router.clock"),
    "router.notify.lane": ("router.config.model", "router.store.outbox"),
    "router.notify.recorder": ("router.store", "router.clock"),
    "router.notify.shipping": ("router.config.model", "router.alerts.model",
                               "router.store.outbox", "router.clock"),
    "router.engine": ("router.core", "router.store", "router.config.model",
                      "router.alerts.model", "router.alerts.identity", "router.clock",
                      "router.redaction", "router.sandbox", "router.analysis"),
    "router.server": ("router.engine", "router.alerts.formats", "router.links"),
    "router.web": ("router.engine", "router.alerts", "router.core", "router.config",
                   "router.links", "router.server.routes", "router.server.api_access",
                   "router.server.alertmanager_matchers"),  # the silence form's matchers
    "router.cli": ("router.config", "router.alerts", "router.core", "router.engine",
                   "router.store", "router.daemon", "router.notify.deliver",
                   "router.notify.transport", "router.clock", "router.redaction",
                   "router.version", "router.migrate", "router.review", "router.replay"),
    "router.migrate": ("router.config", "router.core", "router.alerts"),
    "router.review": ("router.config.model", "router.core", "router.alerts"),
    # `router replay`'s simulation: the engine's pure rules only (its snapshot of the
    # config, expiry's and repeats' decisions), never its store or clock
    "router.replay": ("router.config.model", "router.core", "router.alerts",
                      "router.engine.snapshot", "router.engine.expiry",
                      "router.engine.repeats"),
    "router.probes": ("router.config.model", "router.core", "router.engine",
                      "router.notify.transport", "router.notify.wire", "router.redaction",
                      "router.clock"),
    "router.daemon": ("router",),  # the composition root: everything
    "router.analysis": ("router.alerts", "router.core", "router.config"),  # the engine calls it
    "router.__main__": ("router.cli",),
}

WITHIN_ROOM: dict[str, tuple[str, ...]] = {
    # modules that may NOT import the rest of their own room: models stay leaves, and a
    # format knows only the alert model and the other formats' shared helpers
    "router.config.model": ("router.config.model",),
    "router.alerts.model": ("router.alerts.model",),
    "router.alerts.formats": ("router.alerts.formats", "router.alerts.model",
                              "router.alerts.identity"),
}

LIBRARIES: dict[str, tuple[str, ...]] = {
    # a library that does I/O -> the only modules that may import it
    "sqlite3": ("router.store",),
    # PostgreSQL (issue 18): the store's two modules that talk to it, nothing else
    "psycopg": ("router.store.postgres", "router.store.postgres_wire",
                "router.store.postgres_listen", "router.store.postgres_failures"),
    "psycopg_pool": ("router.store.postgres",),
    "httpx": ("router.notify.transport", "router.analysis"),
    "h11": (),  # not router's: server/http.py parses with httptools (httpx brings h11)
    "httptools": ("router.server.http_wire", "router.notify.http_client"),
    "smtplib": ("router.notify.smtp", "router.notify.transport"),
    "psutil": ("router.probes", "router.analysis"),
    "trio": ("router.clock", "router.store", "router.notify.deliver", "router.notify.transport",
             "router.notify.http_client", "router.notify.lane", "router.notify.recorder",
             "router.engine", "router.server", "router.cli", "router.daemon", "router.probes",
             "router.notify.shipping", "router.web.login"),  # login: scrypt in a thread
}
"""So `core`, `alerts`, `config` and the channel modules stay pure: no trio, no sockets."""

KNOWN: dict[tuple[str, str], str] = {
    # (module, import) -> why it stands for now (each is in docs/design-changes.md)
    ("router.cli.reload", "httpx"): "router reload asks the running daemon over HTTP with "
                                    "httpx's blocking client",
}


@dataclass(frozen=True, slots=True)
class Edge:
    path: Path
    line: int
    module: str
    target: str  # a router module, or a library's top-level name

    def __str__(self) -> str:
        where = self.path.relative_to(ROUTER.parent) if self.path.is_relative_to(ROUTER) \
            else self.path
        return f"{where}:{self.line}: {self.module} imports {self.target}"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROUTER.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _existing(dotted: str) -> str:
    """The longest prefix of `dotted` that is a module or package of router (`from router.x
    import name` names router.x.name, which is a module only sometimes)."""
    parts = dotted.split(".")
    while len(parts) > 1:
        base = ROUTER.parent.joinpath(*parts)
        if base.with_suffix(".py").exists() or (base / "__init__.py").exists():
            break
        parts.pop()
    return ".".join(parts)


def edges_of(path: Path, module: str | None = None) -> list[Edge]:
    """Every import in `path` (the module `module`, by default the one at that place under
    router/), relative ones resolved against its package."""
    module = module or module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1])
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            names = [f"{source}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            target = _existing(name) if name.split(".")[0] == "router" else name.split(".")[0]
            found.append(Edge(path, node.lineno, module, target))
    return found


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def room_of(module: str) -> str:
    """`router.store.records` -> `router.store`; top-level modules are rooms of their own."""
    return ".".join(module.split(".")[:2])


def rule_for(table: dict[str, tuple[str, ...]], module: str) -> tuple[str, tuple[str, ...]]:
    """The most specific key of `table` that is the module or a package above it."""
    keys = [key for key in table if _under(module, key)]
    key = max(keys, key=len)
    return key, table[key]


def violation(edge: Edge) -> str | None:
    """Why `edge` breaks a rule, or None."""
    module, target = edge.module, edge.target
    if not target.startswith("router"):
        rule = next((mods for name, mods in LIBRARIES.items() if name == target), None)
        if rule is None or any(_under(module, allowed) for allowed in rule):
            return None
        return f"{target} may be imported only by {', '.join(rule)}"
    if target == module:
        return None
    inner = [key for key in WITHIN_ROOM if _under(module, key)]
    if room_of(target) == room_of(module) and target != "router":
        if not inner:
            return None
        key = max(inner, key=len)
        if any(_under(target, allowed) for allowed in WITHIN_ROOM[key]):
            return None
        return f"{key} may import of its own room only {', '.join(WITHIN_ROOM[key])}"
    key, rule = rule_for(ROOMS, module)
    if any(_under(target, allowed) for allowed in (*rule, *SHARED)):
        return None
    if target == "router" and module.startswith(("router.cli", "router.daemon")):
        return None  # `from router import __version__`
    allowed = ", ".join((*rule, *SHARED)) or "nothing of router"
    return f"{key} may import {allowed}"


def violations() -> list[str]:
    found = []
    for path in sorted(ROUTER.rglob("*.py")):
        for edge in edges_of(path):
            why = violation(edge)
            if why is not None and (edge.module, edge.target) not in KNOWN:
                found.append(f"{edge}: {why}")
    return found


def test_every_import_keeps_to_the_rules() -> None:
    assert violations() == []


def test_each_known_exception_is_still_needed() -> None:
    """An exception that no import needs any more is taken off the list."""
    still = {(edge.module, edge.target) for path in sorted(ROUTER.rglob("*.py"))
             for edge in edges_of(path) if violation(edge) is not None}
    assert set(KNOWN) <= still


def test_the_rules_catch_what_they_are_for(tmp_path: Path) -> None:
    def why(module: str, target: str) -> str | None:
        return violation(Edge(ROUTER / "x.py", 1, module, target))

    assert why("router.core.oncall", "router.store") == (
        "router.core may import router.config.model, router.alerts.model, "
        "router.alerts.identity, router.errors")
    assert why("router.core.oncall", "trio") is not None
    assert why("router.notify.slack", "trio") is not None
    assert why("router.notify.slack", "httpx") == (
        "httpx may be imported only by router.notify.transport, router.analysis")
    assert why("router.analysis.local", "trio") is not None
    assert why("router.analysis.local", "router.store") is not None
    assert why("router.engine.core", "sqlite3") is not None
    assert why("router.store.records", "sqlite3") is None
    assert why("router.config.model", "router.config.load") == (
        "router.config.model may import of its own room only router.config.model")
    assert why("router.alerts.formats.native", "router.alerts") is not None
    assert why("router.config.build.channels", "router.notify.slack") is None
    assert why("router.config.build.routing", "router.notify") is not None
    assert why("router.config.build", "router.notify.templates") is not None
    assert why("router.config.load", "router.notify") is not None
    assert why("router.errors", "router.config.model") == (
        "router.errors may import router.errors")
    assert why("router.server.http", "router.store") is not None
    assert why("router.store", "router.store.records") is None


def test_relative_imports_are_resolved_and_named_by_line(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("from ..store import records\nfrom . import oncall\nimport sqlite3\n",
                     encoding="utf-8")
    edges = edges_of(probe, "router.core.probe")
    assert [(edge.line, edge.target) for edge in edges] == [
        (1, "router.store.records"), (2, "router.core.oncall"), (3, "sqlite3")]
    assert str(edges[0]) == f"{probe}:1: router.core.probe imports router.store.records"
    assert [violation(edge) is None for edge in edges] == [False, True, False]
