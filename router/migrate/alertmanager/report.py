"""What an import did with each part of the Alertmanager file, by line.

Three kinds, as the user needs to read them: `converted` (same meaning in router),
`changed` (carried over with a difference of meaning the user should check) and
`unsupported` (left out: router cannot express it). Each names the Alertmanager file's line
so the user can find the original.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from router.config.load import Source

Kind = Literal["converted", "changed", "unsupported"]
KINDS: tuple[Kind, ...] = ("converted", "changed", "unsupported")


@dataclass(frozen=True, slots=True)
class Finding:
    """One part of the Alertmanager config and what became of it."""

    kind: Kind
    line: int | None
    path: str
    message: str

    def describe(self, file: str) -> str:
        place = f"{file}:{self.line}" if self.line is not None else file
        return f"{place}: {self.path}: {self.message}" if self.path else \
            f"{place}: {self.message}"


@dataclass(slots=True)
class Report:
    """The findings of one import, in the order they were made."""

    file: str
    findings: list[Finding] = field(default_factory=list)

    def add(self, kind: Kind, source: Source, message: str) -> None:
        self.findings.append(Finding(kind, source.where.line, source.path, message))

    def of_kind(self, kind: Kind) -> list[Finding]:
        return [finding for finding in self.findings if finding.kind == kind]

    def render(self) -> str:
        """The text `router import alertmanager` prints: one section per kind."""
        lines: list[str] = []
        titles = {"converted": "Converted", "changed": "Converted with a change of meaning",
                  "unsupported": "Not converted (router cannot express it)"}
        for kind in KINDS:
            found = sorted(self.of_kind(kind), key=lambda finding: finding.line or 0)
            lines.append(f"{titles[kind]}: {len(found)}")
            lines.extend(f"  {finding.describe(self.file)}" for finding in found)
        return "\n".join(lines) + "\n"


class Refused(ValueError):
    """The file cannot be imported at all: not an Alertmanager config Alertmanager would
    accept, or a part whose meaning router cannot keep; `line` and `path` place it."""

    def __init__(self, line: int | None, path: str, message: str) -> None:
        super().__init__(message)
        self.line, self.path, self.message = line, path, message

    def describe(self, file: str) -> str:
        return Finding("unsupported", self.line, self.path, self.message).describe(file)


def kind_of(value: Any) -> str:
    """What a value from the YAML is, in words, for "expected ..., got ..." messages."""
    return {dict: "a mapping", list: "a list", type(None): "nothing"}.get(
        type(value), f"{type(value).__name__} {value!r}")


@dataclass(frozen=True, slots=True)
class Loaded:
    """An Alertmanager config file as data, with the node tree that names its lines."""

    data: dict[str, Any]
    source: Source


def load(path: Path) -> Loaded:
    """Reads an Alertmanager config; `source.at(...)` then gives any part's line.

    Raises ValueError with the file and line when the file is not a YAML mapping.
    """
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:  # one line: where, and what the parser expected
        mark = getattr(error, "problem_mark", None)
        place = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ValueError(f"{place}: not valid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}:1: an Alertmanager config is a mapping of sections")
    return Loaded(data, Source(str(path), node, ""))
