"""`router validate` refuses a channel URL that is not http(s) with a host (issue 13,
item 4: one with no scheme failed at every delivery until it became a dead letter), at its
file:line:col, without echoing its secret part."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.config.support import problems, write

CONFIG = """
channels:
  - {{id: hook, type: webhook, url: "{url}"}}
  - {{id: pd, type: pagerduty, routing_key: R0000000000000000000000000000001, url: "{url}"}}
  - {{id: slack, type: slack, webhook_url: "{url}"}}
"""


@pytest.mark.parametrize("url", [
    "htp//ops:hunter2@example.com/hook?key=hunter2", "ftp://ops:hunter2@example.com/hook",
    "example.com/hook", "http:///hook", "https://example.com:port/hook",
])
def test_a_url_without_http_or_a_host_is_refused(tmp_path: Path, url: str) -> None:
    path = write(tmp_path, "channels.yaml", CONFIG.format(url=url))
    found = problems([path])
    shown = url.split("?")[0].replace("ops:hunter2@", "")
    assert found == [
        f"{path}:2:36: channels[0].url: expected an http:// or https:// URL with a host; "
        f"got {shown!r}",
        f"{path}:3:83: channels[1].url: expected an http:// or https:// URL with a host; "
        f"got {shown!r}",
        f"{path}:4:43: channels[2].webhook_url: expected an http:// or https:// URL with a "
        "host; the value is a secret, not shown",
    ]
    assert not any("hunter2" in problem for problem in found)


def test_http_and_https_urls_and_unresolved_references_pass(tmp_path: Path) -> None:
    path = write(tmp_path, "channels.yaml", """
        channels:
          - {id: hook, type: webhook, url: "https://ops:pw@hooks.example.com:8443/x?k=v"}
          - {id: slack, type: slack, webhook_url: "${env:SLACK_URL}"}
    """)
    assert problems([path], resolve_secrets=False) == []
    assert problems([path], environ={"SLACK_URL": "http://127.0.0.1:9/slack"}) == []
