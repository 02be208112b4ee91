"""router/daemon/metrics.py: the hooks move the counters, a scrape reads the store (a real SQLite
file) and the reloader's status, and the exposition parses with prometheus_client's own parser
and holds exactly the metrics docs/operations.md lists. GET /metrics and the counting of alerts
and refusals go over real loopback HTTP to the server with the daemon's wiring. The example
alert rules in docs/ parse, name only metrics router exposes, and fire as intended under
promtool. (tests/e2e/test_metrics.py scrapes the daemon as a subprocess.)"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import textwrap
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
import yaml
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from router.alerts.model import Alert
from router.clock import FixedClock
from router.config import load_config
from router.core.cluster import node_state
from router.daemon.metrics import REJECTIONS, Metrics
from router.daemon.reload import ReloadStatus
from router.engine import Engine
from router.engine.cluster import ClusterView, Member
from router.server import messages
from router.server.api import METRICS_TYPE, build_routes
from router.server.http import bound_port, open_listeners, serve_listeners
from router.store import Store
from router.store.outbox import Attempt
from router.store.values import NodeRecord

DOCS = Path(__file__).resolve().parents[2] / "docs"
RULES = DOCS / "prometheus-rules.yml"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
ROUTING_KEY = "R" * 32
CONFIG = f"""
settings:
  timezone: UTC
  generic_webhooks:
    - {{name: checks, summary: title, severity: level}}
  ingest_tokens:
    - {{name: ops, token: s3cret-ops}}
    - {{name: prometheus, token: s3cret-prom, sources: [alertmanager_v2]}}
people:
  - id: ann
    contact_methods: [{{type: email, address: ann@example.com}}]
channels:
  - {{id: mail, type: email, host: localhost, from: router@example.com}}
rotas:
  - id: web
    layers: [{{members: [ann], every: 1d, handoff: "09:00", start: 2026-11-01}}]
escalation_policies:
  - {{id: web, levels: [{{targets: [{{rota: web}}], delay: 5m}}]}}
services:
  - {{id: shop, escalation_policy: web, routing_keys: ["{ROUTING_KEY}"]}}
routes:
  - service: shop
"""
"""One service paging one person by email after 5 minutes: each new incident writes one
notification and one escalation timer."""
OPS = {"authorization": "Bearer s3cret-ops"}
PROMETHEUS = {"authorization": "Bearer s3cret-prom"}


def families(text: str) -> dict[str, Any]:
    """The exposition's metric families by name, as prometheus_client's parser reads them."""
    return {family.name: family for family in text_string_to_metric_families(text)}


def exposed_names(text: str) -> set[str]:
    """Every metric name as one writes it in PromQL (counters with their `_total`)."""
    return {family.name + ("_total" if family.type == "counter" else "")
            for family in text_string_to_metric_families(text)}


def value(text: str, name: str, **labels: str) -> float:
    """The value of the one sample called `name` with exactly `labels`."""
    found = [sample.value for sample in _samples(text)
             if sample.name == name and sample.labels == labels]
    assert len(found) == 1, f"{name}{labels}: {len(found)} samples in\n{text}"
    return found[0]


def labelled(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Every sample called `name`, by its labels."""
    return {tuple(sorted(sample.labels.items())): sample.value for sample in _samples(text)
            if sample.name == name}


def _samples(text: str) -> Iterable[Sample]:
    for family in text_string_to_metric_families(text):
        yield from family.samples


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "router.db", synchronous="NORMAL")
    yield opened
    await opened.close()


@pytest.fixture
def engine(tmp_path: Path, store: Store) -> Engine:
    (tmp_path / "router.yaml").write_text(textwrap.dedent(CONFIG))
    return Engine(load_config([tmp_path / "router.yaml"]), store, FixedClock(NOW))


def attempt(channel: str, outcome: Any, latency_ms: float | None) -> Attempt:
    return Attempt(notification_id="n1", incident_number=1, channel=channel,
                   target="person:ann", event="trigger", attempt=1, attempted_at=NOW,
                   outcome=outcome, latency_ms=latency_ms)


