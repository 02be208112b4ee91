"""Acknowledge, resolve and escalate a real daemon's incidents from every surface: the HTTP API,
`router ack|resolve|escalate` while the daemon runs, the unix socket, Slack's button (a form
POST signed as Slack signs it), the acknowledge link of a mail the daemon sent to a real SMTP
server (GET, then POST), PagerDuty Events v2 acknowledge/resolve and Alertmanager's resolved
webhook. A Slack request with a bad signature or a stale timestamp is 401 and changes nothing.

The stand-in Slack and the SMTP server run in threads of this process; the daemon is a
subprocess (tests/e2e/conftest.py).
"""

from __future__ import annotations

import re
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.conftest import ROUTING_KEY, Daemon, StartDaemon, payload, show, wait_until
from tests.fakes import serve_in_thread
from tests.fakes.slack import FakeSlack, serve_fake_slack
from tests.fakes.smtp import FakeSmtp, serve_smtp
from tests.server.test_slack_actions import click, signed

SECRET = "e2e-slack-signing-secret"
CONFIG = """
settings:
  timezone: UTC
  public_url: http://router.invalid:9080
people:
  - id: ann
    contact_methods: [{{type: email, address: ann@example.com}}]
channels:
  - {{id: mail, type: email, host: 127.0.0.1, port: {smtp_port}, security: none,
     from: router@example.com}}
  - {{id: slack, type: slack, webhook_url: "{slack_url}", signing_secret: {secret}}}
  - {{id: log, type: log}}
escalation_policies:
  - id: default
    levels:
      - {{targets: [{{person: ann}}], delay: 15m}}
      - {{targets: [{{channel: log}}], delay: 15m}}
services:
  - id: api
    escalation_policy: default
    channels: [slack]
    routing_keys: ["{routing_key}"]
routes:
  - service: api
"""


