"""The CLI prints the engine's NotFound as one line and exits 1; any other LookupError is a
bug and is not dressed up as "not found" (issue 14 item 4)."""

from __future__ import annotations

import argparse
import io
from pathlib import Path
from typing import TextIO

import pytest

from router.cli.support import EXIT_INVALID, run
from router.config.model import Config
from router.errors import NotFound


def arguments(tmp_path: Path) -> argparse.Namespace:
    (tmp_path / "router.yaml").write_text("channels: [{id: log, type: log}]\n")
    return argparse.Namespace(config=[str(tmp_path / "router.yaml")], state=tmp_path)


def test_not_found_is_one_line_and_exit_1(tmp_path: Path) -> None:
    def act(_: argparse.Namespace, __: Config, ___: TextIO) -> int:
        raise NotFound("no rota 'nope'")

    out, err = io.StringIO(), io.StringIO()
    code = run(arguments(tmp_path), out, err, name="oncall", act=act, resolve_secrets=False)
    assert (code, err.getvalue(), out.getvalue()) == (EXIT_INVALID,
                                                      "router oncall: no rota 'nope'\n", "")


def test_a_stray_key_error_is_not_a_not_found_message(tmp_path: Path) -> None:
    def act(_: argparse.Namespace, __: Config, ___: TextIO) -> int:
        raise KeyError("severity")

    with pytest.raises(KeyError):
        run(arguments(tmp_path), io.StringIO(), io.StringIO(), name="oncall", act=act,
            resolve_secrets=False)
