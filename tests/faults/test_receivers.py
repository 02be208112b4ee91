"""Receivers failing, with the daemon as a subprocess: each fault is retried as
docs/delivery.md says, and none holds up a healthy channel.

One daemon, one alert to five webhook channels at once, each with a receiver of its own:
`down` (nothing listens: connection refused), `error` (500 to everything), `throttled` (429
with `Retry-After: 1` twice, then 200), `hanging` (the first request hangs 5 s, longer than
the channel's 2 s timeout) and `healthy`. A second alert, to the healthy channel only, is
posted while the others fail. `down` and `error` have a `retry_for` of 8 s, so they become
dead letters within seconds. The scenario runs once per module; each test reads one part.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Daemon, Daemons, incident_ids, wait_until
from tests.fakes import Answer, serve_in_thread
from tests.fakes.smtp import free_port
from tests.fakes.webhook import FakeWebhook, serve_fake_webhook
from tests.faults.support import api, config, deliveries, log_lines, router_cli

RETRY_FOR = 8  # seconds, for `down` and `error`
TIMEOUT = 2  # seconds, the `hanging` channel's
HANG = 5.0  # seconds the hanging receiver takes over its first request
FAULTY = ("down", "error", "throttled", "hanging")


@dataclass
class Scenario:
    daemon: Daemon
    receivers: dict[str, FakeWebhook]
    first: str  # the incident of the alert to every channel
    second: str  # the incident of the alert to `healthy` only
    first_posted: float  # time.monotonic() when its 202 came
    second_posted: float
    second_paged: float  # when `healthy` had the second alert
    log: list[dict[str, Any]]  # every delivery attempt, oldest first


def at(item: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(item["attempted_at"])


def gaps(attempts: list[dict[str, Any]]) -> list[float]:
    """Seconds between the starts of consecutive attempts."""
    starts = [at(item) - timedelta(milliseconds=item["latency_ms"]) for item in attempts]
    return [(later - earlier).total_seconds() for earlier, later in pairwise(starts)]


def attempts(scenario: Scenario, channel: str, incident: str | None = None
             ) -> list[dict[str, Any]]:
    return [item for item in scenario.log if item["channel"] == channel
            and item["incident_id"] == (incident or scenario.first)]


def post(client: httpx.Client, summary: str, **labels: str) -> str:
    [incident] = incident_ids(client.post("/v1/alerts", json={
        "summary": summary, "severity": "critical",
        "labels": {"alertname": summary.replace(" ", ""), **labels}}))
    assert incident is not None
    return incident


def channels_yaml(receivers: dict[str, FakeWebhook], closed_port: int) -> str:
    urls = {name: receiver.url for name, receiver in receivers.items()}
    urls["down"] = f"http://127.0.0.1:{closed_port}/hook"
    extra = {"down": f", retry_for: {RETRY_FOR}s", "error": f", retry_for: {RETRY_FOR}s",
             "hanging": f", timeout: {TIMEOUT}s"}
    return "".join(f'  - {{id: {name}, type: webhook, url: "{url}"{extra.get(name, "")}}}\n'
                   for name, url in urls.items())


def ended(client: httpx.Client) -> list[dict[str, Any]] | None:
    """Every attempt, once each of the first alert's five notifications ended."""
    found = deliveries(client)
    done = {item["channel"] for item in found if item["outcome"] in ("delivered", "failed")}
    return found if done >= {*FAULTY, "healthy"} else None


@pytest.fixture(scope="module")
def scenario(module_daemons: Daemons) -> Iterator[Scenario]:
    with ExitStack() as stack:
        receivers = {name: stack.enter_context(serve_in_thread(serve_fake_webhook))
                     for name in ("error", "throttled", "hanging", "healthy")}
        receivers["error"].answer_next(*[Answer(status=500, body=b"database is locked")] * 50)
        receivers["throttled"].answer_next(
            *[Answer(status=429, headers={"Retry-After": "1"}, body=b"slow down")] * 2)
        receivers["hanging"].answer_next(Answer(delay=HANG))
        text = config(channels_yaml(receivers, free_port()),
                      service_channels=", ".join([*FAULTY, "healthy"]))
        text = text.replace("routes:\n", "  - {id: quiet, escalation_policy: default, "
                                         "channels: [healthy]}\nroutes:\n"
                                         "  - {match: [only=healthy], service: quiet}\n")
        daemon = module_daemons.start(text)
        healthy = receivers["healthy"]
        with api(daemon) as client:
            first = post(client, "Everything fails")
            first_posted = time.monotonic()
            wait_until(lambda: len(healthy.accepted) == 1, timeout=5,
                       what=lambda: f"the healthy channel's page; log:\n{daemon.log()}")
            second = post(client, "Only healthy", only="healthy")
            second_posted = time.monotonic()
            wait_until(lambda: len(healthy.accepted) == 2, timeout=5,
                       what=lambda: f"the healthy channel's second page; log:\n{daemon.log()}")
            second_paged = time.monotonic()
            log = wait_until(lambda: ended(client), timeout=RETRY_FOR + 15,
                             what=lambda: f"every notification to end; log:\n{daemon.log()}")
        yield Scenario(daemon, receivers, first, second, first_posted, second_posted,
                       second_paged, log)


