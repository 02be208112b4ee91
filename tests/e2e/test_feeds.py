"""A calendar feed's secret URL, from `router oncall feeds`, opens that feed of a running
daemon with no API token, while API tokens are on; `router oncall feeds rotate` revokes it
at the next fetch, without a reload (issue 16 item 6)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import CONFIG, StartDaemon

TOKENS = """
  ingest_tokens:
    - {name: ops, token: ops-token-for-feeds-1}
"""


def router_feeds(config_dir: Path, state_dir: Path, *words: str) -> dict[str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "router", "oncall", "feeds", *words, "--config", str(config_dir),
         "--state", str(state_dir), "--format", "json"],
        capture_output=True, text=True, timeout=60, check=True)
    return {item["feed"]: item["url"] for item in json.loads(done.stdout)["feeds"]}


# sqlite_only: the CLI keeps the tokens in the state directory here; on PostgreSQL they are
# the store's (tests/e2e/test_ha_shared_keys.py makes and rotates them there)
@pytest.mark.sqlite_only
def test_a_feed_url_works_without_the_bearer_token_until_rotated(
        start_daemon: StartDaemon) -> None:
    config = textwrap.dedent(CONFIG).replace("  timezone: UTC\n",
                                             "  timezone: UTC\n" + TOKENS[1:], 1)
    daemon = start_daemon(config)
    urls = router_feeds(daemon.config_dir, daemon.state_dir)
    path = urls["rota:primary"].partition("/v1/")[2]
    with httpx.Client(base_url=daemon.base_url, timeout=10) as http:
        feed = http.get(f"/v1/{path}")
        assert feed.status_code == 200, feed.text
        assert feed.text.startswith("BEGIN:VCALENDAR")
        assert http.get("/v1/rotas/primary.ics").status_code == 401
        token = path.partition("?token=")[2]
        assert http.get("/v1/oncall", params={"token": token}).status_code == 401
        router_feeds(daemon.config_dir, daemon.state_dir, "rotate", "rota:primary")
        assert http.get(f"/v1/{path}").status_code == 401
