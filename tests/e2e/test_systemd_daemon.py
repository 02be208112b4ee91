"""`router run` as systemd runs it: notifications over $NOTIFY_SOCKET in order, the watchdog,
socket activation, the second signal, and MemoryDenyWriteExecute=.

The notification socket is a real datagram socket of the test, bound at a path or an abstract
name as systemd's is. Socket activation is done as systemd does it: the test binds the listening
socket and the daemon gets it as descriptor 3 with LISTEN_FDS=1 and LISTEN_PID set to its own
pid, through a small wrapper that sets the variables and then execs `python -m router` in the
same process.

Only the MemoryDenyWriteExecute test runs on PostgreSQL too (psycopg's libpq under the same
rule); the others are about systemd's protocols, not the store, and are `sqlite_only`.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.e2e.conftest import (
    CONFIG,
    START_TIMEOUT,
    Backend,
    Daemon,
    StartDaemon,
    incident_ids,
    incidents_by_key,
    wait_until,
)

WATCHDOG_USEC = 400_000  # pings every 0.2 s


class Notifications:
    """The test's stand-in for systemd's notification socket."""

    def __init__(self, address: str, bind_to: str) -> None:
        self.address = address  # as $NOTIFY_SOCKET names it
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind(bind_to)

    def next(self, *, timeout: float = START_TIMEOUT, watchdog: bool = False) -> str:
        """The next message; WATCHDOG=1 pings are skipped unless `watchdog`."""
        deadline = time.monotonic() + timeout
        while True:
            self.socket.settimeout(max(deadline - time.monotonic(), 0.001))
            try:
                message = self.socket.recv(4096).decode()
            except TimeoutError:
                raise AssertionError(f"no notification within {timeout:g} s") from None
            if watchdog or message != "WATCHDOG=1":
                return message

    def rest(self) -> list[str]:
        """Every message waiting now."""
        found = []
        self.socket.setblocking(False)
        try:
            while True:
                found.append(self.socket.recv(4096).decode())
        except BlockingIOError:
            return found


@pytest.fixture(params=["path", "abstract"])
def notifications(request: pytest.FixtureRequest) -> Iterator[Notifications]:
    if request.param == "path":
        path = Path("/tmp") / f"router-notify-{uuid.uuid4().hex}"  # sun_path: 107 bytes
        found = Notifications(str(path), str(path))
    else:
        name = f"router-e2e-{uuid.uuid4().hex}"
        found = Notifications(f"@{name}", f"\0{name}")
    try:
        yield found
    finally:
        found.socket.close()
        if request.param == "path":
            Path(found.address).unlink()


def ready_status(daemon: Daemon) -> str:
    return (f"READY=1\nSTATUS=listening on http://127.0.0.1:{daemon.port} "
            f"and unix:{daemon.socket_path}")


def monotonic_usec(message: str) -> int:
    found = re.fullmatch(r"RELOADING=1\nMONOTONIC_USEC=([0-9]+)", message)
    assert found is not None, message
    return int(found[1])


@pytest.mark.sqlite_only
def test_notifications_arrive_in_order(start_daemon: StartDaemon,
                                       notifications: Notifications) -> None:
    daemon = start_daemon(env={"NOTIFY_SOCKET": notifications.address})
    assert notifications.next() == ready_status(daemon)
    with daemon.client() as client:  # ready means answering
        assert client.get("/healthz").status_code == 200

    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    daemon.send_signal(signal.SIGHUP)
    reloading = notifications.next()
    assert before <= monotonic_usec(reloading) <= time.clock_gettime_ns(
        time.CLOCK_MONOTONIC) // 1000
    assert notifications.next() == "READY=1\nSTATUS=config reloaded"

    (daemon.config_dir / "router.yaml").write_text("people: [{id: 7}]\n")
    daemon.send_signal(signal.SIGHUP)
    monotonic_usec(notifications.next())
    assert notifications.next() == ("READY=1\nSTATUS=config reload rejected: "
                                    "serving the previous config")
    with daemon.client() as client:  # still serving
        incident_ids(client.post("/v1/alerts", json={"summary": "After a bad push",
                                                     "labels": {"alertname": "Push"}}))

    daemon.stop()
    assert notifications.next() == "STOPPING=1\nSTATUS=finishing requests in flight"
    assert notifications.rest() == [], "nothing after STOPPING=1, and no watchdog unasked"


@pytest.mark.sqlite_only
def test_watchdog_pings_at_half_watchdog_usec(start_daemon: StartDaemon,
                                              notifications: Notifications) -> None:
    daemon = start_daemon(env={"NOTIFY_SOCKET": notifications.address,
                               "WATCHDOG_USEC": str(WATCHDOG_USEC)})
    assert notifications.next() == ready_status(daemon)
    assert set(notifications.rest()) <= {"WATCHDOG=1"}  # what queued meanwhile
    assert notifications.next(watchdog=True, timeout=5) == "WATCHDOG=1"
    started = time.monotonic()
    for _ in range(3):  # three intervals of 0.2 s
        assert notifications.next(watchdog=True, timeout=5) == "WATCHDOG=1"
    assert time.monotonic() - started >= 0.5, "pinging faster than asked"
    daemon.send_signal(signal.SIGHUP)  # pings go on around a reload, in order with it
    assert notifications.next().startswith("RELOADING=1\n")
    assert notifications.next() == "READY=1\nSTATUS=config reloaded"
    daemon.stop()
    assert notifications.next() == "STOPPING=1\nSTATUS=finishing requests in flight"
    assert set(notifications.rest()) <= {"WATCHDOG=1"}


@pytest.mark.sqlite_only
def test_watchdog_pid_of_another_process_means_no_pings(start_daemon: StartDaemon,
                                                        notifications: Notifications) -> None:
    daemon = start_daemon(env={"NOTIFY_SOCKET": notifications.address,
                               "WATCHDOG_USEC": str(WATCHDOG_USEC),
                               "WATCHDOG_PID": str(os.getpid())})  # the test's pid
    assert notifications.next(watchdog=True) == ready_status(daemon)
    time.sleep(WATCHDOG_USEC / 1e6)  # two intervals
    daemon.stop()
    assert notifications.next(watchdog=True).startswith("STOPPING=1\n")
    assert notifications.rest() == []


@pytest.mark.sqlite_only
def test_second_signal_stops_at_once(daemon: Daemon) -> None:
    """SIGTERM waits for a request in flight (up to 10 s); SIGINT then cancels it at once."""
    with socket.create_connection(("127.0.0.1", daemon.port), timeout=10) as connection:
        connection.sendall(b"POST /v1/alerts HTTP/1.1\r\nHost: router\r\n"
                           b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        # Answered on a later connection: the accept queue is served in order, so by now the
        # POST's head has been read and the daemon waits for the rest of its body.
        with daemon.client() as client:
            assert client.get("/healthz").status_code == 200
        daemon.send_signal(signal.SIGTERM)
        wait_until(lambda: "shutting down" in daemon.log(), timeout=10,
                   what=lambda: f"the daemon to start draining; its log:\n{daemon.log()}")
        time.sleep(1)
        assert daemon.process is not None and daemon.process.poll() is None, \
            "SIGTERM did not wait for the request in flight"
        signalled = time.monotonic()
        daemon.send_signal(signal.SIGINT)
        code = daemon.wait_exit(timeout=5)
        assert time.monotonic() - signalled < 5
        try:
            answer = connection.recv(4096)
        except ConnectionResetError:
            answer = b""
        assert answer == b"", "the half-sent request is dropped unanswered, not accepted"
    assert code == 0, daemon.log()
    assert "second signal: stopping at once" in daemon.log()
    assert not daemon.socket_path.exists(), "the socket file outlived the daemon"


WRAPPER = """
import ctypes, os, sys
split = sys.argv.index("--")
options, command = sys.argv[1:split], sys.argv[split + 1:]
for option in options:
    if option == "mdwe":  # as MemoryDenyWriteExecute=yes; kept across execve
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(65, 1, 0, 0, 0) != 0:  # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN
            sys.exit("prctl(PR_SET_MDWE): " + os.strerror(ctypes.get_errno()))
    elif option.startswith("fd="):  # as systemd passes a .socket unit's socket
        passed = int(option[3:])
        os.dup2(passed, 3)
        os.close(passed)
        os.environ.update(LISTEN_FDS="1", LISTEN_PID=str(os.getpid()), LISTEN_FDNAMES="http")
