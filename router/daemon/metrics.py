"""Prometheus metrics for `GET /metrics` (room: daemon; imports store, alerts.model,
engine.cluster).

Two kinds of number, kept apart:
- what happens, counted as it happens through hooks the daemon wires up: alerts accepted
  (the API and the socket), requests refused (the HTTP server), delivery attempts (the
  deliverer's `on_attempt`), timers fired and how late (the scheduler's `on_fired`);
- what is, read when Prometheus scrapes: incidents by state, the outbox by state and the
  pending timers (one cheap GROUP BY or count each, on the store's read connection), the
  reloads so far (the reloader's status), and the cluster's nodes by state and whether
  another node that is up runs another config (engine/cluster.py).

The metrics live in a `CollectorRegistry` of their own, never prometheus_client's global one:
two daemons in one process (the tests run several) must not add to each other's counts.
Scrape-time values are built into fresh metric families for each scrape rather than set on
shared gauges, so two scrapes at once cannot mix their readings.
"""

from __future__ import annotations

import platform
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import trio
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from router.alerts.model import IncidentState
from router.engine.cluster import ClusterView
from router.store import Reader
from router.store.interface import Store
from router.store.outbox import Attempt

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The text format `generate_latest` writes (Prometheus' exposition format 0.0.4)."""

REJECTIONS: Mapping[int, str] = {
    400: "bad_request",  # unreadable body or field, malformed HTTP, bad PagerDuty event
    401: "unauthorized",  # missing or wrong bearer token
    403: "forbidden",
    404: "not_found",  # no such path, incident, silence, rota or generic webhook
    405: "method",  # the path exists, the method does not
    408: "timeout",  # the request head or body did not arrive in time
    409: "conflict",  # the incident's state forbids the transition
    413: "too_large",  # body over settings.max_body_bytes
    431: "headers_too_large",
    500: "internal_error",  # a handler failed (logged with its traceback)
    503: "unavailable",  # a handler did not finish in time
}
"""The reason label of `router_requests_rejected_total`, by the status answered. Other
statuses count as client_error (4xx) or server_error (5xx)."""

OUTBOX_STATES = ("pending", "delivered", "failed", "skipped")
"""The states of an outbox row (store/outbox.py): each is exposed, zero or not."""

DELIVERY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
"""Seconds: a local webhook answers in milliseconds, SMTP and PagerDuty in a second or
two, and a channel's timeout is 10 s by default."""

LATENESS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                    300.0)
"""Seconds after its deadline a timer fired: milliseconds when all is well; minutes only
after a restart (overdue timers fire at once)."""