async def test_the_hooks_move_the_counters(store: Store) -> None:
    metrics = Metrics(store, version="1.2.3", process=False)
    metrics.alerts_received("native", "ops", 3)
    metrics.alerts_received("native", "ops", 2)
    metrics.alerts_received("socket", "anonymous", 1)
    for status in (200, 202, 204, 401, 401, 413, 418, 505):
        metrics.responded(status)
    metrics.delivery_attempted(attempt("pagerduty", "delivered", 120.0))
    metrics.delivery_attempted(attempt("pagerduty", "retry", 3000.0))
    metrics.delivery_attempted(attempt("mail", "failed", None))  # no answer: not timed
    metrics.timer_fired("escalate", 0.2)
    metrics.timer_fired("escalate", 0.02)
    metrics.timer_fired("unacknowledge", -0.5)  # a clock step back counts as on time
    metrics.timer_fired("handoff:primary", 0.001)  # one label for every rota's handoffs

    text = (await metrics.exposition()).decode()

    assert labelled(text, "router_alerts_received_total") == {
        (("format", "native"), ("source", "ops")): 5.0,
        (("format", "socket"), ("source", "anonymous")): 1.0}
    rejected = {labels[0][1]: count for labels, count in
                labelled(text, "router_requests_rejected_total").items()}
    assert rejected == {**dict.fromkeys(REJECTIONS.values(), 0.0), "unauthorized": 2.0,
                        "too_large": 1.0, "client_error": 1.0, "server_error": 1.0}
    assert labelled(text, "router_deliveries_total") == {
        (("channel", "pagerduty"), ("outcome", "delivered")): 1.0,
        (("channel", "pagerduty"), ("outcome", "retry")): 1.0,
        (("channel", "mail"), ("outcome", "failed")): 1.0}
    assert value(text, "router_delivery_duration_seconds_count", channel="pagerduty") == 2
    assert value(text, "router_delivery_duration_seconds_sum", channel="pagerduty") == 3.12
    assert value(text, "router_delivery_duration_seconds_bucket", channel="pagerduty",
                 le="0.25") == 1
    assert value(text, "router_delivery_duration_seconds_bucket", channel="pagerduty",
                 le="5.0") == 2
    assert "mail" not in {labels.get("channel") for labels in (
        sample.labels for sample in _samples(text)
        if sample.name.startswith("router_delivery_duration"))}
    assert labelled(text, "router_timers_fired_total") == {
        (("kind", "escalate"),): 2.0, (("kind", "unacknowledge"),): 1.0,
        (("kind", "handoff"),): 1.0}
    assert value(text, "router_timer_lateness_seconds_bucket", le="0.005") == 2
    assert value(text, "router_timer_lateness_seconds_bucket", le="0.025") == 3
    assert value(text, "router_timer_lateness_seconds_bucket", le="0.25") == 4
    assert value(text, "router_timer_lateness_seconds_sum") == pytest.approx(0.221)
    assert value(text, "router_build_info", version="1.2.3",
                 python=".".join(map(str, __import__("sys").version_info[:3]))) == 1


async def test_a_scrape_reads_incidents_outbox_and_timers_from_the_store(
        engine: Engine, store: Store) -> None:
    ids = []
    for name in ("disk", "cpu", "memory"):
        [accepted] = await engine.ingest([Alert(summary=name, source="test",
                                                labels={"alertname": name})])
        ids.append(accepted.incident_id)
    await engine.acknowledge(ids[1], "test")
    await engine.resolve(ids[2], "test")
    metrics = Metrics(store, version="1", process=False)

    text = (await metrics.exposition()).decode()

    assert labelled(text, "router_incidents") == {
        (("state", "triggered"),): 1.0, (("state", "acknowledged"),): 1.0,
        (("state", "resolved"),): 1.0}
    # Three triggers paged ann (nothing delivers here); acknowledging and resolving cancelled
    # the escalation timers of two of them, and resolving cancelled its unsent page.
    assert labelled(text, "router_outbox_notifications") == {
        (("state", "pending"),): 2.0, (("state", "delivered"),): 0.0,
        (("state", "failed"),): 0.0, (("state", "skipped"),): 1.0}
    assert value(text, "router_timers_pending") == 1


