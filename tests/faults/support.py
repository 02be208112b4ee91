"""Shared helpers of the fault suite (tests/faults/): the daemon as a subprocess (from
tests/e2e/conftest.py), every API call through one authenticated client, a config whose
pages reach a local webhook receiver, the daemon's memory, and `router` on the command line.

Every API call goes through `api` (or `auth_headers`): it presents the admin token the
daemon writes to `<state>/admin.token` when that file exists, so the suite passes both
before and after the API requires tokens on loopback.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.conftest import Daemon

ADMIN_TOKEN_FILE = "admin.token"
"""Where the daemon writes its admin token, in its state directory (mode 0600)."""

PHONE = "+4915112345678"


def admin_token(daemon: Daemon) -> str | None:
    """The daemon's admin token, or None while it writes none (no tokens on loopback)."""
    path = daemon.state_dir / ADMIN_TOKEN_FILE
    try:
        token = path.read_text().strip()
    except FileNotFoundError:
        return None
    return token or None


def auth_headers(daemon: Daemon) -> dict[str, str]:
    """`Authorization: Bearer <admin token>` when the daemon has one, else nothing."""
    token = admin_token(daemon)
    return {"authorization": f"Bearer {token}"} if token else {}


def api(daemon: Daemon, *, timeout: float = 10.0) -> httpx.Client:
    """A client of the daemon's HTTP API as it listens now (a restart changes the port),
    presenting the admin token when there is one."""
    return httpx.Client(base_url=daemon.base_url, headers=auth_headers(daemon),
                        timeout=timeout, trust_env=False)


def config(channels: str, *, service_channels: str = "", pager: str | None = None,
           settings: str = "") -> str:
    """A complete config: Ann is always on call for service `api`, which every alert is
    routed to; `channels` is the YAML list of channels (items indented two spaces),
    `service_channels` the channels the service notifies itself, `pager` the webhook
    channel that carries Ann's pages (a phone contact method), if any, and `settings` more
    lines of the settings section (indented two spaces). Escalation waits an hour, so one
    alert is one page to Ann and one notification per service channel."""
    method = (f'[{{type: phone, address: "{PHONE}", channel: {pager}}}]' if pager else "[]")
    return f"""\
settings:
  timezone: UTC
{settings}people:
  - id: ann
    name: Ann Example
    contact_methods: {method}
rotas:
  - id: primary
    layers: [{{members: [ann], every: 1w, start: 2020-01-06}}]
escalation_policies:
  - id: default
    levels: [{{targets: [{{rota: primary}}], delay: 1h}}]
channels:
{channels}services:
  - {{id: api, escalation_policy: default, channels: [{service_channels}]}}
routes:
  - service: api
"""


def deliveries(client: httpx.Client, **query: str) -> list[dict[str, Any]]:
    """GET /v1/deliveries (up to 1000): the attempts, oldest first."""
    answer = client.get("/v1/deliveries", params={"limit": "1000", **query})
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["deliveries"]
    return found[::-1]


def rss_bytes(pid: int) -> int:
    """A process's resident set size, from /proc/PID/status (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS in /proc/{pid}/status")


def alive(daemon: Daemon) -> bool:
    return daemon.process is not None and daemon.process.poll() is None


def router_cli(daemon: Daemon, *arguments: str,
               env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`router ARGUMENTS --config ... --state ...` in a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "router", *arguments, "--config", str(daemon.config_dir),
         "--state", str(daemon.state_dir)],
        capture_output=True, text=True, timeout=60, check=False,
        env=None if env is None else {**daemon.env, **env})


def log_lines(daemon: Daemon) -> list[dict[str, Any]]:
    """The daemon's JSON log lines (its default format), over all its runs."""
    lines = []
    for line in daemon.log().splitlines():
        if line.startswith("{"):
            try:
                lines.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut by SIGKILL
                continue
    return lines
