"""End-to-end fixtures: `router run` as a subprocess with a temporary config and state directory,
reached over real loopback HTTP and its real unix socket.

The daemon is started on `--listen 127.0.0.1:0`; its log line `listening on http://HOST:PORT and
unix:PATH` names the port the kernel picked, so no port is guessed and none can be taken by
another process between choosing and binding it. Its stdout and stderr go to a file, not a pipe:
a pipe nobody reads fills up under load and stalls the daemon. Every failure message quotes
that log.

The store is a backend the test is run on (`backend`): every test that starts a daemon through
`start_daemon` (or `daemon`) runs twice, once on SQLite in the state directory and once on
PostgreSQL (issue 18: the same behaviour on both), each run on a fresh database of its own from
the throwaway cluster of tests/postgres_server.py, passed as `router run --store URL`. A test
about SQLite by nature (file modes, WAL, `router store` on a state directory, export's read of
the file) or about something the store plays no part in (TLS, systemd, reloading the config)
is marked `sqlite_only` and runs once, on SQLite; its docstring says why. CLI commands that
read the daemon's store take `*daemon.store_options` (`--state DIR`, and `--store URL` on
PostgreSQL).
"""

from __future__ import annotations

import json
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
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import trio

from router.store import postgres
from tests.postgres_server import Cluster

T = TypeVar("T")

BACKENDS = ("sqlite", "postgresql")
"""The stores every end-to-end test that starts a daemon runs on, unless `sqlite_only`."""

ROUTING_KEY = "e2e0api0routing0key0000000000001"
"""A PagerDuty routing key of service `api` (PagerDuty's keys are 32 characters)."""

PAYLOADS = Path(__file__).parent.parent / "alerts" / "formats" / "payloads"
"""The real example payloads of each sender, shared with the format tests."""

CONFIG = f"""
settings:
  timezone: UTC
people:
  - id: on-call-engineer
    name: On-call Engineer
    contact_methods: [{{type: email, address: oncall@example.com}}]
  - id: backup
    contact_methods: [{{type: email, address: backup@example.com}}]
channels:
  - {{id: log, type: log}}
  - {{id: audit, type: log, level: warning}}
  - {{id: slack, type: slack, webhook_url: "http://127.0.0.1:9/slack"}}
rotas:
  - id: primary
    timezone: UTC
    layers:
      - {{members: [on-call-engineer], every: 1w, handoff: "09:00", handoff_day: mon,
         start: 2020-01-06}}
escalation_policies:
  - id: default
    levels:
      - {{targets: [{{rota: primary}}], delay: 15m}}
      - {{targets: [{{person: backup}}], delay: 15m}}
services:
  - id: api
    escalation_policy: default
    channels: [log]
    routing_keys: ["{ROUTING_KEY}"]
  - id: database
    escalation_policy: default
    channels: [log]
    dedup_key: "{{{{ labels.host }}}}/{{{{ labels.job }}}}"
  - {{id: monitoring, escalation_policy: default, channels: [audit]}}
  - {{id: general, escalation_policy: default, channels: [log]}}
routes:
  - name: backups
    match: [job=backup]
    service: database
  - name: the blue team's Grafana
    match: [team=blue]
    service: monitoring
  - name: staging is never urgent
    match: [env=staging]
    severity: info
    continue: true
  - name: anything without a service
    match: ['service=""']
    service: general
suppressions:
  - id: staging
    reason: staging never pages
    match: [env=staging]
    from: 2020-01-01T00:00
    until: 2099-01-01T00:00
"""
"""A small complete config: one person always on call, services (one with routing keys, one
with a dedup key template), routes, a suppression, log channels (and a Slack channel for the
socket's send_alert; nothing is delivered to it in these tests)."""

START_TIMEOUT = 20.0  # seconds until "listening on"; a cold start takes about one
STOP_TIMEOUT = 15.0  # seconds until exit after SIGTERM; in-flight requests get 10 s of grace
LISTENING = re.compile(
    r'listening on https?://(?P<host>\S+):(?P<port>[0-9]+) and unix:(?P<socket>[^\s"]+)')


