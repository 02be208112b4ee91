"""Hot reload of a running daemon, and its log lines: `router run` as a subprocess over real
files, reached over loopback HTTP.

Each reload is shown by what the daemon answers afterwards: who `GET /v1/oncall` says is on
call (the rota's members change), or which bearer token it accepts (the token comes from a
`${file:...}` outside the config directory, which the watcher does not see, so only SIGHUP,
`POST /-/reload` and `router reload` can bring it in). Every wait polls with a deadline.

SQLite only (`sqlite_only`): these are about reading the config again, not about the store.
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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import CONFIG, Daemon, StartDaemon, incident_ids, wait_until

pytestmark = pytest.mark.sqlite_only

RELOAD_TIMEOUT = 10.0  # seconds for a change on disk to be in force
OLD_TOKEN = "first-admin-token-0000000001"
NEW_TOKEN = "second-admin-token-000000002"
ON_CALL = "members: [on-call-engineer]"

OwnDaemon = Callable[..., Daemon]


def with_token(token_file: Path) -> str:
    """CONFIG with an admin token read from `token_file`."""
    return CONFIG.replace("settings:\n  timezone: UTC\n", (
        "settings:\n  timezone: UTC\n  ingest_tokens:\n"
        f'    - {{name: admin, token: "${{file:{token_file}}}"}}\n'))


def on_call(daemon: Daemon, token: str | None = None) -> str:
    with daemon.client(token) as client:
        response = client.get("/v1/oncall")
    assert response.status_code == 200, response.text
    [primary] = [rota for rota in response.json()["rotas"] if rota["rota"] == "primary"]
    person: str = primary["on_call"]["person"]
    return person


def wait_on_call(daemon: Daemon, person: str, token: str | None = None) -> None:
    wait_until(lambda: on_call(daemon, token) == person, timeout=RELOAD_TIMEOUT,
               what=lambda: f"{person} on call after the reload; the log:\n{daemon.log()}")


def records(daemon: Daemon) -> list[dict[str, Any]]:
    """The daemon's log, one JSON object per line (each line must parse)."""
    return [json.loads(line) for line in daemon.log().splitlines()]


def reloads(daemon: Daemon) -> list[dict[str, Any]]:
    return [record for record in records(daemon)
            if record["message"].startswith("config reload")]


def logged_reloads(daemon: Daemon, count: int) -> list[dict[str, Any]]:
    """The reload records, once `count` reloads have logged their outcome (the config is in
    force a moment before its reload's line is written)."""
    def done() -> list[dict[str, Any]] | None:
        found = reloads(daemon)
        finished = [record for record in found if record["message"].startswith(
            ("config reloaded", "config reload rejected with"))]
        return found if len(finished) >= count else None
    return wait_until(done, timeout=RELOAD_TIMEOUT,
                      what=lambda: f"{count} reload(s) logged; the log:\n{daemon.log()}")


def status_with(daemon: Daemon, token: str) -> int:
    with daemon.client(token) as client:
        return client.get("/v1/incidents").status_code


def router_reload(*arguments: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "ROUTER_TOKEN"}
    if token is not None:
        env["ROUTER_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "router", "reload", *arguments],
                          capture_output=True, text=True, env=env, timeout=60)


@pytest.fixture
def own_daemon(tmp_path: Path) -> Iterator[OwnDaemon]:
    """`own_daemon(config_path, journal=False)`: a daemon over a config laid out by the
    test; with `journal`, its stderr is what `$JOURNAL_STREAM` names, as under systemd."""
    started: list[Daemon] = []
    socket_dir = Path(tempfile.mkdtemp(prefix="router-e2e-"))

    def start(config_path: Path, *, journal: bool = False) -> Daemon:
        home = tmp_path / f"own-{len(started)}"
        home.mkdir()
        log_path = home / "router.log"
        log_path.touch()
        status = log_path.stat()
        env = {"JOURNAL_STREAM": f"{status.st_dev}:{status.st_ino}"} if journal else {}
        daemon = Daemon(config_dir=config_path, state_dir=home / "state",
                        socket_path=socket_dir / f"{len(started)}.sock", log_path=log_path,
                        env=env)
        started.append(daemon)
        daemon.start()
        return daemon

    try:
        yield start
    finally:
        for daemon in started:
            daemon.kill()
            print(f"--- router log ({daemon.log_path}):\n{daemon.log()}")
        shutil.rmtree(socket_dir, ignore_errors=True)


