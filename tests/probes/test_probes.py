"""The probes on this host, for real: psutil's figures, a TCP connect to a loopback port, Nagios
plugins written to tmp_path, and an HTTP GET to a loopback server through the notify
transport. Fakes stand in only for states the host cannot be put in (a full disk: the
thresholds are graded by core/checks.py, tested in tests/core/test_checks.py)."""

from __future__ import annotations

import os
import socket
import time
from datetime import timedelta
from pathlib import Path

import psutil
import trio

from router.config.model import Check, Thresholds
from router.core.checks import CheckStatus, evaluate
from router.notify.transport import Transport
from router.probes import command, host, network
from router.probes.http import fetch
from tests.fakes import Answer
from tests.fakes.webhook import serve_fake_webhook

OK, WARNING, CRITICAL, UNKNOWN = (CheckStatus.OK, CheckStatus.WARNING, CheckStatus.CRITICAL,
                                  CheckStatus.UNKNOWN)


def plugin(directory: Path, name: str, body: str) -> str:
    path = directory / name
    path.write_text("#!/bin/sh\n" + body, encoding="utf-8")
    path.chmod(0o755)
    return str(path)


def test_host_figures_are_psutil_s(tmp_path: Path) -> None:
    cpu = host.cpu(Check(id="cpu", type="cpu", samples=1))
    assert 0 <= cpu.metrics["cpu_percent"] <= 100
    assert cpu.message.startswith("cpu ") and cpu.message.endswith("% used over 1 s")
    memory = host.memory(Check(id="memory", type="memory", swap=Thresholds(critical=90)))
    assert sorted(memory.metrics) == ["memory_percent", "swap_percent"]
    assert memory.metrics["memory_percent"] == psutil.virtual_memory().percent or \
        abs(memory.metrics["memory_percent"] - psutil.virtual_memory().percent) < 5
    disk = host.disk(Check(id="disk", type="disk", paths=(str(tmp_path), "/"),
                           inodes=Thresholds(critical=99)))
    assert abs(disk.metrics[f"disk_percent:{tmp_path}"]
               - psutil.disk_usage(str(tmp_path)).percent) < 1
    assert set(disk.metrics) >= {f"disk_percent:{tmp_path}", "disk_percent:/"}
    assert disk.message.startswith(f"used: {tmp_path} ")
    # a threshold this file system is past grades it so: the host cannot be made to fill up
    used = disk.metrics["disk_percent:/"]
    assert evaluate(Check(id="disk", type="disk", thresholds=Thresholds(
        warning=max(used - 1, 0), critical=101)), disk).status is WARNING


def test_a_process_that_runs_is_counted_and_one_that_does_not_is_critical() -> None:
    mine = psutil.Process().name()
    check = Check(id="procs", type="process", names=(mine, "no-such-daemon-x"),
                  thresholds=Thresholds(critical=0, inverted=True))
    reading = host.process(check)
    assert reading.metrics[f"processes:{mine}"] >= 1
    assert reading.metrics["processes:no-such-daemon-x"] == 0
    verdict = evaluate(check, reading)
    assert (verdict.status, verdict.message) == (
        CRITICAL, "processes:no-such-daemon-x is 0, at or below the critical threshold 0")


def test_network_connects_or_says_why_not() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        open_port = network.connect(Check(id="db", type="network", host="127.0.0.1",
                                          port=port))
    assert open_port.status is None and open_port.metrics["connect_ms"] >= 0
    assert open_port.message.startswith(f"connected to 127.0.0.1:{port} in ")
    refused = network.connect(Check(id="db", type="network", host="127.0.0.1", port=port))
    assert (refused.status, refused.message) == (
        CRITICAL, f"cannot connect to 127.0.0.1:{port}: Connection refused")


def test_nagios_plugins_grade_themselves(tmp_path: Path) -> None:
    def run(body: str) -> tuple[CheckStatus | None, str, dict[str, float]]:
        reading = command.run(Check(id="plugin", type="command",
                                    command=(plugin(tmp_path, "check", body),)))
        return reading.status, reading.message, dict(reading.metrics)

    assert run("echo 'LOAD OK - 0.42|load1=0.42;5;10;0 \"x\"'\necho second line\n") == (
        OK, "LOAD OK - 0.42", {"exit_code": 0, "load1": 0.42})
    assert run("echo 'DISK WARNING - 81%'; exit 1") == (WARNING, "DISK WARNING - 81%",
                                                         {"exit_code": 1})
    assert run("echo 'PROCS CRITICAL'; exit 2")[:2] == (CRITICAL, "PROCS CRITICAL")
    assert run("echo 'cannot read'; exit 3")[:2] == (UNKNOWN, "cannot read")
    assert run("exit 7")[:2] == (UNKNOWN, "exited 7 with no output")
    assert run("echo on stderr >&2; exit 2")[:2] == (CRITICAL, "on stderr")


def test_a_plugin_past_its_timeout_is_killed_with_its_children(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    slow = plugin(tmp_path, "check_slow", f"sleep 30 &\necho $! > {pids}\nwait\n")
    started = time.perf_counter()
    reading = command.run(Check(id="slow", type="command", command=(slow,),
                                timeout=timedelta(seconds=0.5)))
    assert time.perf_counter() - started < 5
    assert (reading.status, reading.message, reading.error) == (
        UNKNOWN, "killed after its timeout of 0.5s", "killed after its timeout of 0.5s")
    child = int(pids.read_text())
    deadline = time.monotonic() + 5
    while psutil.pid_exists(child) and psutil.Process(child).status() != "zombie" \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not psutil.pid_exists(child) or psutil.Process(child).status() == "zombie"


def test_a_command_that_cannot_run_is_unknown(tmp_path: Path) -> None:
    plain = tmp_path / "not-executable"
    plain.write_text("#!/bin/sh\n")
    reading = command.run(Check(id="x", type="command", command=(str(plain),)))
    assert (reading.status, reading.error) == (
        UNKNOWN, f"cannot run {plain}: Permission denied")
    assert os.access(plain, os.X_OK) is False


async def test_http_gets_through_the_notify_transport() -> None:
    transport = Transport()
    try:
        async with trio.open_nursery() as nursery:
            server = await nursery.start(serve_fake_webhook)
            check = Check(id="web", type="http", url=server.url,
                          timeout=timedelta(seconds=2))
            server.answer_next(Answer(status=200))  # the fake answers only POST itself
            healthy = await fetch(check, transport)
            server.answer_next(Answer(status=503))
            broken = await fetch(check, transport)
            server.answer_next(Answer(delay=5))
            hung = await fetch(check, transport)
            nursery.cancel_scope.cancel()
        closed = await fetch(check, transport)
    finally:
        await transport.aclose()
    assert healthy.status is None and healthy.metrics["status_code"] == 200
    assert healthy.message.startswith(f"{server.url} answered 200 in ")
    assert [request.method for request in server.requests][:2] == ["GET", "GET"]
    assert (broken.status, broken.message) == (
        CRITICAL, f"{server.url} answered 503, expected 200")
    assert (hung.status, hung.message) == (CRITICAL, f"{server.url}: no answer within 2s")
    assert closed.status is CRITICAL and "cannot connect" in closed.message
