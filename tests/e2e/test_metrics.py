"""GET /metrics of a running daemon, scraped over loopback HTTP as Prometheus scrapes it and
read with prometheus_client's own parser: alerts counted by token and format (HTTP and the
unix socket), refusals by reason, deliveries and the outbox, incidents, timers, reloads."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

import router
from tests.e2e.conftest import CONFIG, Daemon, StartDaemon, payload, wait_until

OPS_TOKEN = "ops-token-metrics-5d1e"
ALERTMANAGER_TOKEN = "alertmanager-metrics-9a7c"
TOKENS = f"""
  ingest_tokens:
    - {{name: ops, token: "{OPS_TOKEN}"}}
    - {{name: alertmanager, token: "{ALERTMANAGER_TOKEN}", sources: [alertmanager]}}
"""
SCRAPE_TYPE = "text/plain; version=0.0.4; charset=utf-8"
WAIT = 10.0  # seconds for deliveries and a reload to show


@pytest.fixture
def daemon(start_daemon: StartDaemon) -> Daemon:
    config = textwrap.dedent(CONFIG).replace("  timezone: UTC\n",
                                             "  timezone: UTC\n" + TOKENS[1:], 1)
    return start_daemon(config)


def scrape(daemon: Daemon) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of `GET /metrics`, by name and sorted labels."""
    with daemon.client(OPS_TOKEN) as client:
        response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == SCRAPE_TYPE
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples}


def by_labels(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float],
              name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {labels: value for (found, labels), value in samples.items() if found == name}


def test_a_scrape_counts_what_the_daemon_did(daemon: Daemon) -> None:
    alert = {"summary": "Disk full", "labels": {"alertname": "DiskFull", "host": "db1"}}
    with daemon.client(OPS_TOKEN) as ops, daemon.client(ALERTMANAGER_TOKEN) as alertmanager, \
            daemon.client("") as anonymous:
        assert ops.post("/v1/alerts", json=alert).status_code == 202
        assert alertmanager.post("/v1/ingest/alertmanager",
                                 json=payload("alertmanager_firing.json")).status_code == 202
        assert anonymous.post("/v1/alerts", json=alert).status_code == 401
        assert alertmanager.get("/metrics").status_code == 403  # a sender's token
        bad = ops.post("/v1/alerts", content=b'{"summary": 5}',
                       headers={"content-type": "application/json"})
        assert bad.status_code == 400, bad.text
        assert ops.get("/v1/nowhere").status_code == 404
    with daemon.connect() as connection:
        line = {"summary": "Queue stuck", "labels": {"alertname": "QueueStuck"}}
        assert connection.ask(line)["status"] == "accepted"

    # Each incident's trigger goes to its service's log channel at once.
    samples = wait_until(
        lambda: (found := scrape(daemon))[("router_outbox_notifications",
                                           (("state", "delivered"),))] == 4 and found,
        timeout=WAIT, what="four notifications delivered")

    assert by_labels(samples, "router_alerts_received_total") == {
        (("format", "native"), ("source", "ops")): 1.0,
        (("format", "alertmanager"), ("source", "alertmanager")): 2.0,
        (("format", "socket"), ("source", "anonymous")): 1.0}
    rejected = {labels[0][1]: value for labels, value in
                by_labels(samples, "router_requests_rejected_total").items() if value}
    assert rejected == {"unauthorized": 1.0, "forbidden": 1.0, "bad_request": 1.0,
                        "not_found": 1.0}
    assert by_labels(samples, "router_incidents") == {
        (("state", "triggered"),): 4.0, (("state", "acknowledged"),): 0.0,
        (("state", "resolved"),): 0.0}
    assert by_labels(samples, "router_deliveries_total") == {
        (("channel", "log"), ("outcome", "delivered")): 4.0}
    assert samples[("router_delivery_duration_seconds_count", (("channel", "log"),))] == 4
    assert samples[("router_outbox_notifications", (("state", "pending"),))] == 0
    assert samples[("router_timers_pending", ())] == 4  # each incident's first escalation
    assert samples[("router_config_last_reload_successful", ())] == 1
    version = by_labels(samples, "router_build_info")
    assert [dict(labels)["version"] for labels in version] == [router.__version__]
    assert samples[("process_open_fds", ())] > 0


def test_reloads_are_counted_and_a_rejected_one_shows(daemon: Daemon) -> None:
    with daemon.client(OPS_TOKEN) as ops:
        assert ops.post("/-/reload").status_code == 200
    before = scrape(daemon)
    assert by_labels(before, "router_config_reloads_total") == {
        (("result", "success"),): 1.0, (("result", "failure"),): 0.0}
    started = before[("router_config_last_reload_success_timestamp_seconds", ())]

    (daemon.config_dir / "router.yaml").write_text("services: [{id: api, channels: [nope]}]\n")

    def rejected() -> dict[Any, float] | None:
        samples = scrape(daemon)
        failures = samples[("router_config_reloads_total", (("result", "failure"),))]
        return samples if failures >= 1 else None
    after = wait_until(rejected, timeout=WAIT, what="the watcher's reload to be rejected")
    assert after[("router_config_last_reload_successful", ())] == 0
    assert after[("router_config_reloads_total", (("result", "success"),))] == 1
    assert after[("router_config_last_reload_success_timestamp_seconds", ())] == started
