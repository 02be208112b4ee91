"""Secure by default with no tokens (issue 13, item 3): `router run` on the example config
in config/, a subprocess reached over real loopback HTTP.

The issue's request, a cross-site `text/plain` POST with a foreign Origin and Host, created
the silence `alertname=~".*"`; the same worked for acknowledge, resolve, overrides and reload,
and for any local user without a browser. Each is refused now and changes nothing. The state
directory is private, and the CLI reaches the daemon with the admin token it wrote there.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Backend, Daemon, incident_ids

EXAMPLE = Path(__file__).resolve().parents[2] / "config"
SILENCE = json.dumps({"matchers": [{"name": "alertname", "operator": "=~", "value": ".*"}],
                      "ends_at": "2099-01-01T00:00:00Z", "reason": "x",
                      "created_by": "evil"}).encode()
OVERRIDE = json.dumps({"person": "dave", "until": "2099-01-01T00:00", "reason": "x"}).encode()


@pytest.fixture
def example(tmp_path: Path, backend: Backend) -> Iterator[Daemon]:
    """A daemon on a copy of the example config and on `backend`'s store, with a state
    directory an older router left open to every user (0755, router.db and session.key
    0644)."""
    config_dir = tmp_path / "config"
    shutil.copytree(EXAMPLE, config_dir)
    state_dir = tmp_path / "state"
    state_dir.mkdir(mode=0o755)
    state_dir.chmod(0o755)
    (state_dir / "router.db").write_bytes(b"")
    (state_dir / "router.db").chmod(0o644)
    (state_dir / "session.key").write_text("ab" * 32 + "\n")  # the web's, left open too
    (state_dir / "session.key").chmod(0o644)
    socket_dir = Path(tempfile.mkdtemp(prefix="router-e2e-"))
    daemon = Daemon(config_dir=config_dir, state_dir=state_dir,
                    socket_path=socket_dir / "router.sock", log_path=tmp_path / "router.log",
                    env={}, store_url=backend.new_store())
    try:
        daemon.start()
        yield daemon
    finally:
        daemon.kill()
        print(f"--- router log:\n{daemon.log()}")
        shutil.rmtree(socket_dir, ignore_errors=True)


def attacks(daemon: Daemon, incident: str) -> list[tuple[str, str, bytes]]:
    """(method, path, body) of each change the issue made cross-site."""
    return [("POST", "/v1/silences", SILENCE),
            ("POST", f"/v1/incidents/{incident}/acknowledge", b'{"by": "evil"}'),
            ("POST", f"/v1/incidents/{incident}/resolve", b'{"by": "evil"}'),
            ("POST", "/v1/rotas/platform-primary/overrides", OVERRIDE),
            ("POST", "/-/reload", b"")]


def test_the_cross_site_requests_of_the_issue_change_nothing(example: Daemon) -> None:
    port = example.port
    with example.client("") as anonymous, example.client() as admin:
        # Ingest on loopback stays open with no tokens configured (documented).
        alert = {"summary": "Disk full", "severity": "critical",
                 "labels": {"alertname": "DiskFull", "instance": "db1"}}
        [incident] = incident_ids(anonymous.post("/v1/alerts", json=alert))
        assert incident is not None
        for method, path, body in attacks(example, incident):
            text = {"content-type": "text/plain;charset=UTF-8"}
            # A page on evil.example whose name now resolves to 127.0.0.1 (DNS rebinding).
            rebound = anonymous.request(method, path, content=body, headers={
                **text, "host": f"evil.example:{port}", "origin": f"http://evil.example:{port}"})
            assert rebound.status_code == 421, (path, rebound.text)
            # A page elsewhere posting to 127.0.0.1 (CSRF): its Origin gives it away.
            forged = anonymous.request(method, path, content=body, headers={
                **text, "origin": "http://evil.example"})
            assert forged.status_code == 403, (path, forged.text)
            assert forged.json() == {"error": "cross-site request refused: Origin "
                                              "'http://evil.example' is not this router's"}
            # A local user with curl and no token.
            local = anonymous.request(method, path, content=body, headers=text)
            assert local.status_code == 401, (path, local.text)
            # Even the admin token does not make a text/plain body JSON.
            if body:
                typed = admin.request(method, path, content=body, headers=text)
                assert typed.status_code == 415, (path, typed.text)
            # Nor are reads open to a local user.
        assert anonymous.get("/v1/incidents").status_code == 401
        assert admin.get("/v1/silences", params={"all": "true"}).json() == {
            "silences": [], "silences_omitted": 0}
        assert admin.get(f"/v1/incidents/{incident}").json()["incident"]["state"] == \
            "triggered"
        overrides = admin.get("/v1/rotas/platform-primary/overrides", params={"all": "true"})
        assert overrides.json() == {"overrides": [], "overrides_omitted": 0}
    assert '"trigger": "api"' not in example.log()  # no reload ran


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.sqlite_only
def test_the_state_directory_is_private(example: Daemon) -> None:
    """SQLite only: about the modes of router.db and its WAL files."""
    state = example.state_dir
    assert mode(state) == 0o750
    assert {path.name: mode(path) for path in state.iterdir() if path.is_file()} == {
        "router.db": 0o600, "router.db-wal": 0o600, "router.db-shm": 0o600,
        "admin.token": 0o600, "link.key": 0o600, "session.key": 0o600}
    log = example.log()
    assert f"{state} was mode 0755, readable or writable by other users: set to 0750" in log
    assert f"{state / 'router.db'} was mode 0644, readable or writable by other users: " \
           "set to 0600" in log
    assert f"{state / 'session.key'} was mode 0644, readable or writable by other " \
           "users: set to 0600" in log
    assert example.admin_token not in log


@pytest.mark.sqlite_only
def test_the_cli_reloads_with_the_admin_token_it_finds_in_the_state_directory(
        example: Daemon) -> None:
    """SQLite only: about the admin token's file and a reload, not the store."""
    env = {key: value for key, value in os.environ.items() if key != "ROUTER_TOKEN"}
    command = [sys.executable, "-m", "router", "reload", "--listen",
               f"127.0.0.1:{example.port}"]
    done = subprocess.run([*command, "--state", str(example.state_dir)], capture_output=True,
                          text=True, env=env, timeout=60)
    assert (done.returncode, done.stderr) == (0, ""), done
    assert done.stdout.startswith("reloaded: "), done
    elsewhere = subprocess.run([*command, "--state", str(example.state_dir / "none")],
                               capture_output=True, text=True, env=env, timeout=60)
    assert elsewhere.returncode == 1, elsewhere
    assert elsewhere.stderr == (
        f"router reload: http://127.0.0.1:{example.port}/-/reload refused the token: set "
        "ROUTER_TOKEN to a token with the admin scope, or pass the daemon's --state (its "
        "admin.token)\n")
    with httpx.Client(base_url=example.base_url, trust_env=False) as client:
        assert client.get("/healthz").status_code == 200
