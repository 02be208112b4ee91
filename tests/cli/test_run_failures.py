"""`router run` that cannot start says so in one line and exits 1, never with a traceback:
a port already taken, a state directory it cannot create or write, a config it cannot read.
Each runs the real daemon as `python -m router run` (issue 16 item 8)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOBODY = 65534


def router_run(*arguments: str, cwd: Path, user: int | None = None
               ) -> subprocess.CompletedProcess[str]:
    """`python -m router run ARGUMENTS` as `user` (through setpriv); it must exit by itself."""
    become = [] if user is None else [
        "setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"]
    return subprocess.run(
        [*become, sys.executable, "-m", "router", "run", "--log-format", "text", *arguments],
        cwd=cwd, capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)})


def assert_one_line(done: subprocess.CompletedProcess[str], *parts: str) -> None:
    assert "Traceback" not in done.stderr
    assert done.returncode == 1, done.stderr
    lines = [line for line in done.stderr.splitlines() if "router run:" in line]
    assert len(lines) == 1, done.stderr
    for part in parts:
        assert part in lines[0], lines[0]
    assert "ExceptionGroup" not in done.stderr


@pytest.fixture
def shared() -> Iterator[Path]:
    """A directory anyone may use, with the example config readable by anyone: the
    permission cases run the daemon as nobody (root may read and write anything)."""
    directory = Path(tempfile.mkdtemp(prefix="router-run-"))
    directory.chmod(0o777)
    shutil.copytree(ROOT / "config", directory / "config")
    for path in [directory / "config", *(directory / "config").rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def as_someone_else(shared: Path) -> int | None:
    """Who runs the daemon in the permission cases: nobody when the tests run as root."""
    if os.geteuid() != 0:
        return None
    if shutil.which("setpriv") is None or not (ROOT / "router").stat().st_mode & 0o004:
        pytest.skip("running as root, with no setpriv or a checkout nobody may read")
    return NOBODY


def test_a_port_already_taken_is_one_line_naming_it(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = router_run("--config", str(ROOT / "config"), "--state", str(tmp_path / "state"),
                          "--listen", f"127.0.0.1:{port}", cwd=tmp_path)
    assert_one_line(done, f"127.0.0.1:{port}", "already in use", "--listen")


@pytest.mark.parametrize("where", ["a-file/state", "a-file"])
def test_a_state_directory_that_cannot_be_made_is_one_line_naming_it(
        tmp_path: Path, where: str) -> None:
    (tmp_path / "a-file").write_text("not a directory\n")
    state = tmp_path / where
    done = router_run("--config", str(ROOT / "config"), "--state", str(state),
                      "--listen", "127.0.0.1:0", cwd=tmp_path)
    assert_one_line(done, f"state directory {state}", "--state")


def test_a_missing_state_directory_is_created(tmp_path: Path) -> None:
    """Missing is fine when router may create it (the first `make run`): it is made 0750;
    only one it cannot make stops the start (above)."""
    with socket.socket() as taken:  # stop it right after the state is prepared
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        router_run("--config", str(ROOT / "config"), "--state", str(tmp_path / "new" / "state"),
                   "--listen", f"127.0.0.1:{port}", cwd=tmp_path)
    assert (tmp_path / "new" / "state").is_dir()


@pytest.mark.parametrize("mode", [0o555, None])
def test_an_unwritable_state_directory_is_one_line_naming_it(
        shared: Path, mode: int | None) -> None:
    user = as_someone_else(shared)
    parent = shared / "locked"
    parent.mkdir(mode=0o555)
    parent.chmod(0o555)
    state = parent if mode is not None else parent / "state"
    done = router_run("--config", str(shared / "config"), "--state", str(state),
                      "--listen", "127.0.0.1:0", cwd=shared, user=user)
    assert_one_line(done, f"state directory {state}", "--state")


def test_an_unreadable_config_is_named_with_what_to_do(shared: Path) -> None:
    """Reported as every config problem is (`router validate`'s lines), with a hint."""
    user = as_someone_else(shared)
    (shared / "config" / "channels.yaml").chmod(0)
    done = router_run("--config", str(shared / "config"), "--state", str(shared / "state"),
                      "--listen", "127.0.0.1:0", cwd=shared, user=user)
    assert "Traceback" not in done.stderr
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == [
        f"{shared / 'config' / 'channels.yaml'}: cannot read file: Permission denied; make "
        "it readable by the user router runs as", "config invalid: 1 problem"]
