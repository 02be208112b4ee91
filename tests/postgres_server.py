"""A throwaway PostgreSQL cluster for the tests (a pytest plugin, registered by
tests/conftest.py; issue 18, design decision D7).

One cluster per test session, in a temporary directory: `initdb -A trust -U router`, then
`pg_ctl start` listening on 127.0.0.1 at a free port (and on a unix socket in the same
directory), with `fsync=off` (these tests are about behaviour, not durability). PostgreSQL
refuses to run as root, so under root the cluster runs as `nobody` with the directory given
to it. Each test that asks for `postgres_url` gets a database of its own (`t_<n>`), so tests
never see each other's rows.

No PostgreSQL on the machine is a failure that says how to install it, never a skip: the
store's tests run on both backends everywhere (.ci/run installs Debian's `postgresql`).
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

USER = "router"
"""The cluster's superuser, whom every test database belongs to."""
UNPRIVILEGED = "nobody"
"""Who runs the cluster when the tests run as root."""
MISSING = ("PostgreSQL's server programs (initdb, pg_ctl) were not found in "
           "/usr/lib/postgresql/*/bin: install Debian's `postgresql` package "
           "(apt-get install postgresql), as .ci/run does; the store's tests run on "
           "PostgreSQL too and are never skipped")


def server_programs() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin that holds initdb and pg_ctl."""
    found = [Path(path).parent for path in glob.glob("/usr/lib/postgresql/*/bin/initdb")
             if Path(path).with_name("pg_ctl").exists()]
    found.sort(key=lambda directory: int(directory.parent.name)
               if directory.parent.name.isdigit() else 0)
    return found[-1] if found else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Cluster:
    """A running throwaway cluster: where it listens, and a database per test."""

    directory: Path
    port: int
    programs: Path
    run_as: str | None
    _numbers: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, template: str = "template1") -> str:
        """A new database, a copy of `template` (by default empty); its URL."""
        import psycopg

        name = f"t_{next(self._numbers)}"
        with psycopg.connect(self.url(), autocommit=True) as admin:
            for attempt in range(50):
                try:
                    admin.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
                    break
                except psycopg.errors.ObjectInUse:
                    # "source database is being accessed by other users": an autovacuum
                    # worker visiting the template for a moment; it leaves within seconds
                    if attempt == 49:
                        raise
                    time.sleep(0.1)
        return self.url(name)

    def run(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        """Run one of the server's programs as the cluster's owner."""
        return subprocess.run(
            [str(self.programs / arguments[0]), *arguments[1:]], check=True,
            capture_output=True, text=True, cwd=self.directory, user=self.run_as,
            group=pwd.getpwnam(self.run_as).pw_gid if self.run_as else None,
            extra_groups=[] if self.run_as else None,
            env={**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"})

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.run("pg_ctl", "stop", "-D", str(self.directory / "data"), "-m", "immediate",
                     "-w")


def start_cluster() -> Cluster:
    """initdb and start a cluster in a new temporary directory (fails, saying how to install
    PostgreSQL, when it is not there)."""
    programs = server_programs()
    if programs is None:
        pytest.fail(MISSING, pytrace=False)
    directory = Path(tempfile.mkdtemp(prefix="router-pg-"))
    run_as = UNPRIVILEGED if os.geteuid() == 0 else None
    if run_as is not None:
        owner = pwd.getpwnam(run_as)
        os.chown(directory, owner.pw_uid, owner.pw_gid)
    cluster = Cluster(directory, _free_port(), programs, run_as)
    data = directory / "data"
    try:
        # C collation: text sorts by code point, as SQLite's BINARY does.
        cluster.run("initdb", "-D", str(data), "-A", "trust", "-U", USER, "-E", "UTF8",
                    "--locale=C.UTF-8", "--no-sync")
        options = (f"-k {directory} -c listen_addresses=127.0.0.1 -p {cluster.port} "
                   "-c fsync=off -c full_page_writes=off -c max_connections=200 "
                   "-c shared_buffers=32MB")
        cluster.run("pg_ctl", "start", "-D", str(data), "-l", str(directory / "server.log"),
                    "-w", "-t", "60", "-o", options)
    except subprocess.CalledProcessError as error:
        log = directory / "server.log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        shutil.rmtree(directory, ignore_errors=True)
        pytest.fail(f"could not start a throwaway PostgreSQL: {' '.join(error.cmd)}: "
                    f"{error.stderr or error.stdout}\n{tail}", pytrace=False)
    return cluster


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster]:
    """The session's throwaway PostgreSQL cluster (started on first use)."""
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(cluster.directory, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_cluster: Cluster) -> str:
    """The URL of a fresh, empty database of this test's own."""
    return postgres_cluster.create_database()
