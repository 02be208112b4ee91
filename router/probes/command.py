"""A Nagios plugin (room: probes): run without a shell, in a session of its own so that a
run past its timeout is killed with every child it started; exit 0/1/2/3 = ok, warning,
critical, unknown, the first line of output is the message and its performance data
(`text|load1=0.5;5;10 load5=0.4`) become figures. Blocks: runs in a worker thread."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess

from router.config.model import Check
from router.core.checks import CheckStatus, Reading, nagios_status

OUTPUT_LIMIT = 64 * 1024
"""Bytes of output kept; a plugin says what matters on its first line."""
_FIGURE = re.compile(r"^'?([^'=]+)'?=(-?[0-9.]+)")


def run(check: Check) -> Reading:
    seconds = check.timeout.total_seconds()
    try:
        child = subprocess.Popen(check.command, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 start_new_session=True)
    except OSError as error:
        text = f"cannot run {check.command[0]}: {error.strerror or error}"
        return Reading(status=CheckStatus.UNKNOWN, message=text, error=text)
    try:
        output, _ = child.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        _kill_group(child)
        text = f"killed after its timeout of {seconds:g}s"
        return Reading(status=CheckStatus.UNKNOWN, message=text, error=text)
    return parse(child.returncode, output[:OUTPUT_LIMIT])


def _kill_group(child: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):  # it ended on its own meanwhile
        os.killpg(child.pid, signal.SIGKILL)
    child.communicate()


def parse(exit_code: int, output: bytes) -> Reading:
    """A plugin's exit status and output as a reading."""
    first = output.decode("utf-8", "replace").partition("\n")[0].strip()
    text, _, performance = first.partition("|")
    metrics: dict[str, float] = {"exit_code": exit_code}
    for item in performance.split():
        if (found := _FIGURE.match(item)) is not None:
            try:
                metrics[found.group(1)] = float(found.group(2))
            except ValueError:
                continue
    status = nagios_status(exit_code)
    message = text.strip() or f"exited {exit_code} with no output"
    if exit_code < 0:
        message = f"killed by signal {-exit_code}: {message}"
    return Reading(metrics=metrics, message=message, status=status)
