"""router/daemon/systemd.py against real sockets, and the units in systemd/ against systemd-analyze.

notify() is checked by a real AF_UNIX datagram socket bound at a path and at an abstract name,
as systemd's own $NOTIFY_SOCKET is. listen_fds() runs in a child process, because socket
activation means "the sockets are file descriptors 3, 4, ..." and those numbers belong to
pytest in this process.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio
import trio.testing

from router.cli.main import build_parser
from router.config.database_url import parse_store
from router.config.model import DatabaseUrl
from router.config.secrets import SecretResolver
from router.daemon import systemd

REPOSITORY = Path(__file__).resolve().parents[2]
UNITS = REPOSITORY / "systemd"
EXPOSURE_LIMIT = 1.1
"""`systemd-analyze security` rates router.service at this (systemd 252): "OK" is below 5."""


class Receiver:
    """A datagram socket standing in for systemd's notification socket."""

    def __init__(self, address: str, bind_to: str) -> None:
        self.address = address  # as $NOTIFY_SOCKET names it
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind(bind_to)
        self.socket.settimeout(5)

    def receive(self) -> str:
        return self.socket.recv(4096).decode()

    def pending(self) -> bool:
        self.socket.setblocking(False)
        try:
            self.socket.recv(4096, socket.MSG_PEEK)
        except BlockingIOError:
            return False
        finally:
            self.socket.settimeout(5)
        return True


@pytest.fixture(params=["path", "abstract"])
def receiver(request: pytest.FixtureRequest, tmp_path: Path,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    if request.param == "path":
        path = tmp_path / "notify"
        if len(str(path)) > 100:  # sun_path holds 107 bytes
            path = Path("/tmp") / f"router-notify-{uuid.uuid4().hex}"
        found = Receiver(str(path), str(path))
    else:
        name = f"router-test-{uuid.uuid4().hex}"
        found = Receiver(f"@{name}", f"\0{name}")
    monkeypatch.setenv("NOTIFY_SOCKET", found.address)
    try:
        yield found
    finally:
        found.socket.close()
        if request.param == "path":
            Path(found.address).unlink(missing_ok=True)


def test_notify_sends_states_as_one_datagram(receiver: Receiver) -> None:
    assert systemd.notify("READY=1", "STATUS=listening on http://127.0.0.1:9080")
    assert receiver.receive() == "READY=1\nSTATUS=listening on http://127.0.0.1:9080"
    assert systemd.notify("STOPPING=1")
    assert receiver.receive() == "STOPPING=1"
    assert not receiver.pending()


def test_notify_without_notify_socket_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert systemd.notify("READY=1") is False
    monkeypatch.setenv("NOTIFY_SOCKET", "")
    assert systemd.notify("READY=1") is False


def test_notify_refuses_a_state_that_would_break_the_protocol(receiver: Receiver) -> None:
    with pytest.raises(ValueError, match=r"KEY=VALUE on one line, not 'READY'"):
        systemd.notify("READY")
    with pytest.raises(ValueError, match=r"not 'STATUS=a\\nREADY=1'"):
        systemd.notify("STATUS=a\nREADY=1")
    assert not receiver.pending()


def test_notify_to_a_missing_socket_warns_and_goes_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "nobody"))
    with caplog.at_level(logging.WARNING, logger="router.daemon.systemd"):
        assert systemd.notify("READY=1") is False
    assert caplog.messages == [f"could not notify systemd (READY=1) at NOTIFY_SOCKET="
                               f"{tmp_path / 'nobody'}: No such file or directory"]


