"""The real `amtool` against `router run` (issue 16 item 3): alert queries, silences added,
listed, expired and imported, and `config show`, each output line as amtool prints it; a
silence amtool adds is one of router's own.

Needs Debian's `amtool` (package prometheus-alertmanager; .ci/run installs it); skipped
without it. amtool sends router's token from an `--http.config.file`, as docs/api.md says.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Daemon

AMTOOL = shutil.which("amtool")
pytestmark = pytest.mark.skipif(AMTOOL is None, reason="amtool is not installed (Debian "
                                                       "package prometheus-alertmanager)")
DISK = {"labels": {"alertname": "DiskFull", "instance": "db1"},
        "annotations": {"summary": "Disk full on db1"}}
LOAD = {"labels": {"alertname": "HighLoad", "instance": "web1"},
        "annotations": {"summary": "Load is high"}}
SILENCE_ID = re.compile(r"SIL-[0-9a-f]{8}")


class Amtool:
    """Runs amtool against one daemon, with its admin token in an HTTP config file."""

    def __init__(self, daemon: Daemon, directory: Path) -> None:
        self.url = daemon.base_url
        self.http_config = directory / "amtool-http.yml"
        self.http_config.write_text(f"authorization:\n  credentials: {daemon.admin_token}\n")

    def __call__(self, *arguments: str) -> list[str]:
        """amtool's output lines; amtool must exit 0."""
        assert AMTOOL is not None
        done = subprocess.run(
            [AMTOOL, f"--alertmanager.url={self.url}",
             f"--http.config.file={self.http_config}", *arguments],
            capture_output=True, text=True, timeout=30, env={**os.environ, "TZ": "UTC"})
        assert done.returncode == 0, f"amtool {' '.join(arguments)}: {done.stderr}"
        return done.stdout.splitlines()


def table(*rows: Sequence[str]) -> list[str]:
    """Rows as amtool's tab writer prints them: each cell padded to its column's width plus
    two spaces, the last one too."""
    widths = [max(len(row[index]) for row in rows) for index in range(len(rows[0]))]
    return ["".join(cell.ljust(width + 2) for cell, width in zip(row, widths, strict=True))
            for row in rows]


def shown(moment: str) -> str:
    """An API time as amtool shows it (TZ=UTC)."""
    return datetime.fromisoformat(moment).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@pytest.fixture
def amtool(daemon: Daemon, tmp_path: Path) -> Amtool:
    return Amtool(daemon, tmp_path)


def v2_alerts(client: httpx.Client) -> dict[str, dict[str, str]]:
    """alertname -> the alert, as router's API v2 answers."""
    alerts = client.get("/api/v2/alerts").json()
    return {alert["labels"]["alertname"]: alert for alert in alerts}