class ReloadCounts(Protocol):
    """What `/metrics` reads of the reloads so far (router/daemon/reload.py's ReloadStatus)."""

    @property
    def successes(self) -> int: ...
    @property
    def failures(self) -> int: ...
    @property
    def last_success(self) -> datetime | None: ...
    @property
    def last_ok(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class StoreCounts:
    """One scrape's reading of the store."""

    incidents: Mapping[str, int]
    outbox: Mapping[str, int]
    timers: int


def count_store(reader: Reader) -> StoreCounts:
    """Incidents and outbox rows by state, and pending timers (runs in the store's thread)."""
    return StoreCounts(reader.counts(), reader.outbox.counts(),
                       reader.timer_count())


class Metrics:
    """The daemon's metrics: hooks to count with, and the text to answer a scrape with."""

    def __init__(self, store: Store, *, version: str,
                 reloads: Callable[[], ReloadCounts] | None = None,
                 cluster: Callable[[], Awaitable[ClusterView]] | None = None,
                 process: bool = True) -> None:
        """
        Args:
            version: router's version, for `router_build_info`.
            reloads: the reloader's status now; without it no reload metrics are exposed.
            cluster: the nodes sharing the store now (the engine's cluster view); without
                it no cluster metrics are exposed.
            process: also expose the standard process_* and python_* metrics.
        """
        self._store = store
        self._reloads = reloads
        self._cluster = cluster
        self._render = trio.CapacityLimiter(1)  # one scrape renders at a time
        self.registry = registry = _standard_registry(version, process)
        self.alerts = Counter(
            "router_alerts_received_total", "Alerts accepted and stored, by sender (the name "
            "of the ingest token presented, or anonymous) and inbound format.",
            ["source", "format"], registry=registry)
        self.rejections = Counter(
            "router_requests_rejected_total", "HTTP requests answered with an error status, "
            "by reason.", ["reason"], registry=registry)
        for reason in REJECTIONS.values():
            self.rejections.labels(reason=reason)  # exposed at 0 before the first one
        self.deliveries = Counter(
            "router_deliveries_total", "Notification delivery attempts by channel and outcome: "
            "delivered, retry (tried again later), failed (given up for good), skipped "
            "(nothing to send for the event).", ["channel", "outcome"], registry=registry)
        self.delivery_duration = Histogram(
            "router_delivery_duration_seconds", "Time from sending a notification to its "
            "receiver's answer, by channel.", ["channel"], buckets=DELIVERY_BUCKETS,
            registry=registry)
        self.timers_fired = Counter(
            "router_timers_fired_total", "Timers fired, by kind: escalate, unacknowledge "
            "(an acknowledgement timed out), handoff (a rota's handoff notice).", ["kind"],
            registry=registry)
        self.timer_lateness = Histogram(
            "router_timer_lateness_seconds", "How long after its deadline each timer fired.",
            buckets=LATENESS_BUCKETS, registry=registry)

        # Each labelled child as `labels` returned it, kept by its label values:
        # prometheus_client's `labels` (keyword checks, a lock) cost as much as the count
        # itself once per request and once per page (issue 15). Children are never removed,
        # so neither are these.
        self._children: dict[tuple[object, ...], Any] = {}

    def _child(self, metric: Counter | Histogram, *values: str) -> Any:
        """`metric.labels(*values)` (label values in the order the metric declares)."""
        key = (metric, *values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    def alerts_received(self, inbound_format: str, source: str, count: int) -> None:
        """`count` alerts of one request or line were stored."""
        self._child(self.alerts, source, inbound_format).inc(count)

    def responded(self, status: int) -> None:
        """The HTTP server answered a request with `status`."""
        if status >= 400:
            reason = REJECTIONS.get(status) or ("client_error" if status < 500
                                                else "server_error")
            self.rejections.labels(reason=reason).inc()

    def delivery_attempted(self, attempt: Attempt) -> None:
        """The deliverer recorded one attempt (including channel tests)."""
        self._child(self.deliveries, attempt.channel, attempt.outcome).inc()
        if attempt.latency_ms is not None:
            self._child(self.delivery_duration, attempt.channel).observe(
                attempt.latency_ms / 1000)

    def timer_fired(self, kind: str, lateness: float) -> None:
        """A timer fired `lateness` seconds after its deadline. A handoff timer's kind names
        its rota (`handoff:ROTA`); the label keeps only `handoff`."""
        self.timers_fired.labels(kind=kind.partition(":")[0]).inc()
        self.timer_lateness.observe(max(lateness, 0.0))

    async def exposition(self) -> bytes:
        """The text to answer `GET /metrics` with: the counters as they are, and the store
        and reloads read now."""
        counts = await self._store.read(count_store)
        families = [*store_families(counts)]
        if self._reloads is not None:
            families.extend(reload_families(self._reloads()))
        if self._cluster is not None:
            families.extend(cluster_families(await self._cluster()))
        scrape = _Scrape(self.registry, families)
        # The process collector reads /proc: file I/O stays off the event loop.
        return await trio.to_thread.run_sync(generate_latest, scrape, limiter=self._render)


def _standard_registry(version: str, process: bool) -> CollectorRegistry:
    """A registry of our own with router_build_info and, if `process`, prometheus_client's
    process, platform and garbage-collector metrics."""
    # A `_created` series beside every counter and histogram would reach Prometheus, from
    # the 0.0.4 text format, as a series of its own: double the series for no use. The
    # switch is process-wide; router is prometheus_client's only user in the process.
    disable_created_metrics()  # type: ignore[no-untyped-call]
    registry = CollectorRegistry()
    if process:
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
    build = Gauge("router_build_info", "router's version and the Python running it; "
                  "always 1.", ["version", "python"], registry=registry)
    build.labels(version=version, python=platform.python_version()).set(1)
    return registry


class _Scrape:
    """The registry's metrics and one scrape's readings, as one collector."""

    def __init__(self, registry: CollectorRegistry, families: Sequence[Metric]) -> None:
        self._registry = registry
        self._families = families

    def collect(self) -> Iterable[Metric]:
        yield from self._registry.collect()
        yield from self._families


def store_families(counts: StoreCounts) -> list[Metric]:
    """Incidents, outbox rows and timers as gauges; every known state, zero or not."""
    incidents = GaugeMetricFamily("router_incidents", "Incidents in the store by state.",
                                  labels=["state"])
    for state in IncidentState:
        incidents.add_metric([state.value], counts.incidents.get(state.value, 0))
    rows = GaugeMetricFamily(
        "router_outbox_notifications", "Notifications in the outbox by state: pending (waiting "
        "to be sent or retried), delivered, failed (dead letters), skipped.", labels=["state"])
    for row_state in (*OUTBOX_STATES, *sorted(set(counts.outbox) - set(OUTBOX_STATES))):
        rows.add_metric([row_state], counts.outbox.get(row_state, 0))
    timers = GaugeMetricFamily("router_timers_pending", "Timers waiting in the store "
                               "(escalations, acknowledgement timeouts, rota handoffs).",
                               value=counts.timers)
    return [incidents, rows, timers]


def reload_families(status: ReloadCounts) -> list[Metric]:
    """Reload counts, whether the last one took, and when the config last changed."""
    reloads = CounterMetricFamily(
        "router_config_reloads_total", "Config reloads since start (SIGHUP, POST /-/reload, "
        "a change on disk) by result: success (swapped in) or failure (rejected; the "
        "previous config stays in force).", labels=["result"])
    reloads.add_metric(["success"], status.successes)
    reloads.add_metric(["failure"], status.failures)
    last_ok = GaugeMetricFamily("router_config_last_reload_successful",
                                "1 if the last reload took (or none failed since start), "
                                "else 0.", value=1 if status.last_ok else 0)
    families: list[Metric] = [reloads, last_ok]
    if status.last_success is not None:
        families.append(GaugeMetricFamily(
            "router_config_last_reload_success_timestamp_seconds", "When the config in force "
            "was loaded (at start or by the last successful reload), in Unix seconds.",
            value=status.last_success.timestamp()))
    return families


def cluster_families(view: ClusterView) -> list[Metric]:
    """The nodes by state, and whether a node that is up runs another config than this one."""
    nodes = GaugeMetricFamily("router_cluster_nodes", "Routers sharing the store, by state: "
                              "up (beat within the last 15 s) or down.", labels=["state"])
    for state, count in view.counts().items():
        nodes.add_metric([state], count)
    mismatch = GaugeMetricFamily(
        "router_cluster_config_mismatch", "1 if another node that is up runs a config "
        "revision other than this node's, else 0.", value=1 if view.disagreeing() else 0)
    return [nodes, mismatch]
