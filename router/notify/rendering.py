"""Rendered templates kept by what they read (room: notify; imports sandbox).

A channel's own templates (title, text, html, payload) run in the Jinja2 sandbox, which costs
tens to hundreds of microseconds a page. Most pages about one incident read the same values:
the retries of one notification, the people of one escalation level paged through one
channel, the repeats of an incident that did not change. So the deliverer keeps a
`RenderCache`: a rendered template is kept under the template's text and the values it
reads, found by walking its syntax tree once (`reads`): `incident.summary` and
`incident.labels.env` read `incident["summary"]` and `incident["labels"]`; a name used in
any other way (`incident | tojson`, `{% set x = incident %}`) reads the whole value. When
anything a template reads changes (the incident's state, its alert count, labels or level,
the person paged, a reload's new service name), the key changes and the template renders
afresh; a template that reads nothing that changed is not rendered again. A template that
draws random values (`random`, `lipsum`) is rendered every time. The cache holds at most
`size` texts, the least recently used leaving first; a failed render is not kept (its
caller logs the failure and falls back each time, as before).
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Hashable, Iterator, Mapping
from typing import Any

from jinja2 import meta, nodes

from router.sandbox import compile_template

SIZE = 2048
"""Rendered texts kept: a few per open incident and channel being paged at once."""
_RANDOM = frozenset({"random", "lipsum"})
"""A filter and a global whose output changes from one render to the next."""
_MISSING = object()
"""What a path that the context does not hold reads."""

Path = tuple[str] | tuple[str, str]
"""A name of the context, or a name and one key of it (`("incident", "state")`)."""


@functools.lru_cache(maxsize=512)
def reads(text: str) -> tuple[Path, ...] | None:
    """What the template `text` reads from its context, sorted; None if its output may
    differ between two renders of the same context (it draws random values).

    Raises:
        jinja2.TemplateSyntaxError: `text` is no template (as `compile_template` does).
    """
    tree = compile_template(text).environment.parse(text)
    if any(node.name in _RANDOM for node in tree.find_all(nodes.Filter)) or any(
            node.name in _RANDOM for node in tree.find_all(nodes.Name)):
        return None
    free = meta.find_undeclared_variables(tree)
    assigned = {node.name for node in tree.find_all(nodes.Name) if node.ctx != "load"}
    found: set[Path] = set()
    for path in _paths(tree):
        if path[0] in free:
            found.add((path[0],) if path[0] in assigned else path)
    wholes = {path[0] for path in found if len(path) == 1}
    return tuple(sorted(path for path in found if len(path) == 1 or path[0] not in wholes))


def _paths(node: nodes.Node) -> Iterator[Path]:
    """Every name the tree loads, with the key it is read at when it is read at a fixed
    one (`name.key`, `name["key"]`)."""
    if isinstance(node, nodes.Getattr | nodes.Getitem) and isinstance(node.node, nodes.Name) \
            and node.node.ctx == "load":
        key = node.attr if isinstance(node, nodes.Getattr) else _constant_text(node.arg)
        if key is not None:
            yield (node.node.name, key)
            return
    if isinstance(node, nodes.Name) and node.ctx == "load":
        yield (node.name,)
        return
    for child in node.iter_child_nodes():
        yield from _paths(child)


def _constant_text(node: nodes.Node) -> str | None:
    return node.value if isinstance(node, nodes.Const) and isinstance(node.value, str) \
        else None


class RenderCache:
    """Rendered templates by their text and what they read; `renders` counts the renders
    it could not answer from what it kept."""

    def __init__(self, size: int = SIZE) -> None:
        self._size = size
        self._kept: OrderedDict[Hashable, str] = OrderedDict()
        self.renders = 0

    def render(self, text: str, context: Mapping[str, Any], *, html: bool = False) -> str:
        """`text` rendered with `context`, as `compile_template(text, html=html)` renders it.

        Raises:
            Exception: whatever rendering raises (nothing is kept then).
        """
        paths = reads(text)
        if paths is None:
            return self._render(text, context, html)
        key = (text, html, *(_frozen(_lookup(context, path)) for path in paths))
        kept = self._kept.get(key)
        if kept is not None:
            self._kept.move_to_end(key)
            return kept
        rendered = self._kept[key] = self._render(text, context, html)
        if len(self._kept) > self._size:
            self._kept.popitem(last=False)
        return rendered

    def _render(self, text: str, context: Mapping[str, Any], html: bool) -> str:
        rendered = compile_template(text, html=html).render(context)
        self.renders += 1
        return rendered


def _lookup(context: Mapping[str, Any], path: Path) -> Any:
    value = context.get(path[0], _MISSING)
    if len(path) == 1 or not isinstance(value, Mapping):
        return value  # a template reading a key of a non-mapping reads what it is
    return value.get(path[1], _MISSING)


def _frozen(value: Any) -> Hashable:
    """A hashable stand-in for a context value that tells apart every two values that may
    render differently (so `1`, `1.0` and `True` differ, as their texts do)."""
    if type(value) is str:
        return value
    if isinstance(value, Mapping):
        return (Mapping, tuple((key, _frozen(item)) for key, item in value.items()))
    if isinstance(value, list | tuple):
        return (type(value), tuple(_frozen(item) for item in value))
    if value is None or value is _MISSING or isinstance(value, int | float | str):
        return (type(value), value)
    return (type(value), repr(value))  # nothing else reaches a context (plain values only)
