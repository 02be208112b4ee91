"""Delivery end to end: `router run` as a subprocess sends what it decided to stand-in PagerDuty,
Slack and webhook servers and a real SMTP server (aiosmtpd), all on loopback in threads of this
process, and keeps a delivery log that `GET /v1/deliveries` and `router deliveries` show.

Cases: one alert reaching every channel, an acknowledgement following up on PagerDuty and
Slack, a receiver answering 500 then 200, a receiver that is down for the whole `retry_for`
(a dead letter: API, CLI, ERROR log line, metric), a restart between a 503 with Retry-After
and its retry (sent exactly once more, acknowledge after trigger), and a slow receiver that
holds up neither another channel nor ingest. Deadlines and Retry-After are seconds, so the
whole file runs in well under a minute.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Daemon, StartDaemon, incident_ids, show, wait_until
from tests.fakes import Answer, Received, serve_in_thread
from tests.fakes.pagerduty import FakePagerDuty, serve_fake_pagerduty
from tests.fakes.slack import FakeSlack, serve_fake_slack
from tests.fakes.smtp import FakeSmtp, free_port, serve_smtp
from tests.fakes.webhook import FakeWebhook, serve_fake_webhook
from tests.notify.test_webhook import documented_verify

ROUTING_KEY = "e2e0delivery0routing0key00000001"
HOOK_SECRET = "e2e-webhook-signing-secret"
HEAD = """
settings:
  timezone: UTC
  public_url: http://router.invalid:9080
people:
  - id: ann
    name: Ann Example
    contact_methods: [{type: email, address: ann@example.com}]
rotas:
  - id: primary
    layers: [{members: [ann], every: 1w, start: 2020-01-06}]
escalation_policies:
  - id: default
    levels: [{targets: [{rota: primary}], delay: 15m}]
routes:
  - service: api
"""
"""Ann is always on call; every alert goes to service `api`, whose channels each test names."""


def config(channels: str, service_channels: str) -> str:
    return (HEAD + "channels:\n" + channels
            + f"services:\n  - {{id: api, escalation_policy: default, "
              f"channels: [{service_channels}]}}\n")


def alert(client: httpx.Client, summary: str) -> str:
    """Post a critical native alert (high urgency); its incident id."""
    [incident_id] = incident_ids(client.post("/v1/alerts", json={
        "summary": summary, "severity": "critical",
        "labels": {"alertname": summary.replace(" ", ""), "host": "db-1"}}))
    assert incident_id is not None
    return incident_id


def deliveries(client: httpx.Client, **query: str) -> list[dict[str, Any]]:
    """GET /v1/deliveries: the attempts, oldest first (the API lists newest first)."""
    answer = client.get("/v1/deliveries", params=query)
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["deliveries"]
    return found[::-1]


def settled(client: httpx.Client, incident_id: str, count: int,
            ) -> list[dict[str, Any]] | None:
    """The incident's attempts once `count` of them ended (delivered, failed, skipped)."""
    found = deliveries(client, incident=incident_id)
    ended = [item for item in found if item["outcome"] != "retry"]
    return found if len(ended) >= count else None