def test_an_edit_in_place_is_in_force_without_a_signal(daemon: Daemon) -> None:
    assert on_call(daemon) == "on-call-engineer"
    path = daemon.config_dir / "router.yaml"
    with path.open("r+") as file:  # as an editor that truncates and writes in place
        text = file.read()
        file.seek(0)
        file.truncate()
        file.write(text.replace(ON_CALL, "members: [backup]"))
    wait_on_call(daemon, "backup")
    [reloaded] = [record for record in logged_reloads(daemon, 1)
                  if record["trigger"] == "watch"]
    assert reloaded["level"] == "INFO"
    assert reloaded["message"].startswith("config reloaded: 2 people, 3 channels, 1 rota")


def test_write_and_rename_is_in_force(daemon: Daemon) -> None:
    path = daemon.config_dir / "router.yaml"
    temporary = daemon.config_dir / ".router.yaml.swx"
    temporary.write_text(path.read_text().replace(ON_CALL, "members: [backup]"))
    os.replace(temporary, path)
    wait_on_call(daemon, "backup")


def configmap(mount: Path, version: str, text: str) -> None:
    """What the kubelet and git-sync do: a fresh `..<version>` directory, a `..data_tmp`
    link to it renamed over `..data`, the file names linked through `..data`."""
    (mount / f"..{version}").mkdir(parents=True)
    (mount / f"..{version}" / "router.yaml").write_text(textwrap.dedent(text))
    os.symlink(f"..{version}", mount / "..data_tmp")
    os.replace(mount / "..data_tmp", mount / "..data")
    if not (mount / "router.yaml").is_symlink():
        os.symlink("..data/router.yaml", mount / "router.yaml")


@pytest.mark.parametrize("given", ["directory", "file"])
def test_the_data_symlink_swap_is_in_force(own_daemon: OwnDaemon, tmp_path: Path,
                                           given: str) -> None:
    mount = tmp_path / "configmap"
    configmap(mount, "2026_03_02_09_00_00.1", CONFIG)
    daemon = own_daemon(mount if given == "directory" else mount / "router.yaml")
    assert on_call(daemon) == "on-call-engineer"
    configmap(mount, "2026_03_02_09_05_00.2", CONFIG.replace(ON_CALL, "members: [backup]"))
    shutil.rmtree(mount / "..2026_03_02_09_00_00.1")
    wait_on_call(daemon, "backup")
    configmap(mount, "2026_03_02_09_10_00.3", CONFIG)  # the watch followed the swap
    shutil.rmtree(mount / "..2026_03_02_09_05_00.2")
    wait_on_call(daemon, "on-call-engineer")


def git(directory: Path, *arguments: str) -> None:
    subprocess.run(["git", "-c", "user.name=e2e", "-c", "user.email=e2e@example.com",
                    *arguments], cwd=directory, check=True, capture_output=True, timeout=60)


def team_files(directory: Path, on_call: str, version: int) -> None:
    """A config spread over 22 files, as a team's config repository."""
    (directory / "base.yaml").write_text(textwrap.dedent("""
        settings: {timezone: UTC}
        channels: [{id: log, type: log}]
        escalation_policies:
          - {id: default, levels: [{targets: [{rota: primary}], delay: 15m}]}
        services: [{id: api, escalation_policy: default, channels: [log]}]
        """))
    for number in range(20):
        (directory / f"person-{number:02}.yaml").write_text(textwrap.dedent(f"""
            people:
              - id: p{number:02}
                name: Person {number} (v{version})
                contact_methods: [{{type: email, address: p{number:02}@example.com}}]
            """))
    (directory / "rotas.yaml").write_text(textwrap.dedent(f"""
        rotas:
          - id: primary
            layers: [{{members: [{on_call}], every: 1w, start: 2020-01-06}}]
        """))


