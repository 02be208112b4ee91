"""The fault suite: CPU denial of service (issue 13 item 1), against `router run` as a
subprocess.

One alert with a 30 KB, 100 KB or 1 MB label froze the whole daemon for 1.3 s, 13.6 s or
about an hour (the Alertmanager fingerprint was quadratic and runs on the event loop). Here
each goes to `/api/v2/alerts`, `/v1/ingest/alertmanager` and `/v1/ingest/grafana` without a
`fingerprint`, with `max_body_bytes` raised to 4 MiB so that even the 1 MB label reaches
the parser, while another thread polls `/healthz`: every poll must be answered within
100 ms, the oversized alerts refused with 400 naming the field, and an alert with a label
right at the limit (16 KiB, fingerprinted) accepted.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import CONFIG, Daemon, Daemons

HEALTH_DEADLINE = 0.100  # seconds: the longest any /healthz may take
SIZES = (30_000, 100_000, 1_000_000)
LIMIT = 16_384
ENDPOINTS = {
    "/api/v2/alerts": lambda labels: [{"labels": labels}],
    "/v1/ingest/alertmanager": lambda labels: {
        "version": "4", "status": "firing", "alerts": [{"status": "firing", "labels": labels}]},
    "/v1/ingest/grafana": lambda labels: {
        "version": "1", "status": "firing", "alerts": [{"status": "firing", "labels": labels}]},
}
FIELDS = {"/api/v2/alerts": "[0].labels.instance",
          "/v1/ingest/alertmanager": "alerts[0].labels.instance",
          "/v1/ingest/grafana": "alerts[0].labels.instance"}


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    daemons = Daemons(tmp_path)
    try:
        yield daemons.start(CONFIG.replace("settings:\n", "settings:\n  max_body_bytes: 4194304\n",
                                           1))
    finally:
        daemons.close()


class HealthPoller:
    """Polls /healthz on a fresh connection every 10 ms in a thread; keeps each latency."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=30.0, trust_env=False) as client:
            while not self.stop.is_set():
                start = time.perf_counter()
                try:
                    answer = client.get("/healthz")
                    if answer.status_code != 200:
                        self.failures.append(f"/healthz answered {answer.status_code}")
                except httpx.HTTPError as error:
                    self.failures.append(f"/healthz failed: {error!r}")
                self.latencies.append(time.perf_counter() - start)
                time.sleep(0.01)

    def __enter__(self) -> HealthPoller:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        self.thread.join(timeout=60)


def labels_of(size: int) -> dict[str, str]:
    return {"alertname": "Huge", "instance": "i" * size, "job": "api"}


def test_oversized_labels_are_refused_and_healthz_keeps_answering(daemon: Daemon) -> None:
    answers: list[tuple[str, int, int, object]] = []
    with HealthPoller(daemon.base_url) as poller, daemon.client() as client:
        time.sleep(0.2)  # a few polls before the first payload
        for endpoint, body in ENDPOINTS.items():
            for size in (*SIZES, LIMIT):
                answer = client.post(endpoint, content=json.dumps(body(labels_of(size))),
                                     headers={"content-type": "application/json"})
                answers.append((endpoint, size, answer.status_code,
                                answer.json() if answer.content else None))
        time.sleep(0.2)
    for endpoint, size, status, document in answers:
        if size == LIMIT:
            assert status in (200, 202), (endpoint, size, status, document)
        else:
            assert (status, document) == (400, {
                "error": f"label value is {size} bytes, over the limit of {LIMIT}",
                "field": FIELDS[endpoint]}), (endpoint, size)
    assert poller.failures == []
    assert len(poller.latencies) >= 20, "the poller hardly ran"
    slowest = max(poller.latencies)
    assert slowest < HEALTH_DEADLINE, (
        f"/healthz took {slowest * 1000:.0f} ms at worst (of {len(poller.latencies)} polls)")


def test_a_body_full_of_labels_within_the_limits_does_not_hold_up_healthz(
        daemon: Daemon) -> None:
    """The worst an accepted request can ask for: ~1 MB of labels, each within the limits,
    to fingerprint (a few hundred ms of Python, parsed in a worker thread)."""
    statuses = []
    with HealthPoller(daemon.base_url) as poller, daemon.client() as client:
        time.sleep(0.2)
        for round_number, (endpoint, body) in enumerate(ENDPOINTS.items()):
            labels = {f"label{number}": f"{round_number}" * 8000 for number in range(127)}
            answer = client.post(endpoint, content=json.dumps(body(
                {"alertname": "Wide", **labels})), headers={"content-type": "application/json"})
            statuses.append(answer.status_code)
        time.sleep(0.2)
    assert statuses == [200, 202, 202]
    assert poller.failures == []
    slowest = max(poller.latencies)
    assert slowest < HEALTH_DEADLINE, (
        f"/healthz took {slowest * 1000:.0f} ms at worst (of {len(poller.latencies)} polls)")