def at(item: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(item["attempted_at"])


def router(daemon: Daemon, *arguments: str) -> subprocess.CompletedProcess[str]:
    """`router ARGUMENTS --config ... --state ... [--store ...]` in a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "router", *arguments, "--config", str(daemon.config_dir),
         *daemon.store_options],
        capture_output=True, text=True, timeout=60, check=False)


def log_lines(daemon: Daemon) -> list[dict[str, Any]]:
    """The daemon's JSON log lines (its default format)."""
    return [json.loads(line) for line in daemon.log().splitlines() if line.startswith("{")]


# One alert, every channel


class Receivers:
    """The four stand-ins of the first test, running while it runs."""

    def __init__(self, pagerduty: FakePagerDuty, slack: FakeSlack, smtp: FakeSmtp,
                 hook: FakeWebhook) -> None:
        self.pagerduty, self.slack, self.smtp, self.hook = pagerduty, slack, smtp, hook


@pytest.fixture
def receivers() -> Iterator[Receivers]:
    verify = documented_verify()  # the very code docs/channels.md gives receivers

    def check(request: Received) -> bool:
        return verify(HOOK_SECRET.encode(), request.headers.get("x-router-timestamp", ""),
                      request.headers.get("x-router-signature", ""), request.body)

    with (serve_in_thread(serve_fake_pagerduty) as pagerduty,
          serve_in_thread(serve_fake_slack) as slack, serve_smtp() as smtp,
          serve_in_thread(partial(serve_fake_webhook, verify=check)) as hook):
        yield Receivers(pagerduty, slack, smtp, hook)


def test_one_alert_reaches_every_channel_and_an_acknowledgement_follows_up(
        start_daemon: StartDaemon, receivers: Receivers) -> None:
    pagerduty, slack, smtp, hook = (receivers.pagerduty, receivers.slack, receivers.smtp,
                                    receivers.hook)
    daemon = start_daemon(config(f"""\
  - {{id: pagerduty, type: pagerduty, routing_key: {ROUTING_KEY}, url: "{pagerduty.url}"}}
  - {{id: slack, type: slack, webhook_url: "{slack.url}"}}
  - {{id: mail, type: email, host: 127.0.0.1, port: {smtp.port}, security: none,
     from: router@example.com}}
  - {{id: hook, type: webhook, url: "{hook.url}", hmac_secret: "${{env:HOOK_SECRET}}"}}
""", "pagerduty, slack, hook"), env={"HOOK_SECRET": HOOK_SECRET})
    with daemon.client() as client:
        incident_id = alert(client, "Disk full on db-1")
        incident = show(client, incident_id)["incident"]
        wait_until(lambda: settled(client, incident_id, 4), timeout=15,
                   what=lambda: f"four deliveries; log:\n{daemon.log()}")

        # PagerDuty: one open alert, under the incident's dedup key
        [paged] = pagerduty.open_alerts()
        assert (paged.routing_key, paged.dedup_key, paged.status) == (
            ROUTING_KEY, incident["dedup_key"], "triggered")
        assert paged.events[0]["payload"]["severity"] == "critical"
        assert paged.events[0]["payload"]["custom_details"]["incident"] == incident_id
        # Slack: Block Kit with the Acknowledge button carrying the incident id
        [page] = slack.messages
        [buttons] = [block for block in page["blocks"] if block["type"] == "actions"]
        acknowledge = buttons["elements"][0]
        assert (acknowledge["text"]["text"], acknowledge["value"]) == ("Acknowledge",
                                                                       incident_id)
        assert [button["text"]["text"] for button in buttons["elements"]] == [
            "Acknowledge", "View Details"]
        # Email: to the person on call, plain text and HTML
        [mail] = smtp.mails
        message = mail.message
        assert (mail.recipients, message["To"], message["X-Router-Incident"]) == (
            ("ann@example.com",), "ann@example.com", incident_id)
        assert {part.get_content_type() for part in message.walk()} >= {
            "text/plain", "text/html"}
        text = message.get_body(("plain",))
        assert text is not None and "Disk full on db-1" in text.get_content()
        # Webhook: signed; the documented check accepted it (an unverified one is a 401)
        assert (len(hook.accepted), hook.unverified) == (1, [])
        body = hook.accepted[0].json()
        assert (body["event"], body["incident"]["id"]) == ("trigger", incident_id)

        answer = client.post(f"/v1/incidents/{incident_id}/acknowledge", json={"by": "ann"})
        assert answer.status_code == 200, answer.text
        wait_until(lambda: settled(client, incident_id, 7), timeout=15,
                   what=lambda: f"the acknowledge follow-ups; log:\n{daemon.log()}")
        log = deliveries(client, incident=incident_id)

    assert paged.status == "acknowledged"
    assert [event["event_action"] for event in pagerduty.events] == ["trigger", "acknowledge"]
    assert [event["dedup_key"] for event in pagerduty.events] == [incident["dedup_key"]] * 2
    follow_up = slack.messages[1]
    assert "acknowledged by" in follow_up["text"] and incident_id in follow_up["text"]
    assert not [block for block in follow_up["blocks"] if block["type"] == "actions"]
    assert len(hook.accepted) == 2 and hook.accepted[1].json()["event"] == "acknowledge"
    assert len(smtp.mails) == 1  # the person was paged; follow-ups go to the channels
    # Every attempt is logged, with the receiver's status and the time it took.
    assert sorted((item["channel"], item["event"], item["attempt"], item["outcome"],
                   item["status_code"]) for item in log) == [
        ("hook", "acknowledge", 1, "delivered", 200),
        ("hook", "trigger", 1, "delivered", 200),
        ("mail", "trigger", 1, "delivered", 250),
        ("pagerduty", "acknowledge", 1, "delivered", 202),
        ("pagerduty", "trigger", 1, "delivered", 202),
        ("slack", "acknowledge", 1, "delivered", 200),
        ("slack", "trigger", 1, "delivered", 200),
    ]
    assert all(item["latency_ms"] > 0 and item["error"] is None for item in log), log
    assert {item["incident_id"] for item in log} == {incident_id}
    by_channel = {item["channel"]: item["target"] for item in log}
    assert by_channel["pagerduty"].startswith("pagerduty 127.0.0.1")
    assert by_channel["mail"] == f"ann@example.com via 127.0.0.1:{smtp.port}"
    assert ROUTING_KEY not in json.dumps(log)  # the routing key is a secret
    # Slack is paced at one message a second: the follow-up started a second after the page.
    # A start is read back as the attempt's record time less the send's latency, and the
    # record comes a loop turn after the answer (tens of ms on a loaded machine), so the gap
    # read back may fall short of the paced second by that much; unpaced it would be ~0.
    slack_starts = sorted(at(item) - timedelta(milliseconds=item["latency_ms"])
                          for item in log if item["channel"] == "slack")
    assert slack_starts[1] - slack_starts[0] >= timedelta(seconds=0.8)


# Retries


@pytest.fixture
def hook() -> Iterator[FakeWebhook]:
    with serve_in_thread(serve_fake_webhook) as receiver:
        yield receiver


def test_a_receiver_answering_500_then_200_is_retried_then_delivered(
        start_daemon: StartDaemon, hook: FakeWebhook) -> None:
    hook.answer_next(Answer(status=500, body=b"database is locked"))
    daemon = start_daemon(config(f'  - {{id: hook, type: webhook, url: "{hook.url}"}}\n',
                                 "hook"))
    with daemon.client() as client:
        incident_id = alert(client, "Flaky receiver")
        log = wait_until(lambda: settled(client, incident_id, 1), timeout=15,
                         what=lambda: f"the retry to be delivered; log:\n{daemon.log()}")

    assert [(item["attempt"], item["outcome"], item["status_code"], item["error"])
            for item in log] == [
        (1, "retry", 500, "webhook answered 500: database is locked"),
        (2, "delivered", 200, None)]
    # backoff after the first failure: 5 s with jitter, times 0.5 to 1
    assert timedelta(seconds=2.4) <= at(log[1]) - at(log[0]) <= timedelta(seconds=7)
    first, second = hook.requests
    assert first.headers["x-router-notification"] == second.headers["x-router-notification"]
    assert first.body == second.body
    assert len(hook.accepted) == 1
    warnings = [line for line in log_lines(daemon) if line["level"] == "WARNING"
                and line["message"].startswith("delivery failed, retrying")]
    assert len(warnings) == 1 and warnings[0]["status"] == 500


def test_a_dead_receiver_is_a_dead_letter_after_retry_for(start_daemon: StartDaemon) -> None:
    closed = free_port()  # nothing listens there: every connection is refused
    daemon = start_daemon(config(f"""\
  - {{id: dead, type: webhook, url: "http://127.0.0.1:{closed}/hook", retry_for: 10s}}
  - {{id: log, type: log}}
""", "dead, log"))
    with daemon.client() as client:
        incident_id = alert(client, "Nobody listens")
        started = time.monotonic()
        failed = wait_until(lambda: deliveries(client, failed="true"), timeout=25,
                            what=lambda: f"a dead letter; log:\n{daemon.log()}")
        elapsed = time.monotonic() - started
        log = deliveries(client, incident=incident_id, channel="dead")
        metrics = client.get("/metrics").text

    [dead] = failed
    assert (dead["channel"], dead["incident_id"], dead["outcome"], dead["status_code"]) == (
        "dead", incident_id, "failed", None)
    assert dead["error"].startswith(f"gave up after {dead['attempt']} attempts in 10s: ")
    assert f"127.0.0.1:{closed}/hook: cannot connect" in dead["error"]
    # tried at once, after 2.5-5 s, then at the deadline: 10 s after it was written
    assert [item["outcome"] for item in log] == ["retry"] * (len(log) - 1) + ["failed"]
    assert 3 <= len(log) <= 4
    assert 9 <= elapsed < 20
    assert timedelta(seconds=9.5) <= at(log[-1]) - at(log[0]) <= timedelta(seconds=13)

    listed = router(daemon, "deliveries", "--failed")
    assert (listed.returncode, listed.stderr) == (0, "")
    [header, row] = listed.stdout.splitlines()
    assert header.split()[:8] == ["TIME", "INCIDENT", "CHANNEL", "EVENT", "TARGET", "TRY",
                                  "OUTCOME", "STATUS"]
    assert f" {incident_id} " in row and " dead " in row and " failed " in row
    assert "gave up after" in row

    errors = [line for line in log_lines(daemon) if line["level"] == "ERROR"]
    assert [(line["message"].split(":")[0], line["channel"], line["incident"])
            for line in errors] == [("notification failed for good", "dead", incident_id)]
    assert 'router_deliveries_total{channel="dead",outcome="failed"} 1.0' in metrics
    assert 'router_outbox_notifications{state="failed"} 1.0' in metrics
    # the healthy log channel of the same incident was delivered at once
    assert 'router_deliveries_total{channel="log",outcome="delivered"} 1.0' in metrics


# Restarts and slow receivers


@pytest.fixture
def pagerduty() -> Iterator[FakePagerDuty]:
    with serve_in_thread(serve_fake_pagerduty) as fake:
        yield fake


def test_a_restart_between_retries_sends_exactly_once_more(
        start_daemon: StartDaemon, pagerduty: FakePagerDuty) -> None:
    pagerduty.answer_next(Answer(
        status=503, headers={"Retry-After": "3", "Content-Type": "application/json"},
        body=b'{"status": "unavailable", "message": "try again later"}'))
    daemon = start_daemon(config(
        f'  - {{id: pagerduty, type: pagerduty, routing_key: {ROUTING_KEY}, '
        f'url: "{pagerduty.url}"}}\n', "pagerduty"))
    with daemon.client() as client:
        incident_id = alert(client, "Restarted mid retry")
        [first] = wait_until(lambda: deliveries(client, incident=incident_id), timeout=10,
                             what=lambda: f"the first attempt; log:\n{daemon.log()}")
        # the acknowledge waits behind its trigger: same incident, channel and target
        answer = client.post(f"/v1/incidents/{incident_id}/acknowledge", json={"by": "ann"})
        assert answer.status_code == 200, answer.text
    assert (first["attempt"], first["outcome"], first["status_code"]) == (1, "retry", 503)
    daemon.stop()
    assert len(pagerduty.requests) == 1, "the retry came before the daemon stopped"

    daemon.start()
    with daemon.client() as client:
        log = wait_until(lambda: settled(client, incident_id, 2), timeout=15,
                         what=lambda: f"trigger and acknowledge; log:\n{daemon.log()}")

    assert [(item["event"], item["attempt"], item["outcome"], item["status_code"])
            for item in log] == [("trigger", 1, "retry", 503), ("trigger", 2, "delivered", 202),
                                 ("acknowledge", 1, "delivered", 202)]
    assert at(log[1]) - at(log[0]) >= timedelta(seconds=2.9)  # Retry-After outlived the stop
    assert len(pagerduty.requests) == 3  # 503, the trigger once more, the acknowledge
    assert [event["event_action"] for event in pagerduty.events] == ["trigger", "acknowledge"]
    [paged] = pagerduty.alerts
    assert paged.status == "acknowledged"


def test_a_slow_receiver_holds_up_neither_another_channel_nor_ingest(
        start_daemon: StartDaemon) -> None:
    with (serve_in_thread(serve_fake_webhook) as slow,
          serve_in_thread(serve_fake_webhook) as fast):
        slow.answer_next(Answer(delay=5))
        daemon = start_daemon(config(f"""\
  - {{id: slow, type: webhook, url: "{slow.url}"}}
  - {{id: fast, type: webhook, url: "{fast.url}"}}
""", "slow, fast"))
        with daemon.client() as client:
            started = time.monotonic()
            first = alert(client, "First")
            wait_until(lambda: len(fast.accepted) == 1, timeout=10,
                       what=lambda: f"fast to get the first; log:\n{daemon.log()}")
            assert time.monotonic() - started < 3
            assert len(slow.requests) == 1 and not slow.accepted  # still hanging

            posted = time.monotonic()
            second = alert(client, "Second")
            assert time.monotonic() - posted < 1  # ingest is not held up
            wait_until(lambda: len(fast.accepted) == 2, timeout=10,
                       what=lambda: f"fast to get the second; log:\n{daemon.log()}")
            # both reached fast while slow was still hanging on the first
            assert first not in [request.json()["incident"]["id"] for request in slow.accepted]
            assert not deliveries(client, incident=first, channel="slow")
            assert time.monotonic() - started < 4.5

            wait_until(lambda: settled(client, first, 2), timeout=15,
                       what=lambda: f"the slow delivery; log:\n{daemon.log()}")
            log = deliveries(client, channel="slow")

    assert [body["incident"]["id"] for body in (request.json() for request in fast.accepted)
            ] == [first, second]
    [hung] = [item for item in log if item["incident_id"] == first]
    assert (hung["outcome"], hung["status_code"], hung["attempt"]) == ("delivered", 200, 1)
    assert hung["latency_ms"] >= 4900