def test_a_healthy_channel_is_not_held_up(scenario: Scenario) -> None:
    healthy = scenario.receivers["healthy"]
    assert [request.json()["incident"]["id"] for request in healthy.accepted] == [
        scenario.first, scenario.second]
    # the second page went out at once, while `hanging` still hung on the first alert's
    assert scenario.second_paged - scenario.second_posted < 1.5
    assert scenario.second_paged - scenario.first_posted < HANG
    [first] = attempts(scenario, "healthy")
    [second] = attempts(scenario, "healthy", scenario.second)
    assert (first["attempt"], first["outcome"], second["outcome"]) == (1, "delivered",
                                                                      "delivered")


@pytest.mark.parametrize(("channel", "error"), [
    ("down", "cannot connect"), ("error", "webhook answered 500: database is locked")])
def test_a_failing_receiver_is_retried_with_backoff_then_a_dead_letter(
        scenario: Scenario, channel: str, error: str) -> None:
    log = attempts(scenario, channel)
    assert [item["outcome"] for item in log] == ["retry"] * (len(log) - 1) + ["failed"]
    assert all(error in item["error"] for item in log), log
    # at once, after 2.5-5 s (backoff after one failure), then at the deadline: 8 s after
    # the notification was written (the next backoff, 5-10 s, would pass it)
    assert 3 <= len(log) <= 4, log
    assert 2.4 <= gaps(log)[0] <= 5.5, log
    assert RETRY_FOR - 0.5 <= (at(log[-1]) - at(log[0])).total_seconds() <= RETRY_FOR + 2.5
    assert log[-1]["error"].startswith(f"gave up after {len(log)} attempts in {RETRY_FOR}s: ")


def test_a_429_is_retried_after_its_retry_after(scenario: Scenario) -> None:
    log = attempts(scenario, "throttled")
    assert [(item["outcome"], item["status_code"]) for item in log] == [
        ("retry", 429), ("retry", 429), ("delivered", 200)]
    # one second each, not the backoff's 2.5-5 s
    assert all(0.95 <= gap < 2.4 for gap in gaps(log)), gaps(log)
    requests = scenario.receivers["throttled"].requests
    assert len({request.headers["x-router-notification"] for request in requests}) == 1


def test_a_receiver_hanging_past_the_timeout_is_retried(scenario: Scenario) -> None:
    log = attempts(scenario, "hanging")
    assert [(item["outcome"], item["status_code"]) for item in log] == [
        ("retry", None), ("delivered", 200)]
    assert f"no answer within {TIMEOUT}s" in log[0]["error"]
    assert TIMEOUT * 1000 - 100 <= log[0]["latency_ms"] < HANG * 1000
    assert 2.4 <= gaps(log)[0] <= 5.5 + TIMEOUT


def test_dead_letters_show_in_the_cli_the_api_and_one_error_line_each(
        scenario: Scenario) -> None:
    listed = router_cli(scenario.daemon, "deliveries", "--failed")
    assert (listed.returncode, listed.stderr) == (0, "")
    rows = listed.stdout.splitlines()[1:]
    assert sorted(row.split()[2] for row in rows) == ["down", "error"], listed.stdout
    assert all(f" {scenario.first} " in row and "gave up after" in row for row in rows)
    with api(scenario.daemon) as client:
        failed = deliveries(client, failed="true")
    assert sorted(item["channel"] for item in failed) == ["down", "error"]
    errors = [line for line in log_lines(scenario.daemon) if line["level"] == "ERROR"]
    assert sorted((line["message"].split(":")[0], line["channel"]) for line in errors) == [
        ("notification failed for good", "down"), ("notification failed for good", "error")]