def test_notify_ignores_a_vsock_address(monkeypatch: pytest.MonkeyPatch,
                                        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", "vsock:2:1234")
    with caplog.at_level(logging.WARNING, logger="router.daemon.systemd"):
        assert systemd.notify("READY=1") is False
    assert caplog.messages == ["NOTIFY_SOCKET=vsock:2:1234 is neither a path nor an abstract "
                               "name; not notifying systemd"]


def test_monotonic_usec_is_clock_monotonic_in_microseconds() -> None:
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    found = re.fullmatch(r"MONOTONIC_USEC=([0-9]+)", systemd.monotonic_usec())
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert found is not None
    assert before <= int(found[1]) <= after


@pytest.mark.parametrize(("usec", "pid", "expected"), [
    (None, None, None),
    ("30000000", None, 15.0),
    ("30000000", "self", 15.0),
    ("30000000", "other", None),
    ("200000", None, 0.1),
    ("0", None, None),
    ("soon", None, None),
    ("-5", None, None),
])
def test_watchdog_interval_is_half_of_watchdog_usec(
        monkeypatch: pytest.MonkeyPatch, usec: str | None, pid: str | None,
        expected: float | None) -> None:
    for name, value in (("WATCHDOG_USEC", usec), ("WATCHDOG_PID", pid)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            value = {"self": str(os.getpid()), "other": str(os.getpid() + 1)}.get(value, value)
            monkeypatch.setenv(name, value)
    assert systemd.watchdog_interval() == expected


async def test_ping_watchdog_pings_at_the_interval(
        receiver: Receiver, autojump_clock: trio.testing.MockClock) -> None:
    start = trio.current_time()
    with trio.move_on_after(10.5):
        await systemd.ping_watchdog(5.0)
    assert trio.current_time() - start == pytest.approx(10.5)
    assert [receiver.receive() for _ in range(3)] == ["WATCHDOG=1"] * 3
    assert not receiver.pending()


def test_listen_fds_ignores_variables_meant_for_another_process(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LISTEN_PID", str(os.getpid() + 1))
    monkeypatch.setenv("LISTEN_FDS", "1")
    monkeypatch.setenv("LISTEN_FDNAMES", "http")
    assert systemd.listen_fds() == []
    assert not {"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} & set(os.environ)


def test_listen_fds_without_activation_is_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        monkeypatch.delenv(name, raising=False)
    assert systemd.listen_fds() == []


def test_listen_fds_refuses_a_count_that_is_not_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LISTEN_PID", str(os.getpid()))
    monkeypatch.setenv("LISTEN_FDS", "two")
    with pytest.raises(ValueError, match="LISTEN_FDS='two' is not a count of file descriptors"):
        systemd.listen_fds()
    assert "LISTEN_FDS" not in os.environ


ACTIVATED = """
import json, os, socket, sys
from router.cli.main import build_parser
from router.config.database_url import parse_store
from router.config.model import DatabaseUrl
from router.config.secrets import SecretResolver
from router.daemon import systemd
count = len(sys.argv) - 1
for target, passed in enumerate(sys.argv[1:], start=3):  # as systemd lays them out
    os.dup2(int(passed), target)
os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS=str(count),
                  LISTEN_FDNAMES=":".join(f"name{n}" for n in range(count)))
try:
    sockets = systemd.listen_fds()
except ValueError as error:
    print(json.dumps({"error": str(error)}))
    sys.exit(0)
print(json.dumps({
    "sockets": [[s.fileno(), s.family.name, s.type.name, list(s.getsockname()[:2]),
                 os.get_inheritable(s.fileno())] for s in sockets],
    "left": sorted(name for name in os.environ if name.startswith("LISTEN_")),
}))
"""


def activated_child(*sockets: socket.socket | int) -> dict[str, object]:
    """What listen_fds() finds in a child given these sockets as descriptors 3, 4, ..."""
    numbers = [item if isinstance(item, int) else item.fileno() for item in sockets]
    # Copies at 100 and up: none is clobbered when the child lays them out from 3.
    high = [fcntl.fcntl(number, fcntl.F_DUPFD_CLOEXEC, 100) for number in numbers]
    try:
        completed = subprocess.run(
            [sys.executable, "-c", ACTIVATED, *map(str, high)], pass_fds=high,
            capture_output=True, text=True, timeout=30, cwd=REPOSITORY, check=False)
    finally:
        for number in high:
            os.close(number)
    assert completed.returncode == 0, completed.stderr
    found: dict[str, object] = json.loads(completed.stdout)
    return found


def test_listen_fds_adopts_the_sockets_from_descriptor_3() -> None:
    with socket.socket() as tcp, socket.socket(socket.AF_INET6) as tcp6:
        tcp.bind(("127.0.0.1", 0))
        tcp.listen()
        tcp6.bind(("::1", 0))
        tcp6.listen()
        found = activated_child(tcp, tcp6)
        ports = tcp.getsockname()[1], tcp6.getsockname()[1]
    assert found == {
        "sockets": [
            [3, "AF_INET", "SOCK_STREAM", ["127.0.0.1", ports[0]], False],
            [4, "AF_INET6", "SOCK_STREAM", ["::1", ports[1]], False],
        ],
        "left": [],
    }


def test_listen_fds_names_a_descriptor_that_is_not_a_socket(tmp_path: Path) -> None:
    with (tmp_path / "file").open("w") as file:
        found = activated_child(file.fileno())
    assert found == {"error": "socket activation: file descriptor 3 of LISTEN_FDS=1 is not an "
                              "open socket (Socket operation on non-socket)"}


async def test_listeners_wraps_listening_tcp_sockets() -> None:
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen()
    [listener] = systemd.listeners([tcp])
    try:
        assert isinstance(listener, trio.SocketListener)
        assert listener.socket.getsockname() == tcp.getsockname()
    finally:
        await listener.aclose()


@pytest.mark.parametrize("kind", ["udp", "not listening", "unix"])
def test_listeners_refuses_what_cannot_serve_http(kind: str) -> None:
    family = socket.AF_UNIX if kind == "unix" else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM)
    if kind == "unix":
        sock.bind(f"\0router-test-{uuid.uuid4().hex}")
        sock.listen()
    else:
        sock.bind(("127.0.0.1", 0))
    number, where = sock.fileno(), sock.getsockname()
    with pytest.raises(ValueError) as raised:
        systemd.listeners([sock])
    assert str(raised.value) == (
        f"socket activation: {where!r} (descriptor {number}) is not a listening TCP socket; "
        "router serves HTTP on ListenStream=HOST:PORT sockets only")
    assert sock.fileno() == -1, "closed, so the daemon holds no half-adopted socket"


# The units. systemd-analyze checks a unit's ExecStart= binary exists, so it checks a copy whose
# ExecStart= points at this checkout's `router` instead of /opt/router/venv/bin/router.

ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(ANALYZE is None,
                                   reason="systemd-analyze is not installed (apt install systemd)")


@pytest.fixture
def units(tmp_path: Path) -> Path:
    router = Path(sys.executable).with_name("router")
    assert router.exists(), f"{router}: the venv's entry point (pip install -e .)"
    service = (UNITS / "router.service").read_text()
    assert "ExecStart=/opt/router/venv/bin/router run " in service
    (tmp_path / "router.service").write_text(
        service.replace("/opt/router/venv/bin/router", str(router)))
    shutil.copy(UNITS / "router.socket", tmp_path / "router.socket")
    return tmp_path


@pytest.fixture
def node_units(units: Path) -> Path:
    """`units` with systemd/router-node.conf installed as router.service's drop-in, as
    docs/ha.md tells each node to (its ExecStart= pointed at this checkout's `router`)."""
    drop_in = (UNITS / "router-node.conf").read_text()
    assert "\nExecStart=/opt/router/venv/bin/router run " in drop_in
    (units / "router.service.d").mkdir()
    (units / "router.service.d" / "node.conf").write_text(
        drop_in.replace("/opt/router/venv/bin/router", str(Path(sys.executable).with_name(
            "router"))))
    return units


def analyze(*arguments: str) -> subprocess.CompletedProcess[str]:
    assert ANALYZE is not None
    return subprocess.run([ANALYZE, *arguments], capture_output=True, text=True, timeout=60,
                          check=False)


@needs_analyze
def test_units_pass_systemd_analyze_verify(units: Path) -> None:
    verified = analyze("verify", str(units / "router.service"), str(units / "router.socket"))
    assert verified.returncode == 0, verified.stderr
    assert verified.stderr == "", "warnings are mistakes in a unit too"


@needs_analyze
def test_service_exposure_is_ok(units: Path) -> None:
    rated = analyze("security", "--offline=true", str(units / "router.service"))
    assert rated.returncode == 0, rated.stderr
    found = re.search(r"Overall exposure level for router\.service: ([0-9.]+) (\w+)",
                      rated.stdout)
    assert found is not None, rated.stdout
    assert float(found[1]) <= EXPOSURE_LIMIT, rated.stdout
    assert found[2] == "OK", rated.stdout


def test_service_runs_what_the_daemon_expects() -> None:
    """The lines the daemon's behaviour depends on, which systemd-analyze cannot judge."""
    directives = {}
    for line in (UNITS / "router.service").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            directives.setdefault(key, value)
    assert directives["Type"] == "notify"
    assert directives["NotifyAccess"] == "main"
    assert directives["ExecStart"] == ("/opt/router/venv/bin/router run --config "
                                       "${CONFIGURATION_DIRECTORY} --state ${STATE_DIRECTORY}")
    assert directives["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert directives["StateDirectory"] == directives["ConfigurationDirectory"] == "router"
    assert directives["DynamicUser"] == "yes"
    assert directives["RestrictAddressFamilies"] == "AF_UNIX AF_INET AF_INET6"
    socket_unit = (UNITS / "router.socket").read_text()
    assert "\nService=router.service\n" in socket_unit
    assert "\nListenStream=127.0.0.1:9080\n" in socket_unit


@needs_analyze
def test_node_drop_in_passes_systemd_analyze_verify(node_units: Path) -> None:
    verified = analyze("verify", str(node_units / "router.service"))
    assert verified.returncode == 0, verified.stderr
    assert verified.stderr == "", "warnings are mistakes in a drop-in too"


@needs_analyze
def test_node_drop_in_keeps_the_exposure(node_units: Path) -> None:
    rated = analyze("security", "--offline=true", str(node_units / "router.service"))
    assert rated.returncode == 0, rated.stderr
    found = re.search(r"Overall exposure level for router\.service: ([0-9.]+) (\w+)",
                      rated.stdout)
    assert found is not None, rated.stdout
    assert float(found[1]) <= EXPOSURE_LIMIT, rated.stdout


def node_command(host: str) -> list[str]:
    """The drop-in's ExecStart= as systemd hands it to exec: continuation lines joined, `$$`
    a literal `$`, `%H` the host name, the unit's directory variables filled in."""
    text = (UNITS / "router-node.conf").read_text().replace("\\\n", " ")
    [line] = [line for line in text.splitlines() if line.startswith("ExecStart=/")]
    unescaped = re.search(r"(?<!\$)\$\{(?!CONFIGURATION_DIRECTORY\}|STATE_DIRECTORY\})", line)
    assert unescaped is None, f"systemd would expand {line[unescaped.start():]!r}: write $${{"
    line = (line.removeprefix("ExecStart=").replace("${CONFIGURATION_DIRECTORY}", "/etc/router")
            .replace("${STATE_DIRECTORY}", "/var/lib/router").replace("%H", host)
            .replace("$$", "$"))
    assert "%" not in line and "$$" not in line, line
    return shlex.split(line)


def test_node_drop_in_starts_a_node_on_postgresql(tmp_path: Path) -> None:
    """What router reads from the drop-in's command line: the node id, the address, and a
    store URL it accepts, naming every database host, its password read from the credential."""
    command = node_command("router-a.example.com")
    assert command[:2] == ["/opt/router/venv/bin/router", "run"]
    store = command[command.index("--store") + 1]
    command[command.index("--store") + 1] = "sqlite"  # the credential exists only under systemd
    arguments = build_parser().parse_args(command[1:])
    assert (arguments.node_id, arguments.listen) == ("router-a.example.com", "0.0.0.0:9080")
    assert (arguments.config, arguments.state) == ([Path("/etc/router")], Path("/var/lib/router"))
    credential = "/run/credentials/router.service/pg-password"
    assert f"router_node:${{file:{credential}}}@" in store
    (tmp_path / "pg-password").write_text("s3cret/:@")
    url = parse_store(store.replace(credential, str(tmp_path / "pg-password")),
                      SecretResolver(), tmp_path)
    assert isinstance(url, DatabaseUrl) and url.url is not None
    assert url.shown == "postgresql://db1.example.com,db2.example.com/router"
    assert url.url.reveal() == (
        "postgresql://router_node:s3cret%2F%3A%40@db1.example.com,db2.example.com/router"
        "?target_session_attrs=read-write&sslmode=verify-full&sslrootcert=/etc/router/pg-ca.crt"
        "&connect_timeout=5&tcp_user_timeout=10000")
