"""A CLI command on a store that cannot write (a full disk) says so in one line, with no
traceback (issue 13 item 2): StoreUnavailable becomes the command's Failure message."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from router.cli_support import Failure, with_engine
from router.config import load_config
from router.engine import Engine
from router.errors import StoreUnavailable


async def full(engine: Engine) -> None:
    raise StoreUnavailable("database or disk is full")


def test_a_store_that_cannot_write_is_a_failure_message(tmp_path: Path) -> None:
    (tmp_path / "router.yaml").write_text("channels: [{id: log, type: log}]\n")
    arguments = argparse.Namespace(state=tmp_path)
    with pytest.raises(Failure) as failure:
        with_engine(arguments, load_config([tmp_path / "router.yaml"]), full)
    assert str(failure.value) == (f"the store {tmp_path / 'router.db'} failed: "
                                  "the store cannot write: database or disk is full")
