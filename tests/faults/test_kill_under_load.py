"""kill -9 under load: no alert router answered 2xx is lost, and a repeat is recognisable.

Several senders post alerts in every inbound format (one or a few per request, each with a
label `uid` of its own, so each opens an incident and pages Ann once) as fast as the daemon
answers, while the daemon is killed with SIGKILL three times and started again on the same
state directory. Ann's pages go to a local webhook receiver that records every POST.
Afterwards every alert answered 2xx has been paged at least once, and where a page arrived
more than once (the daemon died between the receiver's 200 and storing it) every copy
carries the same notification id, as docs/delivery.md promises.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import pytest

from tests.e2e.conftest import Daemon, StartDaemon, wait_until
from tests.fakes import serve_in_thread
from tests.fakes.webhook import FakeWebhook, serve_fake_webhook
from tests.faults.support import alive, api, auth_headers, config

SENDERS = 4
KILLS = 3
LOAD_SECONDS = 6.0  # of load before each kill, and after the last restart
DRAIN_TIMEOUT = 60.0  # for every accepted alert to reach the receiver
ROUTING_KEY = "faults0load0routing0key000000001"

Request = tuple[str, bytes]
"""A path and a JSON body."""


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _labels(uid: str) -> dict[str, str]:
    return {"alertname": "LoadTest", "uid": uid, "severity": "critical"}


def native(uids: list[str]) -> Request:
    return "/v1/alerts", json.dumps([
        {"summary": f"load {uid}", "severity": "critical", "labels": _labels(uid)}
        for uid in uids]).encode()


def alertmanager(uids: list[str], path: str = "/v1/ingest/alertmanager") -> Request:
    alerts = [{"status": "firing", "labels": _labels(uid),
               "annotations": {"summary": f"load {uid}"}, "startsAt": _now(),
               "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus/graph"}
              for uid in uids]
    return path, json.dumps({
        "receiver": "router", "status": "firing", "alerts": alerts, "groupLabels": {},
        "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://alertmanager",
        "version": "4", "groupKey": "{}:{}", "truncatedAlerts": 0, "orgId": 1}).encode()


def grafana(uids: list[str]) -> Request:
    return alertmanager(uids, "/v1/ingest/grafana")


def prometheus(uids: list[str]) -> Request:
    return "/api/v2/alerts", json.dumps([
        {"labels": _labels(uid), "annotations": {"summary": f"load {uid}"},
         "startsAt": _now(), "generatorURL": "http://prometheus/graph"}
        for uid in uids]).encode()


def datadog(uids: list[str]) -> Request:
    [uid] = uids
    return "/v1/ingest/datadog", json.dumps({
        "title": f"[Triggered] load {uid}", "alert_transition": "Triggered",
        "alert_priority": "P1", "alert_id": uid, "tags": f"uid:{uid}, service:api",
        "date": str(int(time.time() * 1000))}).encode()


def pagerduty(uids: list[str]) -> Request:
    [uid] = uids
    return "/v2/enqueue", json.dumps({
        "routing_key": ROUTING_KEY, "event_action": "trigger", "dedup_key": uid,
        "payload": {"summary": f"load {uid}", "source": "load", "severity": "critical",
                    "group": uid}}).encode()


FORMATS: list[tuple[Callable[[list[str]], Request], int]] = [
    (native, 4), (alertmanager, 3), (grafana, 3), (prometheus, 4), (datadog, 1),
    (pagerduty, 1)]
"""Each format and the most alerts one request of it carries."""


def page_uid(body: dict[str, object]) -> str:
    """The uid of the alert a page is about: its label `uid` (PagerDuty's `group`)."""
    incident = body["incident"]
    assert isinstance(incident, dict)
    labels = incident["labels"]
    return str(labels.get("uid") or labels["group"])


@dataclass
class Load:
    """Senders posting alerts to the daemon wherever it listens now, until `stop`."""

    daemon: Daemon
    accepted: set[str] = field(default_factory=set)
    answers: Counter[int] = field(default_factory=Counter)
    unanswered: int = 0
    refused: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, sender: int) -> None:
        chooser = random.Random(sender)
        serial = 0
        with httpx.Client(timeout=10.0, trust_env=False) as client:
            while not self.stop.is_set():
                make, most = chooser.choice(FORMATS)
                uids = [f"s{sender}-{serial + index}" for index in range(chooser.randint(1, most))]
                serial += len(uids)
                path, body = make(uids)
                headers = {"content-type": "application/json", **auth_headers(self.daemon)}
                try:
                    answer = client.post(self.daemon.base_url + path, content=body,
                                         headers=headers)
                except httpx.TransportError:  # killed, or not listening yet
                    with self.lock:
                        self.unanswered += 1
                    time.sleep(0.01)
                    continue
                with self.lock:
                    self.answers[answer.status_code] += 1
                    if 200 <= answer.status_code < 300:
                        self.accepted.update(uids)
                    elif len(self.refused) < 20:
                        self.refused.append(f"{path} {answer.status_code} {answer.text[:200]}")

    def accepted_count(self) -> int:
        with self.lock:
            return len(self.accepted)