def test_alert_query_and_silences(daemon: Daemon, amtool: Amtool, tmp_path: Path) -> None:
    added = amtool("silence", "add", "alertname=HighLoad", "--comment=tuning the pool",
                   "--author=ann", "--duration=2h")
    assert len(added) == 1 and SILENCE_ID.fullmatch(added[0]), added
    silence_id = added[0]
    with daemon.client() as client:
        own = client.get("/v1/silences").json()["silences"]
        assert [(item["id"], item["matchers"], item["reason"]) for item in own] == [
            (silence_id, [{"name": "alertname", "operator": "=", "value": "HighLoad"}],
             "tuning the pool")]
        client.post("/api/v2/alerts", json=[DISK, LOAD]).raise_for_status()
        alerts = v2_alerts(client)
    disk, load = shown(alerts["DiskFull"]["startsAt"]), shown(alerts["HighLoad"]["startsAt"])
    assert amtool("alert", "query") == table(
        ("Alertname", "Starts At", "Summary", "State"),
        ("DiskFull", disk, "Disk full on db1", "active"))
    assert amtool("alert", "query", "-s") == table(  # silenced only, as in Alertmanager
        ("Alertname", "Starts At", "Summary", "State"),
        ("HighLoad", load, "Load is high", "suppressed"))
    assert amtool("alert", "query", "--active", "-s") == table(
        ("Alertname", "Starts At", "Summary", "State"),
        ("DiskFull", disk, "Disk full on db1", "active"),
        ("HighLoad", load, "Load is high", "suppressed"))
    assert amtool("alert", "query", "--active", "-s", "instance=web1") == table(
        ("Alertname", "Starts At", "Summary", "State"),
        ("HighLoad", load, "Load is high", "suppressed"))
    ends = shown(own[0]["ends_at"])
    assert amtool("silence", "query") == table(
        ("ID", "Matchers", "Ends At", "Created By", "Comment"),
        (silence_id, 'alertname="HighLoad"', ends, "ann", "tuning the pool"))
    exported = tmp_path / "silences.json"
    exported.write_text("\n".join(amtool("silence", "query", "-o", "json")))
    assert [item["id"] for item in json.loads(exported.read_text())] == [silence_id]

    assert amtool("silence", "expire", silence_id) == []
    assert amtool("silence", "query") == table(
        ("ID", "Matchers", "Ends At", "Created By", "Comment"))
    with daemon.client() as client:
        assert client.get("/v1/silences").json()["silences"] == []

    imported = amtool("silence", "import", str(exported))
    assert len(imported) == 1 and SILENCE_ID.fullmatch(imported[0]), imported
    assert imported[0] != silence_id  # the expired one's id is unknown in force: a new one
    assert amtool("silence", "query", "-q") == [imported[0]]


def test_config_show_prints_the_loaded_config(daemon: Daemon, amtool: Amtool) -> None:
    """The config as written, inline secrets (CONFIG's routing key and Slack URL) hidden."""
    written = (daemon.config_dir / "router.yaml").read_text()
    hidden = {'routing_keys: ["e2e0api0routing0key0000000000001"]': "routing_keys: <secret>",
              'webhook_url: "http://127.0.0.1:9/slack"': "webhook_url: <secret>"}
    for inline, shown_instead in hidden.items():
        assert inline in written
        written = written.replace(inline, shown_instead)
    expected = [f"# {daemon.config_dir / 'router.yaml'}", *written.splitlines(), ""]
    assert amtool("config", "show") == expected


def test_router_test_reads_the_silences_amtool_queries(daemon: Daemon, amtool: Amtool,
                                                       tmp_path: Path) -> None:
    """`amtool silence query -o json` (router's GET /api/v2/silences, as amtool writes it) is
    a test file's `silences_file`: a case is held by the silence the daemon holds."""
    added = amtool("silence", "add", "alertname=DiskFull", 'instance=~"db.*"', "severity!=info",
                   "--comment=swapping a disk", "--author=ann", "--duration=2h")
    (tmp_path / "silences.json").write_text(
        "\n".join(amtool("silence", "query", "-o", "json")))
    with daemon.client() as client:
        client.post("/api/v2/alerts", json=[DISK]).raise_for_status()
        held = v2_alerts(client)["DiskFull"]
    assert held["status"]["silencedBy"] == added
    now = datetime.now(UTC).isoformat()
    cases = tmp_path / "cases.yaml"
    cases.write_text(json.dumps({"silences_file": "silences.json", "cases": [
        {"name": "held as the daemon holds it", "at": now, "alert": DISK,
         "expect": {"suppressed": {"by": "silence", "id": added[0]}}},
        {"name": "info passes severity!=info", "at": now,
         "alert": {**DISK, "severity": "info"}, "expect": {"suppressed": False}}]}))
    done = subprocess.run(
        [sys.executable, "-m", "router", "test", "--config", str(daemon.config_dir),
         str(cases)], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (0, ""), done.stdout
    assert done.stdout.splitlines()[-1] == " 2 passed ".center(72, "=")