os.execv(command[0], command)
"""


class WrappedDaemon(Daemon):
    """A daemon started through WRAPPER with `options`, descriptors in `pass_fds` passed down."""

    options: Sequence[str] = ()
    pass_fds: Sequence[int] = ()

    def start(self) -> None:
        """Start and wait until both listeners accept (as Daemon.start, through WRAPPER)."""
        command = [sys.executable, "-c", WRAPPER, *self.options, "--",
                   sys.executable, "-m", "router", "run", "--config", str(self.config_dir),
                   *self.store_options, "--listen", "127.0.0.1:0",
                   "--socket", str(self.socket_path)]
        self._log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=log, env=self.env, pass_fds=self.pass_fds)
        found = wait_until(self._listening, timeout=START_TIMEOUT,
                           what=lambda: f"router run to log 'listening on'; its log:\n"
                                        f"{self.log()}")
        self.port = int(found["port"])


@pytest.fixture
def wrapped(tmp_path: Path, backend: Backend) -> Iterator[WrappedDaemon]:
    """A daemon on CONFIG and `backend`'s store, not yet started; killed at teardown, its log
    shown on failure."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "router.yaml").write_text(textwrap.dedent(CONFIG))
    socket_dir = Path(tempfile.mkdtemp(prefix="router-e2e-"))  # sun_path: 107 bytes
    daemon = WrappedDaemon(config_dir=tmp_path / "config", state_dir=tmp_path / "state",
                           socket_path=socket_dir / "router.sock",
                           log_path=tmp_path / "router.log", env={},
                           store_url=backend.new_store())
    try:
        yield daemon
    finally:
        daemon.kill()
        print(f"--- router log ({daemon.log_path}):\n{daemon.log()}")
        shutil.rmtree(socket_dir, ignore_errors=True)