def wait_until(condition: Callable[[], T | None], *, timeout: float,
               what: str | Callable[[], str], interval: float = 0.05) -> T:
    """Poll `condition` until it returns something truthy, and return that.

    Raises:
        AssertionError: naming `what` (called then, if callable, so it can quote a log as it
            is at the failure) when `timeout` seconds passed first.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            description = what() if callable(what) else what
            raise AssertionError(f"{description}: not within {timeout:g} s (last: {value!r})")
        time.sleep(interval)


class Daemon:
    """One `router run` subprocess over a config and a state directory that outlive it."""

    def __init__(self, *, config_dir: Path, state_dir: Path, socket_path: Path,
                 log_path: Path, env: Mapping[str, str], arguments: Sequence[str] = (),
                 store_url: str | None = None) -> None:
        self.config_dir = config_dir
        self.arguments = tuple(arguments)  # more options for `router run`
        self.state_dir = state_dir
        self.store_url = store_url  # a PostgreSQL database's; None: SQLite in state_dir
        self.socket_path = socket_path
        self.log_path = log_path
        self.env = {**os.environ, **env}
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self._log_start = 0  # where this run's lines begin in the log file

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def store_options(self) -> list[str]:
        """The options that name this daemon's store to a CLI command (and to `router run`):
        `--state DIR`, and `--store URL` when the store is PostgreSQL's."""
        store = ["--store", self.store_url] if self.store_url is not None else []
        return ["--state", str(self.state_dir), *store]

    def log(self) -> str:
        """Everything the daemon wrote, over all its runs."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self) -> None:
        """Start and wait until both listeners accept."""
        assert self.process is None or self.process.poll() is not None, "already running"
        command = [sys.executable, "-m", "router", "run", "--config", str(self.config_dir),
                   *self.store_options, "--listen", "127.0.0.1:0",
                   "--socket", str(self.socket_path), *self.arguments]
        self._log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=log, env=self.env)
        found = wait_until(self._listening, timeout=START_TIMEOUT,
                           what=lambda: f"router run to log 'listening on'; its log:\n"
                                        f"{self.log()}")
        self.port = int(found["port"])
        assert found["socket"] == str(self.socket_path), self.log()

    def _listening(self) -> re.Match[str] | None:
        with self.log_path.open("rb") as log:
            log.seek(self._log_start)
            text = log.read().decode(errors="replace")
        found = LISTENING.search(text)
        if found is None and self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"router run exited {self.process.returncode} before "
                                 f"listening; its log:\n{self.log()}")
        return found

    def send_signal(self, number: int) -> None:
        assert self.process is not None
        self.process.send_signal(number)

    def wait_exit(self, timeout: float = STOP_TIMEOUT) -> int:
        """The exit code, once the process has exited."""
        assert self.process is not None
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"router run did not exit within {timeout:g} s; its log:\n"
                                 f"{self.log()}") from None

    def stop(self) -> None:
        """SIGTERM, and exit 0 within STOP_TIMEOUT."""
        self.send_signal(signal.SIGTERM)
        code = self.wait_exit()
        assert code == 0, f"router run exited {code} after SIGTERM; its log:\n{self.log()}"
        assert not self.socket_path.exists(), "the socket file outlived the daemon"

    def restart(self) -> None:
        self.stop()
        self.start()

    def kill(self) -> None:
        """SIGKILL if still running; always reaps the process."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    @property
    def admin_token(self) -> str:
        """The admin token the daemon wrote to its state directory on first start."""
        return (self.state_dir / "admin.token").read_text().strip()

    def client(self, token: str | None = None) -> httpx.Client:
        """A client that sends `token`: by default the daemon's admin token (every scope),
        so a test that is not about access need not care; "" for none."""
        token = self.admin_token if token is None else token
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=10.0,
                            trust_env=False)

    def connect(self) -> LineClient:
        return LineClient(self.socket_path)


class LineClient:
    """One connection to the unix socket: a JSON line out, a JSON line back."""

    def __init__(self, path: Path, timeout: float = 10.0) -> None:
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.socket.settimeout(timeout)
        self.socket.connect(str(path))
        self.reader = self.socket.makefile("rb")

    def __enter__(self) -> LineClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.reader.close()
        self.socket.close()

    def send_line(self, line: bytes) -> None:
        self.socket.sendall(line + b"\n")

    def receive(self) -> dict[str, Any]:
        line = self.reader.readline()
        assert line.endswith(b"\n"), f"connection closed; got {line!r}"
        answer: dict[str, Any] = json.loads(line)
        return answer

    def ask(self, document: object) -> dict[str, Any]:
        self.send_line(json.dumps(document).encode())
        return self.receive()


StartDaemon = Callable[..., Daemon]


class Backend:
    """The store the daemons of a test run on: SQLite in each one's state directory, or on
    PostgreSQL a fresh database of the session's cluster for each daemon, a copy of
    `template` (a database migrated once: copying is cheaper than migrating)."""

    def __init__(self, name: str, cluster: Cluster | None = None, template: str = "") -> None:
        assert (name == "postgresql") == (cluster is not None), name
        self.name = name
        self.cluster = cluster
        self.template = template

    def new_store(self) -> str | None:
        """A new daemon's store: a new database's URL, or None for SQLite."""
        if self.cluster is None:
            return None
        return self.cluster.create_database(self.template)