@pytest.fixture
def receiver() -> Iterator[FakeWebhook]:
    with serve_in_thread(serve_fake_webhook) as fake:
        yield fake


def test_kill_9_under_load_loses_no_accepted_alert(
        start_daemon: StartDaemon, receiver: FakeWebhook) -> None:
    daemon = start_daemon(config(
        f'  - {{id: pager, type: webhook, url: "{receiver.url}", concurrency: 16}}\n',
        pager="pager"))
    load = Load(daemon)
    senders = [threading.Thread(target=load.send, args=(index,), daemon=True)
               for index in range(SENDERS)]
    started = time.monotonic()
    for sender in senders:
        sender.start()
    try:
        for _ in range(KILLS):
            before = load.accepted_count()
            time.sleep(LOAD_SECONDS)
            assert load.accepted_count() > before, f"no alert accepted; log:\n{daemon.log()}"
            daemon.kill()  # SIGKILL
            daemon.start()  # same config and state directory, a new port
        time.sleep(LOAD_SECONDS)
    finally:
        load.stop.set()
        for sender in senders:
            sender.join(timeout=15)
    loaded = time.monotonic() - started
    accepted = set(load.accepted)

    def pages() -> dict[str, set[str]]:
        found: dict[str, set[str]] = defaultdict(set)
        for request in list(receiver.requests):
            body = request.json()
            notification = request.headers["x-router-notification"]
            assert body["notification"] == notification
            found[page_uid(body)].add(notification)
        return found

    wait_until(lambda: accepted <= pages().keys(), timeout=DRAIN_TIMEOUT,
               what=lambda: f"{len(accepted - pages().keys())} of {len(accepted)} accepted "
                            f"alerts to be paged, e.g. {sorted(accepted - pages().keys())[:5]}")
    paged = pages()
    repeats = len(receiver.requests) - len({id for ids in paged.values() for id in ids})
    print(f"{len(accepted)} alerts accepted in {loaded:.1f} s "
          f"({len(accepted) / loaded:.0f}/s) through {KILLS} kills; answers "
          f"{dict(load.answers)}, {load.unanswered} unanswered; {len(receiver.requests)} "
          f"pages, {repeats} repeats")
    assert alive(daemon)
    assert {status for status in load.answers if not 200 <= status < 300} == set(), (
        load.refused)
    # A repeat is the same notification again: one notification id per alert.
    assert {uid: ids for uid, ids in paged.items() if len(ids) != 1} == {}
    # Nothing paged but what was sent (an alert stored as the daemon died, unanswered, may be).
    assert all(uid.startswith("s") for uid in paged)
    assert len(accepted) >= 500, "too little load to mean anything"
    with api(daemon) as client:
        assert client.get("/healthz").status_code == 200
