"""Read YAML config files into plain data that still knows where every value was written
(room: config; imports config.model, config.secrets, errors).

The files are parsed by libyaml (PyYAML's C parser) into nodes, which carry line and column;
the values are built from those nodes by `_Builder` rather than PyYAML's own constructor
because the config language needs three things it does not do: `09:00` stays the text
"09:00" (YAML 1.1 would read `9:00` as the number 540), dates stay text for the schema,
and a key written twice in one mapping is an error instead of silently overwriting.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from router.config.secrets import SecretMissing, SecretResolver
from router.errors import Problem, Where

SECTIONS = (
    "settings", "people", "channels", "rotas", "escalation_policies", "services", "routes",
    "suppressions", "time_intervals", "inhibit_rules", "checks", "heartbeats", "jobs",
    "users",
)
LIST_SECTIONS = SECTIONS[1:]
YAML_SUFFIXES = (".yaml", ".yml")
MAX_DEPTH = 100
"""Deeper nesting is a mistake in a config, and would exhaust Python's stack."""

_TAG = "tag:yaml.org,2002:"
_SCALAR_CONSTRUCTOR = yaml.constructor.SafeConstructor()


@dataclass(frozen=True, slots=True)
class Source:
    """The YAML node a piece of data came from, to name its place in messages."""

    file: str
    node: yaml.Node | None
    path: str

    @property
    def where(self) -> Where:
        if self.node is None:
            return Where(self.file)
        mark = self.node.start_mark
        return Where(self.file, mark.line + 1, mark.column + 1)

    def at(self, key: str | int) -> Source:
        """The source of one member: a list index or a mapping key."""
        path = f"{self.path}[{key}]" if isinstance(key, int) else _join(self.path, key)
        return Source(self.file, _child(self.node, key), path)

    def key(self, name: str) -> Source:
        """The source of a mapping key itself (where an unknown key was written)."""
        node = self.node
        for key_node, _ in _pairs(node) if isinstance(node, yaml.MappingNode) else ():
            if getattr(key_node, "value", None) == name:
                return Source(self.file, key_node, _join(self.path, name))
        return Source(self.file, node, _join(self.path, name))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _pairs(node: yaml.MappingNode) -> Iterator[tuple[yaml.Node, yaml.Node]]:
    """Key/value node pairs, those brought in by `<<` merge keys after the mapping's own."""
    merged: list[yaml.Node] = []
    for key_node, value_node in node.value:
        if key_node.tag == _TAG + "merge":
            merged.extend(value_node.value if isinstance(value_node, yaml.SequenceNode)
                          else [value_node])
        else:
            yield key_node, value_node
    for other in merged:
        if isinstance(other, yaml.MappingNode):
            yield from _pairs(other)


def _child(node: yaml.Node | None, key: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.SequenceNode) and isinstance(key, int):
        return node.value[key] if 0 <= key < len(node.value) else None
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in _pairs(node):
            if getattr(key_node, "value", None) == key:
                return value_node
    return None


@dataclass(frozen=True, slots=True)
class Document:
    """One YAML document of a config file, as data plus the node tree it came from.

    `broken` names the list items (section, index) and whole sections (section, None) whose
    shape is wrong; they are left out of the build, so the rest can still be checked.
    `partial` names the list items that fit once the keys whose values were wrong are left
    out of `data`: the build still checks their other values, then leaves them out too.
    """

    data: dict[str, Any]
    source: Source
    broken: frozenset[tuple[str, int | None]] = frozenset()
    partial: frozenset[tuple[str, int]] = frozenset()


def find_files(paths: Sequence[str | Path]) -> tuple[list[Path], list[Problem]]:
    """Every YAML file under the given directories and files, in a stable order.

    Directories are read recursively in sorted order; names starting with a dot are skipped,
    which also skips the `..data` directories of Kubernetes ConfigMaps and git-sync while
    their top-level links are still followed.
    """
    files: dict[Path, Path] = {}  # real path -> the path first seen, so each file is read once
    problems: list[Problem] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(_walk(path, set(), problems))
            if not found:
                problems.append(Problem(Where(str(path)), "", "no .yaml or .yml files here"))
            for file in found:
                files.setdefault(file.resolve(), file)
        elif path.is_file():
            files.setdefault(path.resolve(), path)
        else:
            problems.append(Problem(Where(str(path)), "", "no such file or directory"))
    return list(files.values()), problems


def _walk(directory: Path, visited: set[Path], problems: list[Problem]) -> Iterator[Path]:
    """YAML files under `directory`; a directory reached twice through links is read once."""
    real = directory.resolve()
    if real in visited:
        return
    visited.add(real)
    try:
        entries = sorted(directory.iterdir())
    except OSError as error:
        problems.append(Problem(Where(str(directory)), "",
                                f"cannot read directory: {error.strerror}"))
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            yield from _walk(entry, visited, problems)
        elif entry.suffix in YAML_SUFFIXES:  # a broken link is reported when it is read
            yield entry