async def test_reload_metrics_come_from_the_reloaders_status(store: Store) -> None:
    status = ReloadStatus(successes=2, failures=1, last_success=NOW,
                          last_failure=NOW, last_ok=False)
    metrics = Metrics(store, version="1", reloads=lambda: status, process=False)

    text = (await metrics.exposition()).decode()

    assert labelled(text, "router_config_reloads_total") == {
        (("result", "success"),): 2.0, (("result", "failure"),): 1.0}
    assert value(text, "router_config_last_reload_successful") == 0
    assert value(text, "router_config_last_reload_success_timestamp_seconds") == NOW.timestamp()
    without = (await Metrics(store, version="1", process=False).exposition()).decode()
    assert not any(name.startswith("router_config") for name in exposed_names(without))


def node(node_id: str, revision: str, beat_seconds_ago: float) -> Member:
    last_beat = NOW - timedelta(seconds=beat_seconds_ago)
    return Member(node=NodeRecord(id=node_id, host="h", pid=1, started_at=NOW,
                                  config_revision=revision, last_beat=last_beat),
                  state=node_state(last_beat, NOW))


@pytest.mark.parametrize(("members", "nodes", "mismatch"), [
    ((), {"up": 0.0, "down": 0.0}, 0),
    ((node("a", "r1", 1),), {"up": 1.0, "down": 0.0}, 0),
    ((node("a", "r1", 1), node("b", "r1", 4), node("c", "r2", 16)),
     {"up": 2.0, "down": 1.0}, 0),  # c runs another config but is down
    ((node("a", "r1", 1), node("b", "r1", 4), node("c", "r2", 14)),
     {"up": 3.0, "down": 0.0}, 1),
])
async def test_the_cluster_metrics_count_nodes_and_a_mismatch(
        store: Store, members: tuple[Member, ...], nodes: dict[str, float],
        mismatch: int) -> None:
    async def view() -> ClusterView:
        return ClusterView(own="a" if members else None, members=members)

    text = (await Metrics(store, version="1", cluster=view, process=False).exposition()).decode()
    assert labelled(text, "router_cluster_nodes") == {
        (("state", state),): count for state, count in nodes.items()}
    assert value(text, "router_cluster_config_mismatch") == mismatch
    without = (await Metrics(store, version="1", process=False).exposition()).decode()
    assert not any(name.startswith("router_cluster") for name in exposed_names(without))


def documented_metrics() -> set[str]:
    """The metric names in the first column of the table under "### What it exposes"."""
    text = (DOCS / "operations.md").read_text()
    section = text.split("### What it exposes", 1)[1].split("\n### ", 1)[0]
    return set(re.findall(r"^\| `(router_[a-z_]+)`", section, re.MULTILINE))


async def test_the_exposition_holds_every_documented_metric_and_no_other(
        store: Store, engine: Engine) -> None:
    metrics = Metrics(store, version="1", reloads=lambda: ReloadStatus(last_success=NOW),
                      cluster=engine.cluster.view)
    text = (await metrics.exposition()).decode()
    names = exposed_names(text)
    assert {name for name in names if name.startswith("router_")} == documented_metrics()
    assert len(documented_metrics()) == 15
    # The standard collectors work on a registry of their own.
    assert {"process_cpu_seconds_total", "process_resident_memory_bytes", "python_info",
            "python_gc_objects_collected_total"} <= names
    assert all(family.documentation for family in text_string_to_metric_families(text))


async def test_two_metrics_in_one_process_count_apart(store: Store) -> None:
    first = Metrics(store, version="1")
    second = Metrics(store, version="1")
    first.alerts_received("native", "anonymous", 4)
    text = (await second.exposition()).decode()
    assert labelled(text, "router_alerts_received_total") == {}


@pytest.mark.parametrize(("reply", "count"), [
    ({"status": "accepted", "incidents": ["INC1", None, "INC2"]}, 3),
    ({"error": "expected a JSON object", "field": ""}, 0),
    ({"src": "c", "dest": None, "body": {"type": "incident_created", "in_reply_to": 1}}, 1),
    ({"src": "c", "dest": None, "body": {"type": "alert_sent", "in_reply_to": 2}}, 1),
    ({"src": "c", "dest": None, "body": {"type": "incident_acknowledged"}}, 0),
    ({"src": None, "dest": None, "body": {"type": "error", "code": 400}}, 0),
])
def test_socket_replies_say_how_many_alerts_were_stored(reply: dict[str, object],
                                                        count: int) -> None:
    assert messages.accepted(reply) == count