def passable(sock: socket.socket) -> int:
    """A close-on-exec copy of the socket at 100 or above: the wrapper moves it to 3."""
    return fcntl.fcntl(sock.fileno(), fcntl.F_DUPFD_CLOEXEC, 100)


def post_raw(port: int) -> socket.socket:
    """A connection with a whole POST /v1/alerts sent; the answer is read later."""
    body = b'{"summary": "Queued while down", "labels": {"alertname": "Queued"}}'
    connection = socket.create_connection(("127.0.0.1", port), timeout=START_TIMEOUT)
    connection.sendall(b"POST /v1/alerts HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                       b"Content-Type: application/json\r\nContent-Length: "
                       + str(len(body)).encode() + b"\r\n\r\n" + body)
    return connection


@pytest.mark.sqlite_only
def test_socket_activation_serves_the_passed_socket(
        wrapped: WrappedDaemon, notifications: Notifications) -> None:
    """The daemon serves HTTP on descriptor 3 and binds nothing itself; a request that
    arrives while it restarts waits in the socket's backlog instead of being refused."""
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen(16)
        port = listening.getsockname()[1]
        copy = passable(listening)
        wrapped.options, wrapped.pass_fds = [f"fd={copy}"], [copy]
        wrapped.env = {**wrapped.env, "NOTIFY_SOCKET": notifications.address}
        try:
            wrapped.start()
        finally:
            os.close(copy)
        assert wrapped.port == port, "not --listen 127.0.0.1:0: the socket it was given"
        assert notifications.next() == ready_status(wrapped)
        assert "socket activation: 1 socket from systemd (http)" in wrapped.log()
        with wrapped.client() as client:
            [first] = incident_ids(client.post("/v1/alerts", json={
                "summary": "Through socket activation", "labels": {"alertname": "Activated"}}))
        wrapped.stop()

        queued = post_raw(port)  # nobody accepts: the kernel queues it
        copy = passable(listening)
        wrapped.pass_fds = [copy]
        try:
            wrapped.start()
        finally:
            os.close(copy)
        with queued:
            answer = queued.makefile("rb").read()
        assert answer.startswith(b"HTTP/1.1 202 "), answer
        with wrapped.client() as client:
            found = incidents_by_key(client)
        assert {item["summary"] for item in found.values()} == {
            "Through socket activation", "Queued while down"}
        assert first in {item["id"] for item in found.values()}
        wrapped.stop()


