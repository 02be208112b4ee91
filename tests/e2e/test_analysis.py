"""Incident analysis in a real daemon (issue 21): an alert for a service whose analysis asks
a model pages at once; the model (a stand-in `/v1/chat/completions` in a thread of this
process, answering 500) is asked with its key from the environment; the run falls back to the
local provider, and the follow-up reaches a webhook receiver on loopback; `router analysis`
and the API show the run, its settings redacted. The daemon is a subprocess
(tests/e2e/conftest.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.analysis.test_openai import StandIn
from tests.e2e.conftest import StartDaemon, wait_until
from tests.fakes import serve_in_thread
from tests.fakes.webhook import serve_fake_webhook

CONFIG = """
channels:
  - {{id: hook, type: webhook, url: "{hook}", follow_up: analysis}}
services:
  - id: db
    channels: [hook]
    analysis:
      provider: openai_compatible
      base_url: {model}
      model: llama3.1
      api_key: ${{env:ROUTER_TEST_MODEL_KEY}}
      timeout: 20s
routes:
  - service: db
"""


def test_a_daemon_analyses_after_the_page_and_falls_back_from_a_failing_model(
        start_daemon: StartDaemon, tmp_path: Path) -> None:
    model = StandIn()
    model.reply = lambda: (500, b"model overloaded")
    try:
        with serve_in_thread(serve_fake_webhook) as hook:
            daemon = _start(start_daemon, hook.url, model.url)
            with daemon.client() as client:
                answer = client.post("/v1/alerts", json={
                    "summary": "Disk almost full on db1", "severity": "critical",
                    "labels": {"alertname": "DiskFull", "instance": "db1"}})
                assert answer.status_code == 202, answer.text
                events = wait_until(lambda: _events(hook.accepted, 2), timeout=20,
                                    what=daemon.log)
                assert events == ["trigger", "analysis"]
                run = client.get("/v1/incidents/INC1/analysis").json()["runs"][0]
                shown = client.get("/v1/incidents/INC1").json()["analysis"]
        assert (run["status"], run["fallback_used"], run["error"]) == (
            "succeeded", True, "the model answered 500")
        assert shown["id"] == run["id"]
        assert run["settings"]["api_key"] == "<redacted>"
        assert "sk-e2e" not in json.dumps(run) and "sk-e2e" not in daemon.log()
        assert model.requests[0][1]["Authorization"] == "Bearer sk-e2e"
        printed = subprocess.run(
            [sys.executable, "-m", "router", "analysis", "INC1", "--config",
             str(daemon.config_dir), *daemon.store_options],
            capture_output=True, text=True, check=False)
        assert printed.returncode == 0, printed.stderr
        assert printed.stdout.splitlines()[1:3] == [
            "  provider        openai_compatible llama3.1", "  fallback used   yes"]
    finally:
        model.server.shutdown()
        model.server.server_close()


def _start(start_daemon: StartDaemon, hook: str, model: str) -> Any:
    return start_daemon(config=CONFIG.format(hook=hook, model=model),
                        env={"ROUTER_TEST_MODEL_KEY": "sk-e2e"})


def _events(accepted: list[Any], count: int) -> list[str] | None:
    found = [json.loads(item.body)["event"] for item in accepted]
    return found if len(found) >= count else None
