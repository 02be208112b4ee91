"""Durability across restarts: a daemon stopped by SIGTERM (idle, and under load) and started
again on the same state directory finds every incident it accepted, and numbers new ones on."""

from __future__ import annotations

import queue
import re
import signal
import threading
from collections import Counter
from typing import Any

import httpx

from tests.e2e.conftest import (
    ROUTING_KEY,
    Daemon,
    incident_ids,
    incidents_by_key,
    payload,
    show,
)


def incident_number(incident_id: str) -> int:
    found = re.fullmatch(r"INC([0-9]+)", incident_id)
    assert found, incident_id
    return int(found[1])


def fill(daemon: Daemon) -> None:
    """Incidents of every kind of history: open, acknowledged, resolved, several alerts."""
    with daemon.client() as client:
        incident_ids(client.post("/v1/alerts", json=payload("native_single.json")))
        incident_ids(client.post("/v1/alerts", json=payload("native_single.json")))
        firing = incident_ids(client.post("/v1/ingest/alertmanager",
                                          json=payload("alertmanager_firing.json")))
        incident_ids(client.post("/v1/ingest/alertmanager",
                                 json=payload("alertmanager_resolved.json")))
        trigger = {**payload("pagerduty_trigger.json"), "routing_key": ROUTING_KEY}
        assert client.post("/v2/enqueue", json=trigger).status_code == 202
        acknowledged = client.post(f"/v1/incidents/{firing[0]}/acknowledge", json={"by": "bob"})
        assert acknowledged.status_code == 200, acknowledged.text
        silence = client.post("/v1/silences", json={
            "matchers": [{"name": "service", "operator": "=", "value": "database"}],
            "ends_at": "2099-01-01T00:00:00Z", "reason": "migration", "created_by": "bob"})
        assert silence.status_code == 201, silence.text
    with daemon.connect() as connection:
        created = connection.ask({"src": "alerter", "dest": "router", "body": {
            "type": "create_incident", "msg_id": 1, "title": "High error rate",
            "service": "api", "severity": "critical"}})
        assert created["body"]["type"] == "incident_created", created


def everything(daemon: Daemon) -> tuple[dict[str, dict[str, Any]], Any]:
    """Every incident's detail (incident, alerts, timeline) by id, and the silences."""
    with daemon.client() as client:
        found = incidents_by_key(client)
        silences = client.get("/v1/silences").json()
        return {item["id"]: show(client, item["id"]) for item in found.values()}, silences


def test_restart_finds_every_incident(daemon: Daemon) -> None:
    fill(daemon)
    before, silences = everything(daemon)
    assert len(before) == 5
    assert {detail["incident"]["state"] for detail in before.values()} == {
        "triggered", "acknowledged", "resolved"}
    # 8 arrivals in 6 rows: a repeat counts on the row of the alert it repeats
    assert sum(len(detail["alerts"]) for detail in before.values()) == 6
    assert sum(alert["count"] for detail in before.values()
               for alert in detail["alerts"]) == 8

    daemon.restart()
    assert everything(daemon) == (before, silences)

    # Numbering goes on from the highest number ever given: no id is reused.
    with daemon.client() as client:
        [new] = incident_ids(client.post("/v1/alerts", json={
            "summary": "After the restart", "labels": {"alertname": "Fresh"}}))
    assert new is not None
    assert incident_number(new) == max(map(incident_number, before)) + 1
    with daemon.connect() as connection:  # the socket is back at its path
        assert connection.ask({"summary": "x", "labels": {"alertname": "Fresh"}}) == {
            "status": "accepted", "incidents": [new]}


def test_sigterm_under_load_loses_no_accepted_alert(daemon: Daemon) -> None:
    total, senders, signal_after = 300, 16, 100
    work: queue.SimpleQueue[int] = queue.SimpleQueue()
    for number in range(total):
        work.put(number)
    accepted: dict[str, str] = {}  # dedup key -> incident id, for every 202
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    enough = threading.Event()

    def send() -> None:
        with httpx.Client(base_url=daemon.base_url, timeout=20.0, trust_env=False) as client:
            while True:
                try:
                    number = work.get_nowait()
                except queue.Empty:
                    return
                key = f"load-{number}"
                try:
                    response = client.post("/v1/alerts", json={
                        "summary": f"Load alert {number}", "dedup_key": key,
                        "labels": {"alertname": "Load", "number": str(number)}})
                except httpx.TransportError as error:
                    with lock:
                        outcomes[type(error).__name__] += 1
                    continue
                with lock:
                    outcomes[str(response.status_code)] += 1
                    if response.status_code == 202:
                        [incident_id] = incident_ids(response)
                        assert incident_id is not None
                        accepted[key] = incident_id
                        if len(accepted) >= signal_after:
                            enough.set()

    threads = [threading.Thread(target=send) for _ in range(senders)]
    for thread in threads:
        thread.start()
    try:
        assert enough.wait(30), f"not {signal_after} answers in 30 s: {outcomes}"
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait_exit()
    finally:
        for thread in threads:
            thread.join(30)
    assert code == 0, daemon.log()
    assert not any(thread.is_alive() for thread in threads)
    # Every request was answered 202 or not answered at all, and SIGTERM came part-way.
    assert {outcome for outcome in outcomes if outcome.isdigit()} == {"202"}, outcomes
    assert signal_after <= len(accepted) < total, outcomes

    daemon.start()
    with daemon.client() as client:
        found = incidents_by_key(client)
    lost = {key: incident_id for key, incident_id in accepted.items()
            if key not in found or found[key]["id"] != incident_id}
    assert not lost, f"accepted but not stored: {sorted(lost)}"
    assert {found[key]["alert_count"] for key in accepted} == {1}