@pytest.fixture
async def served(engine: Engine, store: Store) -> AsyncIterator[tuple[httpx.AsyncClient,
                                                                    Metrics]]:
    """The API as the daemon wires it to its metrics, on a loopback port."""
    metrics = Metrics(store, version="1", process=False)
    routes = build_routes(engine, metrics=metrics.exposition,
                          received=metrics.alerts_received)
    shutdown = trio.Event()
    async with trio.open_nursery() as nursery:
        listeners = await open_listeners("127.0.0.1", 0)
        await nursery.start(partial(serve_listeners, routes, listeners, shutdown=shutdown,
                                    on_response=metrics.responded))
        async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{bound_port(listeners)}") as client:
            yield client, metrics
        shutdown.set()


async def test_get_metrics_counts_alerts_by_token_and_format_and_refusals_by_reason(
        served: tuple[httpx.AsyncClient, Metrics]) -> None:
    client, _ = served
    alert = {"summary": "Disk full", "labels": {"alertname": "DiskFull"}}
    assert (await client.post("/v1/alerts", json=[alert, alert], headers=OPS)).status_code == 202
    v2 = [{"labels": {"alertname": name}} for name in ("A", "B", "C")]
    assert (await client.post("/api/v2/alerts", json=v2, headers=PROMETHEUS)).status_code == 200
    check = {"title": "Ping failed", "level": "critical"}
    assert (await client.post("/v1/ingest/generic/checks", json=check,
                              headers=OPS)).status_code == 202
    event = {"routing_key": ROUTING_KEY, "event_action": "trigger", "dedup_key": "pd-1",
             "payload": {"summary": "Down", "source": "db1", "severity": "error"}}
    assert (await client.post("/v2/enqueue", json=event)).status_code == 202
    assert (await client.post("/v1/alerts", json=alert)).status_code == 401
    assert (await client.post("/v1/alerts", content=b"{", headers={
        **OPS, "content-type": "application/json"})).status_code == 400
    assert (await client.get("/nowhere", headers=OPS)).status_code == 404
    assert (await client.delete("/healthz")).status_code == 405
    # /metrics takes a token as the /v1 reads do: not a sender's token, nor none.
    assert (await client.get("/metrics")).status_code == 401
    assert (await client.get("/metrics", headers=PROMETHEUS)).status_code == 403

    scraped = await client.get("/metrics", headers=OPS)

    assert scraped.status_code == 200
    assert scraped.headers["content-type"] == METRICS_TYPE
    text = scraped.text
    assert labelled(text, "router_alerts_received_total") == {
        (("format", "native"), ("source", "ops")): 2.0,
        (("format", "alertmanager_v2"), ("source", "prometheus")): 3.0,
        (("format", "generic"), ("source", "ops")): 1.0,
        (("format", "pagerduty"), ("source", "anonymous")): 1.0}
    rejected = {labels[0][1]: count for labels, count in
                labelled(text, "router_requests_rejected_total").items() if count}
    assert rejected == {"unauthorized": 2.0, "forbidden": 1.0, "bad_request": 1.0,
                        "not_found": 1.0, "method": 1.0}
    # The two native alerts are alike, so one incident: 1 + 3 + 1 + 1.
    assert value(text, "router_incidents", state="triggered") == 6
    head = await client.head("/metrics", headers=OPS)
    assert (head.status_code, head.content) == (200, b"")


def test_the_alert_rules_parse_and_name_only_metrics_router_exposes() -> None:
    document = yaml.safe_load(RULES.read_text())
    [group] = document["groups"]
    assert group["name"] == "router"
    assert [rule["alert"] for rule in group["rules"]] == [
        "RouterDown", "RouterConfigReloadFailing", "RouterNotificationsFailing",
        "RouterOutboxBacklogGrowing", "RouterTimersLate", "RouterClusterConfigMismatch"]
    for rule in group["rules"]:
        assert rule["labels"]["severity"] in ("critical", "warning")
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
    used = {re.sub(r"_(bucket|sum|count)$", "", name)
            for rule in group["rules"]
            for name in re.findall(r"\brouter_[a-z_]+", rule["expr"])}
    assert used == {"router_config_last_reload_successful", "router_deliveries_total",
                    "router_outbox_notifications", "router_timer_lateness_seconds",
                    "router_cluster_config_mismatch"}
    assert used <= documented_metrics()


PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="no promtool (apt-get install prometheus; .ci/run does)")