@pytest.mark.sqlite_only
def test_socket_activation_refuses_a_datagram_socket(wrapped: WrappedDaemon) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as datagram:
        datagram.bind(("127.0.0.1", 0))
        copy = passable(datagram)
        wrapped.options, wrapped.pass_fds = [f"fd={copy}"], [copy]
        try:
            with pytest.raises(AssertionError, match="exited 2 before listening"):
                wrapped.start()
        finally:
            os.close(copy)
        where = datagram.getsockname()
    assert (f"router run: socket activation: {where!r} (descriptor 3) is not a listening TCP "
            "socket; router serves HTTP on ListenStream=HOST:PORT sockets only") in wrapped.log()
    assert "Traceback" not in wrapped.log()


MDWE_PROBE = """
import ctypes, mmap, os
libc = ctypes.CDLL(None, use_errno=True)
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    refused = "allowed"
except OSError as error:
    refused = error.strerror
print(f"PR_GET_MDWE={libc.prctl(66, 0, 0, 0, 0)} write+execute: {refused}")
"""
"""Shows the wrapper's PR_SET_MDWE survives execve and refuses what systemd's filter does."""


def memory_deny_write_execute_supported() -> bool:
    libc = ctypes.CDLL(None, use_errno=True)
    return int(libc.prctl(66, 0, 0, 0, 0)) >= 0  # PR_GET_MDWE: Linux >= 6.3


@pytest.mark.skipif(not memory_deny_write_execute_supported(),
                    reason="prctl(PR_SET_MDWE) needs Linux >= 6.3")
def test_daemon_runs_with_memory_deny_write_execute(wrapped: WrappedDaemon) -> None:
    """router.service sets MemoryDenyWriteExecute=yes; the kernel's own switch for the same
    rule proves the daemon (CPython, trio, jsonschema-rs, Jinja, SQLite) never needs a page
    both writable and executable: ingest, templates, the store, a reload and a drain."""
    probe = subprocess.run([sys.executable, "-c", WRAPPER, "mdwe", "--", sys.executable,
                            "-c", MDWE_PROBE], capture_output=True, text=True, timeout=30,
                           check=False)
    assert probe.stdout == "PR_GET_MDWE=1 write+execute: Permission denied\n", probe.stderr

    wrapped.options = ["mdwe"]
    wrapped.start()
    with wrapped.client() as client:
        [incident] = incident_ids(client.post("/v1/alerts", json={
            "summary": "Under MDWE", "labels": {"alertname": "Hardened", "job": "backup",
                                                "host": "db1"}}))
        assert incident is not None
        assert client.get(f"/v1/incidents/{incident}").status_code == 200
        assert client.get("/v1/oncall").status_code == 200
    wrapped.send_signal(signal.SIGHUP)
    wait_until(lambda: "config reloaded" in wrapped.log(), timeout=10,
               what=lambda: f"the reload; its log:\n{wrapped.log()}")
    wrapped.stop()
    assert "Traceback" not in wrapped.log()
