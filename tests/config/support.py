"""Helpers shared by the config tests: inline YAML written to files, problems as text."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

from router.config import ConfigInvalid, load_config

FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXAMPLE = Path(__file__).resolve().parents[2] / "config"


def write(directory: Path, name: str, text: str | bytes) -> Path:
    """Write `text` (dedented) to `directory/name`, making folders; return the file's path."""
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def problems(paths: Sequence[str | Path], *, resolve_secrets: bool = True,
             environ: Mapping[str, str] | None = None) -> list[str]:
    """Every problem (errors and warnings) of loading `paths`, as printed; [] when clean."""
    try:
        config = load_config(paths, resolve_secrets=resolve_secrets, environ=environ or {})
    except ConfigInvalid as invalid:
        return [str(problem) for problem in invalid.problems]
    return [str(problem) for problem in config.warnings]