@dataclass
class Surfaces:
    daemon: Daemon
    http: httpx.Client
    slack: FakeSlack
    smtp: FakeSmtp

    def open(self, summary: str) -> str:
        """A new incident of service api, opened over the native endpoint."""
        answer = self.http.post("/v1/alerts", json={"summary": summary,
                                                     "labels": {"alertname": summary}})
        assert answer.status_code == 202, answer.text
        incident_id: str = answer.json()["incidents"][0]["incident_id"]
        return incident_id

    def incident(self, incident_id: str) -> dict[str, Any]:
        document: dict[str, Any] = show(self.http, incident_id)["incident"]
        return document

    def timeline(self, incident_id: str) -> list[tuple[str, str]]:
        return [(entry["actor"], entry["action"])
                for entry in show(self.http, incident_id)["timeline"]]

    def router(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        """`router ARGUMENTS --config ... --state ... [--store ...]` in a process of its own."""
        return subprocess.run(
            [sys.executable, "-m", "router", *arguments, "--config",
             str(self.daemon.config_dir), *self.daemon.store_options],
            capture_output=True, text=True, timeout=60, check=False)

    def slack_messages(self) -> list[str]:
        return [message.get("text", "") for message in self.slack.messages]


@pytest.fixture
def surfaces(start_daemon: StartDaemon) -> Iterator[Surfaces]:
    with serve_in_thread(serve_fake_slack) as slack, serve_smtp() as smtp:
        daemon = start_daemon(CONFIG.format(smtp_port=smtp.port, slack_url=slack.url,
                                            secret=SECRET, routing_key=ROUTING_KEY))
        with daemon.client() as http:
            yield Surfaces(daemon, http, slack, smtp)


def test_http_api(surfaces: Surfaces) -> None:
    incident = surfaces.open("api")
    answer = surfaces.http.post(f"/v1/incidents/{incident}/acknowledge", json={"by": "ann"})
    assert (answer.status_code, answer.json()["acknowledged_by"]) == (200, "api:ann")
    escalated = surfaces.http.post(f"/v1/incidents/{incident}/escalate", json={"by": "ann"})
    assert (escalated.status_code, escalated.json()["level"]) == (200, 2)
    resolved = surfaces.http.post(f"/v1/incidents/{incident}/resolve", json={"by": "ann"})
    assert (resolved.status_code, resolved.json()["state"]) == (200, "resolved")
    assert [entry for entry in surfaces.timeline(incident) if entry[0] == "api:ann"] == [
        ("api:ann", "acknowledged"), ("api:ann", "triggered again"), ("api:ann", "escalated"),
        ("api:ann", "resolved")]


def test_cli_while_the_daemon_runs(surfaces: Surfaces) -> None:
    first, second = surfaces.open("cli one"), surfaces.open("cli two")
    acknowledged = surfaces.router("ack", first, "--by", "ann")
    assert (acknowledged.returncode, acknowledged.stdout, acknowledged.stderr) == (
        0, f"{first} acknowledged by cli:ann\n", "")
    # the daemon reads the store the CLI wrote
    assert surfaces.incident(first)["acknowledged_by"] == "cli:ann"
    escalated = surfaces.router("escalate", second, "--by", "ann")
    assert (escalated.returncode, escalated.stdout) == (
        0, f"{second} escalated by cli:ann from level 1 to level 2 (channel:log)\n")
    assert surfaces.incident(second)["level"] == 2
    resolved = surfaces.router("resolve", second, "--by", "ann", "--format", "json")
    assert resolved.returncode == 0, resolved.stderr
    assert '"state": "resolved"' in resolved.stdout
    again = surfaces.router("resolve", second, "--by", "ann")
    assert again.returncode == 1
    assert again.stderr.startswith(f"router resolve: {second} was already resolved at ")
    assert surfaces.router("ack", "INC99", "--by", "ann").stderr == (
        "router ack: no incident INC99\n")
    # the daemon goes on serving, and writes after the CLI did
    surfaces.http.post(f"/v1/incidents/{first}/resolve")
    assert surfaces.incident(first)["state"] == "resolved"


def test_socket(surfaces: Surfaces) -> None:
    incident = surfaces.open("socket")
    with surfaces.daemon.connect() as line:
        acknowledged = line.ask({"src": "job-runner", "dest": "router", "body": {
            "type": "acknowledge_incident", "msg_id": 1, "incident_id": incident,
            "by": "ann"}})
        assert acknowledged["body"] == {"type": "incident_acknowledged", "in_reply_to": 1,
                                        "incident_id": incident, "status": "acknowledged"}
        resolved = line.ask({"src": "job-runner", "dest": "router", "body": {
            "type": "resolve_incident", "msg_id": 2, "incident_id": incident}})
        assert resolved["body"]["status"] == "resolved"
    assert ("socket:ann", "acknowledged") in surfaces.timeline(incident)
    assert ("socket:job-runner", "resolved") in surfaces.timeline(incident)


def test_slack_button(surfaces: Surfaces) -> None:
    incident = surfaces.open("slack")
    # the page reached Slack with its Acknowledge button
    wait_until(lambda: any("slack" in text for text in surfaces.slack_messages()),
               timeout=10, what=lambda: f"the page in Slack; log:\n{surfaces.daemon.log()}")
    [page] = surfaces.slack.messages
    buttons = [element for block in page["blocks"] if block["type"] == "actions"
               for element in block["elements"]]
    assert {"action_id": "acknowledge", "value": incident}.items() <= buttons[0].items()
    body, headers = signed(click("acknowledge", incident, username="ann"), secret=SECRET,
                           at=datetime.now(UTC))
    answer = surfaces.http.post("/v1/slack/actions", content=body, headers=headers)
    assert (answer.status_code, answer.content) == (200, b"")
    assert surfaces.incident(incident)["acknowledged_by"] == "slack:ann"
    # the channel hears of it: the engine's follow-up, delivered by the daemon
    wait_until(lambda: f"{incident} acknowledged by slack:ann" in surfaces.slack_messages(),
               timeout=10, what="the Slack follow-up")
    # a click that changes nothing is explained to the clicker through response_url
    reply_url = surfaces.slack.url.replace("/services/", "/actions/")
    body, headers = signed(click("acknowledge", incident, username="bob",
                                 response_url=reply_url), secret=SECRET, at=datetime.now(UTC))
    assert surfaces.http.post("/v1/slack/actions", content=body, headers=headers).content == b""
    reply = wait_until(lambda: next((request for request in surfaces.slack.requests
                                     if request.path == "/actions/T000/B000/XXXX"), None),
                       timeout=10, what="the ephemeral reply")
    assert reply.json()["response_type"] == "ephemeral"
    assert reply.json()["text"].startswith(f"{incident} was already acknowledged by slack:ann")
    assert surfaces.incident(incident)["acknowledged_by"] == "slack:ann"


@pytest.mark.parametrize(("tamper", "message"), [
    ("signature", "missing or invalid Slack signature"),
    ("secret", "missing or invalid Slack signature"),
    ("stale", "X-Slack-Request-Timestamp is missing or more than 5 minutes from now"),
    ("future", "X-Slack-Request-Timestamp is missing or more than 5 minutes from now"),
])
def test_a_bad_slack_signature_or_stale_timestamp_is_401_and_changes_nothing(
        surfaces: Surfaces, tamper: str, message: str) -> None:
    incident = surfaces.open("tampered")
    before = show(surfaces.http, incident)
    now = datetime.now(UTC)
    at = {"stale": now - timedelta(minutes=6), "future": now + timedelta(minutes=6)}.get(
        tamper, now)
    body, headers = signed(click("acknowledge", incident), at=at,
                           secret="guessed" if tamper == "secret" else SECRET)
    if tamper == "signature":
        headers["x-slack-signature"] = headers["x-slack-signature"][:-4] + "0000"
    answer = surfaces.http.post("/v1/slack/actions", content=body, headers=headers)
    assert (answer.status_code, answer.json()) == (401, {"error": message})
    after = show(surfaces.http, incident)
    assert after == before
    assert after["incident"]["state"] == "triggered"


# sqlite_only: it reads link.key in the state directory; on PostgreSQL the key is the
# store's (tests/e2e/test_ha_shared_keys.py: a link made by one node works on another)
@pytest.mark.sqlite_only
def test_email_link_survives_a_restart(surfaces: Surfaces) -> None:
    incident = surfaces.open("mailed")
    mail = wait_until(lambda: next((item for item in surfaces.smtp.mails
                                    if incident in item.message["Subject"]), None),
                      timeout=10, what=lambda: f"the page by mail; log:\n"
                                               f"{surfaces.daemon.log()}")
    assert mail.recipients == ("ann@example.com",)
    text = mail.message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    [url] = re.findall(r"Acknowledge: (\S+)", text)
    assert url.startswith(f"http://router.invalid:9080/v1/incidents/{incident}/acknowledge-link"
                          f"?expires=")
    html = mail.message.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert url.replace("&", "&amp;") in html
    parts = urlsplit(url)
    link = f"{parts.path}?{parts.query}"
    expires = int(re.findall(r"expires=(\d+)", link)[0])
    assert abs(expires - (time.time() + 24 * 3600)) < 120  # settings.link_lifetime: 24h
    shown = surfaces.http.get(link)  # a mail scanner's prefetch
    assert shown.status_code == 200
    assert f"Acknowledge {incident}</button>" in shown.text
    assert surfaces.incident(incident)["state"] == "triggered"
    key = surfaces.daemon.state_dir / "link.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    surfaces.daemon.restart()  # the key is kept: the mailed link still holds
    with surfaces.daemon.client() as http:
        confirmed = http.post(link)
        assert confirmed.status_code == 200, confirmed.text
        assert f"{incident} acknowledged by email:link." in confirmed.text
        assert show(http, incident)["incident"]["acknowledged_by"] == "email:link"
        forged = http.post(link.replace(f"/{incident}/", "/INC99/"))
        assert forged.status_code == 403


def test_pagerduty_events_acknowledge_and_resolve(surfaces: Surfaces) -> None:
    def enqueue(action: str) -> httpx.Response:
        return surfaces.http.post("/v2/enqueue", json={
            "routing_key": ROUTING_KEY, "dedup_key": "db-disk", "event_action": action,
            "payload": {"summary": "Disk full on db1", "source": "db1",
                        "severity": "critical"}})

    assert enqueue("trigger").status_code == 202
    [incident] = [item for item in surfaces.http.get("/v1/incidents").json()["incidents"]
                  if item["dedup_key"] == "db-disk"]
    acknowledged = enqueue("acknowledge")
    assert (acknowledged.status_code, acknowledged.json()["dedup_key"]) == (202, "db-disk")
    assert surfaces.incident(incident["id"])["state"] == "acknowledged"
    assert enqueue("resolve").status_code == 202
    assert surfaces.incident(incident["id"])["state"] == "resolved"


def test_alertmanager_resolved(surfaces: Surfaces) -> None:
    # the second webhook still fires api-1 and resolves api-2 (Alertmanager sends the group)
    firing = surfaces.http.post("/v1/ingest/alertmanager",
                                json=payload("alertmanager_firing.json"))
    assert firing.status_code == 202, firing.text
    api_1, api_2 = (item["incident_id"] for item in firing.json()["incidents"])
    resolved = surfaces.http.post("/v1/ingest/alertmanager",
                                  json=payload("alertmanager_resolved.json"))
    assert resolved.status_code == 202, resolved.text
    assert [item["action"] for item in resolved.json()["incidents"]] == ["updated", "resolved"]
    assert (surfaces.incident(api_1)["state"], surfaces.incident(api_2)["state"]) == (
        "triggered", "resolved")
