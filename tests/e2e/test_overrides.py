"""Run-time overrides end to end: the daemon as a subprocess; an override added over HTTP
changes who is on call (API and socket) and who an incident pages, survives a restart, and
one added by `router override add` in another process is honoured by the running daemon."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests.e2e.conftest import CONFIG, Daemon, StartDaemon, incident_ids, show

# CONFIG with a channel for people's email, so a page shows as "notified" person:ID (nothing
# listens on port 9: the deliveries fail and retry in the background, which is no matter here)
WITH_EMAIL = CONFIG.replace(
    "  - {id: log, type: log}\n",
    "  - {id: log, type: log}\n"
    "  - {id: mail, type: email, host: 127.0.0.1, port: 9, from: router@example.com}\n", 1)


@pytest.fixture
def daemon(start_daemon: StartDaemon) -> Daemon:
    assert WITH_EMAIL != CONFIG
    return start_daemon(WITH_EMAIL)


def alert(name: str) -> dict[str, Any]:
    return {"summary": f"{name} is down", "severity": "critical", "service": "api",
            "dedup_key": name, "labels": {"alertname": name}}


def paged(daemon: Daemon, name: str) -> tuple[str | None, list[str]]:
    """Open an incident of service api: who it is assigned to, and the targets notified."""
    with daemon.client() as client:
        [incident_id] = incident_ids(client.post("/v1/alerts", json=alert(name)))
        detail = show(client, incident_id)
    targets = [entry["details"]["target"] for entry in detail["timeline"]
               if entry["action"] == "notified"]
    return detail["incident"]["assigned_to"], targets


def on_call(daemon: Daemon) -> dict[str, Any]:
    with daemon.client() as client:
        answer = client.get("/v1/oncall", params={"team": "primary"})
    assert answer.status_code == 200, answer.text
    [rota] = answer.json()["rotas"]
    shift: dict[str, Any] = rota["on_call"]
    return shift


def socket_on_call(daemon: Daemon) -> str:
    with daemon.connect() as connection:
        reply = connection.ask({"src": "alerter", "dest": "router", "body": {
            "type": "get_on_call", "msg_id": 1, "team": "api"}})
    person: str = reply["body"]["on_call"]
    return person


def cli(daemon: Daemon, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "router", *argv, "--config", str(daemon.config_dir),
         *daemon.store_options],
        capture_output=True, text=True, timeout=60, env=daemon.env, check=False)


def test_an_override_added_over_http_pages_its_person_and_outlives_a_restart(
        daemon: Daemon) -> None:
    assert on_call(daemon)["person"] == "on-call-engineer"
    with daemon.client() as client:
        added = client.post("/v1/rotas/primary/overrides", json={
            "person": "backup", "until": "2099-01-01T00:00:00Z",
            "reason": "the on-call engineer is on a plane", "created_by": "lead"})
    assert added.status_code == 201, added.text
    override_id = added.json()["id"]
    shift = on_call(daemon)
    assert (shift["person"], shift["layer"]) == ("backup", "override")
    assert socket_on_call(daemon) == "backup"
    assert paged(daemon, "checkout") == ("backup", ["channel:log", "person:backup"])

    daemon.restart()
    assert on_call(daemon)["person"] == "backup"
    with daemon.client() as client:
        removed = client.delete(f"/v1/overrides/{override_id}")
    assert removed.status_code == 200, removed.text
    assert on_call(daemon)["person"] == "on-call-engineer"
    assert paged(daemon, "payments") == ("on-call-engineer",
                                         ["channel:log", "person:on-call-engineer"])


def test_an_override_added_by_the_cli_reaches_the_running_daemon(daemon: Daemon) -> None:
    # the daemon has paged once, so its on-call cache holds the rota's answer
    assert paged(daemon, "checkout")[0] == "on-call-engineer"
    added = cli(daemon, "override", "add", "primary", "--person", "backup", "--replaces",
                "on-call-engineer", "--until", "2h", "--reason", "swap", "--by", "lead")
    assert (added.returncode, added.stderr) == (0, ""), added.stderr
    override_id = added.stdout.strip()
    assert paged(daemon, "payments") == ("backup", ["channel:log", "person:backup"])
    assert socket_on_call(daemon) == "backup"
    oncall = cli(daemon, "oncall", "primary")
    assert oncall.stdout.startswith("primary: backup [override] until "), oncall.stdout
    listed = cli(daemon, "override", "list", "--format", "json")
    assert [item["id"] for item in json.loads(listed.stdout)["overrides"]] == [
        override_id]
    removed = cli(daemon, "override", "remove", override_id)
    assert (removed.returncode, removed.stdout) == (0, f"{override_id} removed\n")
    assert paged(daemon, "search") == ("on-call-engineer",
                                       ["channel:log", "person:on-call-engineer"])