def promtool_tests() -> dict[str, Any]:
    """Series that must fire each rule at its time, and must not fire it before."""
    late = "router_timer_lateness_seconds_bucket{job='router',instance='a:9080',le='%s'}"
    return {"rule_files": [str(RULES)], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [
            {"series": "up{job='router',instance='a:9080'}", "values": "1 1 0 0 0 0 0"},
            {"series": "router_config_last_reload_successful{job='router',instance='a:9080'}",
             "values": "1 1 0x10"},
            {"series": "router_deliveries_total{job='router',instance='a:9080',"
                       "channel='pagerduty',outcome='failed'}", "values": "0x5 1x30"},
            {"series": "router_deliveries_total{job='router',instance='a:9080',"
                       "channel='slack',outcome='failed'}", "values": "0x40"},
            {"series": "router_outbox_notifications{job='router',instance='a:9080',"
                       "state='pending'}", "values": "0+2x60"},
            {"series": late % "0.5", "values": "0x40"},
            {"series": late % "1.0", "values": "0x40"},
            {"series": late % "2.5", "values": "0+5x40"},
            {"series": late % "+Inf", "values": "0+5x40"},
            {"series": "router_cluster_config_mismatch{job='router',instance='a:9080'}",
             "values": "0 0 1 0 1x10"},  # a deploy's moment passes; a lasting one fires
        ],
        "alert_rule_test": [
            {"eval_time": "3m", "alertname": "RouterDown", "exp_alerts": []},
            {"eval_time": "5m", "alertname": "RouterDown", "exp_alerts": [
                _fired("RouterDown", instance="a:9080", job="router")]},
            {"eval_time": "6m", "alertname": "RouterConfigReloadFailing", "exp_alerts": []},
            {"eval_time": "8m", "alertname": "RouterConfigReloadFailing", "exp_alerts": [
                _fired("RouterConfigReloadFailing", instance="a:9080", job="router")]},
            {"eval_time": "4m", "alertname": "RouterNotificationsFailing", "exp_alerts": []},
            {"eval_time": "10m", "alertname": "RouterNotificationsFailing", "exp_alerts": [
                _fired("RouterNotificationsFailing", instance="a:9080", channel="pagerduty")]},
            {"eval_time": "10m", "alertname": "RouterOutboxBacklogGrowing", "exp_alerts": []},
            {"eval_time": "40m", "alertname": "RouterOutboxBacklogGrowing", "exp_alerts": [
                _fired("RouterOutboxBacklogGrowing", "80", instance="a:9080", job="router",
                       state="pending")]},
            {"eval_time": "8m", "alertname": "RouterTimersLate", "exp_alerts": []},
            {"eval_time": "25m", "alertname": "RouterTimersLate", "exp_alerts": [
                _fired("RouterTimersLate", instance="a:9080")]},
            {"eval_time": "8m", "alertname": "RouterClusterConfigMismatch", "exp_alerts": []},
            {"eval_time": "10m", "alertname": "RouterClusterConfigMismatch", "exp_alerts": [
                _fired("RouterClusterConfigMismatch", instance="a:9080", job="router")]},
        ],
    }]}


def _fired(alert: str, value: str = "", **labels: str) -> dict[str, Any]:
    """The alert promtool must see: the rule's labels and these, and its annotations with
    `{{ $labels.NAME }}` and `{{ $value }}` filled in."""
    [rule] = [rule for rule in yaml.safe_load(RULES.read_text())["groups"][0]["rules"]
              if rule["alert"] == alert]

    def render(template: str) -> str:
        text = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda found: labels[found[1]], template)
        return text.replace("{{ $value }}", value)
    return {"exp_labels": {**rule["labels"], **labels},
            "exp_annotations": {name: render(text)
                                for name, text in rule["annotations"].items()}}


@needs_promtool
def test_promtool_checks_the_rules_and_each_fires_when_it_should(tmp_path: Path) -> None:
    assert PROMTOOL is not None
    checked = subprocess.run([PROMTOOL, "check", "rules", str(RULES)], capture_output=True,
                             text=True, timeout=60, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 6 rules found" in checked.stdout
    tests = tmp_path / "router-rules-test.yml"
    tests.write_text(json.dumps(promtool_tests()))  # JSON is YAML
    tested = subprocess.run([PROMTOOL, "test", "rules", str(tests)], capture_output=True,
                            text=True, timeout=60, check=False)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout
