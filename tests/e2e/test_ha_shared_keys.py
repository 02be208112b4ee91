"""Two nodes on one PostgreSQL database share their keys (issue 18 item 3): with no
`settings.link_secret` or `settings.web.session_secret`, an acknowledge link mailed by one
node is accepted by the other, a login made on one is a login on the other, a calendar feed
URL listed through one node's config opens the feed on the other, and a rotation made
through either is seen by both at the next fetch. Neither state directory holds a key file:
the keys are the store's (store/secrets.py, daemon/shared_keys.py).

`router run` as subprocesses (tests/e2e/conftest.py) on the throwaway cluster
(tests/postgres_server.py), each node with its own state directory and node id, the mail
through a real SMTP server in a thread of this process.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from router.config.passwords import hash_password
from tests.e2e.conftest import Daemon, StartDaemon, show, wait_until
from tests.fakes.smtp import serve_smtp

CONFIG = """
settings:
  timezone: UTC
  public_url: http://router.invalid:9080
  store: {{url: "{url}"}}
people:
  - id: ann
    contact_methods: [{{type: email, address: ann@example.com}}]
users:
  - {{name: ann, role: respond, password_hash: "{hash}"}}
channels:
  - {{id: mail, type: email, host: 127.0.0.1, port: {smtp_port}, security: none,
     from: router@example.com}}
rotas:
  - id: primary
    layers: [{{members: [ann], every: 1w, start: 2020-01-06}}]
escalation_policies:
  - id: default
    levels: [{{targets: [{{person: ann}}], delay: 15m}}]
services:
  - {{id: api, escalation_policy: default}}
routes:
  - service: api
"""
HTML = {"accept": "text/html"}
FORM = {"content-type": "application/x-www-form-urlencoded"}


def router_feeds(node: Daemon, *words: str) -> dict[str, str]:
    """`router oncall feeds [WORDS]` with the node's config (its settings.store: the
    database) and state directory: feed -> path and query of its URL."""
    done = subprocess.run(
        [sys.executable, "-m", "router", "oncall", "feeds", *words, "--config",
         str(node.config_dir), "--state", str(node.state_dir), "--format", "json"],
        capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return {item["feed"]: item["url"].partition("router.invalid:9080")[2]
            for item in json.loads(done.stdout)["feeds"]}


def fetch(node: Daemon, path: str, cookie: str | None = None) -> httpx.Response:
    headers = HTML if cookie is None else {"cookie": cookie, **HTML}
    with httpx.Client(base_url=node.base_url, trust_env=False, timeout=10) as client:
        return client.get(path, headers=headers)


def mailed_link(node: Daemon, smtp_mails: list[object], incident: str) -> str:
    mail = wait_until(lambda: next((item for item in smtp_mails
                                    if incident in item.message["Subject"]),  # type: ignore[attr-defined]
                                   None),
                      timeout=20, what=lambda: f"the page by mail; log:\n{node.log()}")
    text = mail.message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[attr-defined]
    [url] = re.findall(r"Acknowledge: (\S+)", text)
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


# sqlite_only: the backend fixture's own store stays out of it; the config names the
# PostgreSQL database both nodes share (a backend's `--store` would give each its own)
@pytest.mark.sqlite_only
def test_two_nodes_share_links_logins_and_feeds(start_daemon: StartDaemon,
                                                postgres_url: str) -> None:
    with serve_smtp() as smtp:
        config = CONFIG.format(url=postgres_url, hash=hash_password("ann-password"),
                               smtp_port=smtp.port)
        first = start_daemon(config, arguments=("--node-id", "node-a"))
        with first.client() as http:
            answer = http.post("/v1/alerts", json={"summary": "Disk full"})
            assert answer.status_code == 202, answer.text
            incident = answer.json()["incidents"][0]["incident_id"]
            link = mailed_link(first, smtp.mails, incident)  # signed by the only node
        second = start_daemon(config, arguments=("--node-id", "node-b"))

        # the acknowledge link of node A's mail, on node B
        assert fetch(second, link).status_code == 200
        with httpx.Client(base_url=second.base_url, trust_env=False, timeout=10) as http:
            forged = http.post(link.replace(f"/{incident}/", "/INC99/"))
            assert forged.status_code == 403
            confirmed = http.post(link)
            assert confirmed.status_code == 200, confirmed.text
        with first.client() as http:
            assert show(http, incident)["incident"]["acknowledged_by"] == "email:link"

    # a login on node A is one on node B
    page = f"/ui/incidents/{incident}"
    with httpx.Client(base_url=first.base_url, trust_env=False, timeout=10) as browser:
        login = browser.post("/ui/login", headers=FORM,
                             content=f"user=ann&password=ann-password&next={page}")
    assert (login.status_code, login.headers["location"]) == (303, page)
    cookie = login.headers["set-cookie"].partition(";")[0]
    assert fetch(first, page, cookie).status_code == 200
    assert fetch(second, page, cookie).status_code == 200
    assert fetch(second, page).status_code == 303  # without it: the login page

    # a feed URL listed through node A's config opens the feed on node B; a rotation made
    # through node B's holds on both at the next fetch
    feed = router_feeds(first)["rota:primary"]
    answer = fetch(second, feed)
    assert answer.status_code == 200, answer.text
    assert answer.text.startswith("BEGIN:VCALENDAR")
    rotated = router_feeds(second, "rotate", "rota:primary")["rota:primary"]
    assert rotated != feed
    assert [fetch(node, feed).status_code for node in (first, second)] == [401, 401]
    assert [fetch(node, rotated).status_code for node in (first, second)] == [200, 200]

    for node in (first, second):  # the keys are the store's, not the state directory's
        assert sorted(path.name for path in Path(node.state_dir).iterdir()
                      if path.name in ("link.key", "session.key", "feeds.json")) == []