class Daemons:
    """Starts daemons under one directory and kills them all at `close`."""

    def __init__(self, root: Path, backend: Backend | None = None) -> None:
        self.root = root
        self.backend = backend or Backend("sqlite")
        self.started: list[Daemon] = []
        # A unix socket path has at most 107 bytes; pytest's tmp_path can be longer.
        self.socket_dir = Path(tempfile.mkdtemp(prefix="router-e2e-"))

    def start(self, config: str = CONFIG, env: Mapping[str, str] | None = None,
              arguments: Sequence[str] = ()) -> Daemon:
        """A running daemon with its own config and state directory; `arguments` are more
        options for `router run`."""
        home = self.root / f"daemon-{len(self.started)}"
        config_dir = home / "config"
        config_dir.mkdir(parents=True)
        (config_dir / "router.yaml").write_text(textwrap.dedent(config))
        daemon = Daemon(config_dir=config_dir, state_dir=home / "state",
                        socket_path=self.socket_dir / f"{len(self.started)}.sock",
                        log_path=home / "router.log", env=env or {}, arguments=arguments,
                        store_url=self.backend.new_store())
        self.started.append(daemon)
        daemon.start()
        return daemon

    def close(self) -> None:
        for daemon in self.started:
            daemon.kill()
            # Captured output: pytest shows it with a failing test, and only then.
            print(f"--- router log ({daemon.log_path}):\n{daemon.log()}")
        shutil.rmtree(self.socket_dir, ignore_errors=True)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sqlite_only: an end-to-end test that runs on SQLite alone (about SQLite's "
                   "files, or not about the store; its docstring says which)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that starts a daemon runs on each backend, a `sqlite_only` one on SQLite."""
    if ("backend" in metafunc.fixturenames
            and metafunc.definition.get_closest_marker("sqlite_only") is None):
        metafunc.parametrize("backend", BACKENDS, indirect=True, scope="module")


@pytest.fixture(scope="session")
def postgres_template(postgres_cluster: Cluster) -> str:
    """The name of a database of the session's cluster brought to the newest schema, which
    the daemons' databases are copies of (CREATE DATABASE ... TEMPLATE)."""
    url = postgres_cluster.create_database()

    async def migrate() -> None:
        store = await postgres.Store.open(url)
        await store.close()
    trio.run(migrate)
    return url.rpartition("/")[2]


@pytest.fixture(scope="module")
def backend(request: pytest.FixtureRequest) -> Backend:
    """The store this run of the test is on (module-scoped, so that a daemon kept for a
    whole module can be on it too)."""
    name: str = getattr(request, "param", "sqlite")
    if name == "postgresql":
        return Backend(name, request.getfixturevalue("postgres_cluster"),
                       request.getfixturevalue("postgres_template"))
    return Backend(name)


@pytest.fixture
def start_daemon(tmp_path: Path, backend: Backend) -> Iterator[StartDaemon]:
    """`start_daemon(config=CONFIG, env={}, arguments=())` starts a daemon on `backend`; each
    has its own config, state directory and store, and every one still running at teardown is
    killed."""
    daemons = Daemons(tmp_path, backend)
    try:
        yield daemons.start
    finally:
        daemons.close()


@pytest.fixture
def daemon(start_daemon: StartDaemon) -> Daemon:
    """A daemon on CONFIG, with no ingest tokens."""
    return start_daemon()


def payload(name: str) -> Any:
    """One of the example payloads, as JSON."""
    return json.loads((PAYLOADS / name).read_text())


def show(client: httpx.Client, incident_id: str | None) -> dict[str, Any]:
    """GET /v1/incidents/{id}: the incident with its alerts and timeline."""
    assert incident_id is not None, "no incident id"
    response = client.get(f"/v1/incidents/{incident_id}")
    assert response.status_code == 200, response.text
    detail: dict[str, Any] = response.json()
    return detail


def incidents_by_key(client: httpx.Client) -> dict[str, dict[str, Any]]:
    """Every incident (up to 1000), by dedup key."""
    response = client.get("/v1/incidents", params={"limit": "1000"})
    assert response.status_code == 200, response.text
    return {item["dedup_key"]: item for item in response.json()["incidents"]}


def incident_ids(response: httpx.Response) -> list[str | None]:
    """The incident ids of a 202 ingest answer, one per alert."""
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "accepted", body
    return [item["incident_id"] for item in body["incidents"]]
