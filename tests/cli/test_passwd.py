"""`router passwd` (issue 22 item 3): asks twice on the terminal or reads --stdin, prints
only a hash that verifies the password and that the config accepts; refuses a mismatch or a
short password with a message and exit 1. Run as a subprocess: the terminal is a real pty."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from router.config.passwords import verify
from tests.cli.conftest import write_config
from tests.config.support import problems

ROUTER = [sys.executable, "-m", "router", "passwd"]


def passwd_stdin(text: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ROUTER, "--stdin"], input=text, capture_output=True, text=True,
                          timeout=60, check=False)


def passwd_on_a_terminal(*answers: str, user: str | None = None) -> tuple[int, str]:
    """Run `router passwd` with a pty as its controlling terminal, answer each prompt, and
    return its exit status and everything it wrote there."""
    argv = [*ROUTER, *(["--user", user] if user else [])]
    pid, terminal = pty.fork()
    if pid == 0:  # the child: the pty is its terminal, stdin, stdout and stderr
        os.execv(sys.executable, argv)
    seen, pending = b"", list(answers)
    while select.select([terminal], [], [], 60)[0]:  # a child that hangs fails, not waits
        try:
            chunk = os.read(terminal, 1024)
        except OSError:  # the child closed the pty (EIO on Linux)
            break
        if not chunk:
            break
        seen += chunk
        # Answer a prompt only once it is whole and nothing follows it: getpass turns echo
        # off with TCSAFLUSH before each prompt, so an answer typed ahead of the second
        # prompt would be thrown away and the child would wait for ever.
        if pending and seen.endswith(b": "):
            os.write(terminal, pending.pop(0).encode() + b"\n")
    else:
        os.kill(pid, signal.SIGKILL)
    os.close(terminal)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), seen.decode()


def test_stdin_prints_one_hash_that_verifies_and_the_config_accepts(tmp_path: Path) -> None:
    done = passwd_stdin("correct horse battery\n")
    assert (done.returncode, done.stderr) == (0, "")
    line = done.stdout.removesuffix("\n")
    assert "\n" not in line and line.startswith("scrypt$32768$8$1$")
    assert verify("correct horse battery", line)
    assert not verify("correct horse battery\n", line)
    write_config(tmp_path, f'users:\n  - {{name: ann, role: admin, password_hash: "{line}"}}\n')
    assert problems([tmp_path / "config"]) == []


def test_a_short_password_is_refused() -> None:
    done = passwd_stdin("short\n")
    assert (done.returncode, done.stdout, done.stderr) == (
        1, "", "router passwd: a password must be at least 8 characters\n")


@pytest.mark.parametrize("errors", ["strict", "surrogateescape"])
def test_a_password_that_is_not_utf8_is_refused_not_a_traceback(errors: str) -> None:
    """Bytes that are not UTF-8 failed reading standard input (strict, a UnicodeDecodeError)
    or reached the hash as surrogates (a C locale's surrogateescape: UnicodeEncodeError)."""
    done = subprocess.run([*ROUTER, "--stdin"], input=b"abc\xff\xfedefgh\n",
                          capture_output=True, timeout=60, check=False,
                          env={**os.environ, "PYTHONIOENCODING": f"utf-8:{errors}"})
    assert (done.returncode, done.stdout, done.stderr) == (
        1, b"", b"router passwd: the password is not UTF-8 text\n")


def test_the_terminal_asks_twice_without_echo_and_prints_the_hash() -> None:
    code, seen = passwd_on_a_terminal("s3cret-enough", "s3cret-enough", user="ann")
    assert code == 0
    prompts, _, printed = seen.partition("Again: ")
    assert prompts.startswith("Password for ann: ")
    assert "s3cret" not in seen  # getpass turned echo off
    assert verify("s3cret-enough", printed.strip())


def test_two_different_passwords_print_nothing() -> None:
    code, seen = passwd_on_a_terminal("s3cret-enough", "s3cret-enougH")
    assert code == 1
    assert seen.split("Again: ")[1].strip() == (
        "router passwd: the two passwords differ; nothing was printed")
