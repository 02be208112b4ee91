"""Helpers shared by the CLI tests: `router` run in-process through `main`, with its exit code
and both output streams as text, over an inline config and an empty state directory.

Running `main` in-process (not `router` as a subprocess) keeps these tests fast and lets them
seed a real store first; the daemon as a subprocess is tests/e2e's job.
"""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import pytest

from router.cli import main


def run(*argv: str) -> tuple[int, str, str]:
    """`router ARGV...`: the exit code, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def write_config(directory: Path, text: str) -> Path:
    """`text` (dedented) as `directory/config/router.yaml`; returns that config directory."""
    config = directory / "config"
    config.mkdir()
    (config / "router.yaml").write_text(textwrap.dedent(text))
    return config


@pytest.fixture
def state(tmp_path: Path) -> Path:
    """An empty state directory, as `router run` creates it."""
    (tmp_path / "state").mkdir()
    return tmp_path / "state"