def read_file(path: Path, resolver: SecretResolver) -> tuple[list[Document], list[Problem]]:
    """Parse one file into its documents (a file may hold several, split by `---`)."""
    display = str(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        hint = "; make it readable by the user router runs as" if isinstance(
            error, PermissionError) else ""
        return [], [Problem(Where(display), "", f"cannot read file: {error.strerror}{hint}")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        column = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
        message = f"not valid UTF-8 (byte 0x{raw[error.start]:02x}); save the file as UTF-8"
        return [], [Problem(Where(display, line, column), "", message)]
    builder = _Builder(display, path.parent, resolver)
    documents: list[Document] = []
    try:
        for root in yaml.compose_all(text, Loader=yaml.CSafeLoader):
            document = builder.document(root)
            if document is not None:
                documents.append(document)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = Where(display, mark.line + 1, mark.column + 1) if mark else Where(display)
        context = error.context or ""
        started = error.context_mark
        if context and started and mark and started.line != mark.line:
            # an unclosed bracket or quote is noticed lines later: say where it began
            context += f" started at line {started.line + 1}, column {started.column + 1},"
        detail = " ".join(part for part in (context, error.problem) if part)
        if mark and _character_at(text, mark.line, mark.column) == "\t":
            detail += " (a tab; YAML indents with spaces only)"
        return [], [Problem(where, "", f"invalid YAML: {detail}")]
    return documents, builder.problems


def _character_at(text: str, line: int, column: int) -> str:
    lines = text.splitlines()
    return lines[line][column:column + 1] if line < len(lines) else ""


class _Builder:
    """Turns composed YAML nodes into dicts, lists and scalars, collecting problems."""

    def __init__(self, file: str, base_dir: Path, resolver: SecretResolver) -> None:
        self.file = file
        self.base_dir = base_dir
        self.resolver = resolver
        self.problems: list[Problem] = []
        self._building: set[int] = set()

    def document(self, root: yaml.Node | None) -> Document | None:
        if root is None or (isinstance(root, yaml.ScalarNode) and root.tag == _TAG + "null"):
            return None
        source = Source(self.file, root, "")
        data = self.value(root)
        if not isinstance(data, dict):
            self._problem(root, "expected a mapping of sections (settings, people, ...)")
            return None
        # `people:` with nothing under it (all entries commented out) means no people.
        return Document({key: value for key, value in data.items() if value is not None},
                        source)

    def value(self, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node)
        if id(node) in self._building:
            self._problem(node, "an alias refers to the node that contains it")
            return None
        if len(self._building) >= MAX_DEPTH:  # `_building` holds the path down to here
            self._problem(node, f"nested more than {MAX_DEPTH} levels deep")
            return None
        self._building.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.value(child) for child in node.value]
            assert isinstance(node, yaml.MappingNode)  # the composer makes no other kind
            return self.mapping(node)
        finally:
            self._building.discard(id(node))

    def mapping(self, node: yaml.MappingNode) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        merged: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _TAG + "merge":
                self._merge_into(merged, value_node)
                continue
            key = self.scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            if key is None:
                self._problem(key_node, "expected a plain text key")
                continue
            if not isinstance(key, str):  # `1:` or `yes:` is the key "1" or "yes"
                key = key_node.value
            if key in result:
                self._problem(key_node, f"key {key!r} is written twice in this mapping")
            result[key] = self.value(value_node)
        return {**merged, **result} if merged else result

    def _merge_into(self, merged: dict[Any, Any], node: yaml.Node) -> None:
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        for source in sources:
            value = self.value(source)
            if isinstance(value, dict):
                merged.update({k: v for k, v in value.items() if k not in merged})
            else:
                self._problem(source, "a '<<' merge key needs a mapping or a list of mappings")

    def scalar(self, node: yaml.ScalarNode) -> Any:
        tag = node.tag
        value = node.value
        if tag == _TAG + "str" or node.style:
            return self._expand(node, value) if "${" in value else value
        if tag == _TAG + "null":
            return None
        if tag == _TAG + "bool":
            return _SCALAR_CONSTRUCTOR.construct_yaml_bool(node)
        if tag in (_TAG + "int", _TAG + "float"):
            if ":" in value:  # YAML 1.1 base-60 numbers: keep times of day as text
                return value
            if tag == _TAG + "int":
                return _SCALAR_CONSTRUCTOR.construct_yaml_int(node)
            return _SCALAR_CONSTRUCTOR.construct_yaml_float(node)
        if tag == _TAG + "timestamp":
            return value
        self._problem(node, f"unsupported YAML tag {tag!r}; write plain values")
        return value

    def _expand(self, node: yaml.Node, value: str) -> str:
        try:
            return self.resolver.expand(value, self.base_dir)
        except SecretMissing as error:
            self._problem(node, str(error))
            return value

    def _problem(self, node: yaml.Node, message: str) -> None:
        mark = node.start_mark
        self.problems.append(Problem(Where(self.file, mark.line + 1, mark.column + 1), "",
                                     message))