def test_a_git_checkout_of_many_files_is_one_reload(own_daemon: OwnDaemon,
                                                    tmp_path: Path) -> None:
    repository = tmp_path / "config-repository"
    repository.mkdir()
    git(repository, "init", "-q", "-b", "main")
    team_files(repository, "p00", 1)
    git(repository, "add", ".")
    git(repository, "commit", "-q", "-m", "v1")
    team_files(repository, "p07", 2)
    git(repository, "commit", "-q", "-a", "-m", "v2: every file changes")
    git(repository, "checkout", "-q", "HEAD~1")
    daemon = own_daemon(repository)
    assert on_call(daemon) == "p00"
    git(repository, "checkout", "-q", "main")
    wait_on_call(daemon, "p07")
    found = logged_reloads(daemon, 1)
    assert all(record["level"] == "INFO" for record in found), found
    assert 1 <= len(found) <= 2, found  # one, unless git paused mid-checkout for 0.4 s
    assert found[-1]["message"].endswith("from 22 files")


def test_sighup_brings_in_what_the_watcher_cannot_see(start_daemon: StartDaemon,
                                                      tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(OLD_TOKEN)
    daemon = start_daemon(with_token(token_file))
    assert status_with(daemon, OLD_TOKEN) == 200
    token_file.write_text(NEW_TOKEN)  # outside the config directory: no watch sees it
    daemon.send_signal(signal.SIGHUP)
    wait_until(lambda: status_with(daemon, NEW_TOKEN) == 200, timeout=RELOAD_TIMEOUT,
               what=lambda: f"the new token after SIGHUP; the log:\n{daemon.log()}")
    assert status_with(daemon, OLD_TOKEN) == 401
    assert [record["trigger"] for record in logged_reloads(daemon, 1)] == ["signal"]


def test_post_reload_answers_with_the_summary(start_daemon: StartDaemon,
                                              tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(OLD_TOKEN)
    daemon = start_daemon(with_token(token_file))
    token_file.write_text(NEW_TOKEN)
    with daemon.client("") as client:
        assert client.post("/-/reload").status_code == 401  # the admin token is needed
        assert client.get("/healthz").status_code == 200  # while health stays open
    with daemon.client(OLD_TOKEN) as client:
        response = client.post("/-/reload")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "reloaded", "summary": (
        "2 people, 3 channels, 1 rota, 1 escalation policy, 4 services, 4 routes, "
        "1 suppression from 1 file")}
    assert (status_with(daemon, OLD_TOKEN), status_with(daemon, NEW_TOKEN)) == (401, 200)


def test_router_reload_reaches_the_daemon_at_its_listen_address(
        start_daemon: StartDaemon, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(OLD_TOKEN)
    daemon = start_daemon(with_token(token_file))
    token_file.write_text(NEW_TOKEN)
    done = router_reload("--listen", f"127.0.0.1:{daemon.port}", token=OLD_TOKEN)
    assert (done.returncode, done.stderr) == (0, ""), done
    assert done.stdout.startswith("reloaded: 2 people, 3 channels"), done
    assert status_with(daemon, NEW_TOKEN) == 200
    # Without --listen, the address is the config's settings.listen.
    path = daemon.config_dir / "router.yaml"
    path.write_text(path.read_text().replace(
        "  timezone: UTC\n", f"  timezone: UTC\n  listen: 127.0.0.1:{daemon.port}\n", 1))
    wait_until(lambda: [record["trigger"] for record in reloads(daemon)] == ["api", "watch"],
               timeout=RELOAD_TIMEOUT, what=lambda: f"the edit reloaded; the log:\n{daemon.log()}")
    token_file.write_text(OLD_TOKEN)
    done = router_reload("--config", str(daemon.config_dir), token=NEW_TOKEN)
    assert done.returncode == 0, done
    assert status_with(daemon, OLD_TOKEN) == 200


def test_router_reload_without_a_daemon_says_so() -> None:
    with socketless_port() as port:
        done = router_reload("--listen", f"127.0.0.1:{port}")
    assert done.returncode == 2, done
    assert done.stderr.startswith(
        f"router reload: no daemon answers at http://127.0.0.1:{port}/-/reload ("), done
    assert "Traceback" not in done.stderr


@contextmanager
def socketless_port() -> Iterator[int]:
    """A loopback port nothing listens on: bound (so no one else takes it), not listening."""
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        yield bound.getsockname()[1]


INVALID_EDIT = ("members: [backup]", "escalation_policy: default",
                "escalation_policy: nightly")


def test_an_invalid_edit_keeps_the_old_config_serving(daemon: Daemon) -> None:
    path = daemon.config_dir / "router.yaml"
    good = path.read_text()
    bad = good.replace(ON_CALL, INVALID_EDIT[0]).replace(INVALID_EDIT[1], INVALID_EDIT[2], 1)
    path.write_text(bad)
    line = bad.splitlines().index("    escalation_policy: nightly") + 1
    wait_until(lambda: "config reload rejected with" in daemon.log(),  # its last line
               timeout=RELOAD_TIMEOUT, what=lambda: f"the rejection; the log:\n{daemon.log()}")
    [rejected, summary] = [record for record in reloads(daemon) if record["level"] == "ERROR"]
    assert (rejected["file"], rejected["line"], rejected["column"], rejected["path"]) == (
        str(path), line, 24, "services[0].escalation_policy")
    assert rejected["message"] == (
        f"config reload rejected: {path}:{line}:24: services[0].escalation_policy: "
        "no escalation policy with id 'nightly'")
    assert summary["message"] == ("config reload rejected with 1 problem; the running "
                                  "config stays in force")
    assert on_call(daemon) == "on-call-engineer"  # the old config serves
    with daemon.client() as client:
        incident_ids(client.post("/v1/alerts", json={"summary": "After a bad push",
                                                     "labels": {"alertname": "Push"}}))
        response = client.post("/-/reload")
    assert response.status_code == 400, response.text
    assert response.json() == {"status": "invalid", "problems": [{
        "file": str(path), "line": line, "column": 24, "path": "services[0].escalation_policy",
        "message": "no escalation policy with id 'nightly'", "severity": "error"}]}
    done = router_reload("--listen", f"127.0.0.1:{daemon.port}", "--state",
                         str(daemon.state_dir))
    assert done.returncode == 1, done
    assert done.stderr.splitlines() == [
        f"{path}:{line}:24: services[0].escalation_policy: no escalation policy with id "
        "'nightly'",
        "config invalid: 1 problem; the daemon keeps serving its previous config"]
    path.write_text(good.replace(ON_CALL, "members: [backup]"))  # the fix
    wait_on_call(daemon, "backup")


def test_log_lines_are_json_with_the_trace_id(daemon: Daemon) -> None:
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    with daemon.client() as client:
        [incident] = incident_ids(client.post(
            "/v1/alerts", json={"summary": "Disk full", "labels": {"alertname": "Disk"}},
            headers={"traceparent": f"00-{trace}-00f067aa0ba902b7-01"}))
        [other] = incident_ids(client.post(
            "/v1/alerts", json={"summary": "CPU", "labels": {"alertname": "Cpu"}}))
    daemon.stop()
    lines = records(daemon)  # every line parses
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["time"])
               and record["level"] in ("DEBUG", "INFO", "WARNING", "ERROR")
               and record["logger"].startswith("router") for record in lines), lines
    assert incident != other
    first, second = [record for record in lines if record["message"] == "alerts accepted"]
    assert (first["trace_id"], first["count"], first["actions"]) == (trace, 1, {"opened": 1})
    assert re.fullmatch("[0-9a-f]{32}", second["trace_id"])
    assert second["trace_id"] != trace
    assert lines[-1]["message"] == "stopped"


def test_under_systemd_the_lines_are_journal_lines(own_daemon: OwnDaemon,
                                                   tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "router.yaml").write_text(textwrap.dedent(CONFIG))
    daemon = own_daemon(tmp_path / "config", journal=True)
    (tmp_path / "config" / "router.yaml").write_text("people: [{id: 7}]\n")
    wait_until(lambda: "<3>config reload rejected" in daemon.log(), timeout=RELOAD_TIMEOUT,
               what=lambda: f"the rejection; the log:\n{daemon.log()}")
    daemon.stop()
    lines = daemon.log().splitlines()
    assert all(re.match(r"<[0-7]>", line) for line in lines), lines
    assert any(line.startswith("<6>listening on http://127.0.0.1:") for line in lines)
    assert lines[-1] == "<6>stopped logger=router.daemon.root"
