"""notify/pagerduty.py: render and classify as pure functions, then over real HTTP against the
stand-in of tests/fakes/pagerduty.py, whose answers are classified as they come."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
import trio
import trio.testing

from router.alerts.model import IncidentState, Severity
from router.config.model import Secret, frozen_mapping
from router.errors import Outcome
from router.notify import pagerduty
from router.notify.wire import HttpRequest, HttpResponse, Message
from tests.fakes import serve_in_thread
from tests.fakes.pagerduty import Answer, FakePagerDuty, serve_fake_pagerduty
from tests.notify import OPENED, make_message

PRODUCTION_KEY = "R0PRODUCTION0000000000000000KEY1"
STAGING_KEY = "R0STAGING0000000000000000000KEY2"
SETTINGS = pagerduty.Settings(routing_key=Secret(PRODUCTION_KEY, "${env:PD_KEY}"))


def render(message: Message, settings: pagerduty.Settings) -> HttpRequest | None:
    """pagerduty.render for an attempt made as the notification was written."""
    return pagerduty.render(message, settings, now=OPENED)


def body(request: HttpRequest | None) -> dict[str, Any]:
    assert request is not None
    document: dict[str, Any] = json.loads(request.body)
    return document


def test_trigger_is_one_event_with_the_incident_dedup_key() -> None:
    request = render(make_message(), SETTINGS)
    assert request is not None
    assert (request.method, request.url, request.target, dict(request.headers),
            request.timeout) == (
        "POST", "https://events.pagerduty.com/v2/enqueue", "pagerduty events.pagerduty.com",
        {"Content-Type": "application/json"}, timedelta(seconds=10))
    assert body(request) == {
        "routing_key": PRODUCTION_KEY,
        "event_action": "trigger",
        "dedup_key": "db-1/disk",
        "payload": {
            "summary": "INC3 Disk full on db-1",
            "source": "db-1",
            "severity": "critical",
            "timestamp": "2026-03-02T09:30:00+00:00",
            "group": "database",
            "class": "DiskFull",
            "custom_details": {"incident": "INC3", "notification": "n1", "service": "Database",
                               "description": "Disk / is 97% full on db-1.",
                               "labels": {"host": "db-1", "alertname": "DiskFull"}},
        },
        "client": "router",
        "client_url": "https://router.example.com/incidents/INC3",
        "links": [{"href": "https://router.example.com/incidents/INC3",
                   "text": "INC3 in router"}],
    }


def test_payload_fields_come_from_labels_in_documented_order() -> None:
    labels = {"instance": "db-1:9100", "hostname": "db-1.example.com", "job": "node",
              "component": "disk", "group": "storage", "class": "capacity"}
    payload = body(render(make_message(labels=labels), SETTINGS))["payload"]
    assert (payload["source"], payload["component"], payload["group"], payload["class"]) == (
        "db-1.example.com", "disk", "storage", "capacity")
    bare = body(render(make_message(labels={}), SETTINGS))["payload"]
    assert (bare["source"], "component" in bare, bare["group"], "class" in bare) == (
        "Database", False, "database", False)


def test_escalation_sends_the_same_trigger_so_pagerduty_keeps_one_alert() -> None:
    trigger = body(render(make_message(), SETTINGS))
    escalate = body(render(
        make_message(event="escalate", notification_id="n2"), SETTINGS))
    assert (trigger["payload"]["custom_details"].pop("notification"),
            escalate["payload"]["custom_details"].pop("notification")) == ("n1", "n2")
    assert escalate == trigger


def test_an_event_too_large_keeps_its_incident_and_notification() -> None:
    huge = body(render(make_message(text="x" * pagerduty.EVENT_SIZE_LIMIT), SETTINGS))
    assert huge["payload"]["custom_details"] == {
        "error": "custom details were removed: the event exceeded PagerDuty's 512 KB",
        "incident": "INC3", "notification": "n1"}


@pytest.mark.parametrize("event", ["acknowledge", "resolve"])
def test_follow_ups_carry_only_key_action_and_dedup_key(event: str) -> None:
    assert body(render(make_message(event=event), SETTINGS)) == {
        "routing_key": PRODUCTION_KEY, "event_action": event, "dedup_key": "db-1/disk"}


@pytest.mark.parametrize(("severity", "expected"), [
    (Severity.CRITICAL, "critical"), (Severity.ERROR, "error"),
    (Severity.WARNING, "warning"), (Severity.INFO, None)])
def test_default_severity_map_does_not_page_info(severity: Severity,
                                                 expected: str | None) -> None:
    requests = {event: render(make_message(event=event, severity=severity), SETTINGS)
                for event in ("trigger", "escalate", "acknowledge", "resolve")}
    if expected is None:
        assert requests == dict.fromkeys(requests)
    else:
        assert body(requests["trigger"])["payload"]["severity"] == expected
        assert all(request is not None for request in requests.values())


def test_a_severity_map_given_keeps_the_defaults_it_leaves_out() -> None:
    settings = pagerduty.Settings(
        routing_key=Secret(PRODUCTION_KEY),
        severity_map=frozen_mapping({"info": "info", "warning": "none"}))
    severities = {}
    for severity in Severity:
        request = render(make_message(severity=severity), settings)
        severities[severity.value] = None if request is None else body(request)["payload"][
            "severity"]
    assert severities == {"critical": "critical", "error": "error", "warning": None,
                          "info": "info"}


def test_summary_is_cut_to_pagerduty_limit() -> None:
    exact = body(render(make_message(title="x" * 1024), SETTINGS))
    assert exact["payload"]["summary"] == "x" * 1024
    cut = body(render(make_message(title="y" * 5000), SETTINGS))
    assert cut["payload"]["summary"] == "y" * 1023 + "…"


def test_an_empty_title_falls_back_to_the_incident_summary() -> None:
    payload = body(render(make_message(title=""), SETTINGS))["payload"]
    assert payload["summary"] == "Disk full on db-1"


@pytest.mark.parametrize("length", [1, 255, 256, 4000])
def test_a_dedup_key_beyond_255_characters_is_hashed(length: int) -> None:
    key = "k" * length
    expected = key if length <= 255 else hashlib.sha256(key.encode()).hexdigest()
    for event in ("trigger", "acknowledge", "resolve"):
        request = render(
            make_message(event=event, incident_changes={"dedup_key": key}), SETTINGS)
        assert body(request)["dedup_key"] == expected


def test_a_test_notification_is_a_trigger_of_its_own() -> None:
    first = body(render(make_message(test=True, notification_id="n7"), SETTINGS))
    second = body(render(make_message(test=True, notification_id="n8"), SETTINGS))
    assert (first["event_action"], first["dedup_key"], second["dedup_key"]) == (
        "trigger", "router-test-n7", "router-test-n8")
    assert first["payload"]["summary"] == "Test notification from router: INC3 Disk full on db-1"
    assert first["payload"]["custom_details"]["test"] is True
    quiet = body(render(make_message(test=True, severity=Severity.INFO), SETTINGS))
    assert quiet["payload"]["severity"] == "info"


@pytest.mark.parametrize("event", ["message", "unknown"])
def test_chat_messages_are_not_sent_to_pagerduty(event: str) -> None:
    assert render(make_message(event=event, address="#alerts"), SETTINGS) is None


def test_routing_key_never_shows_in_target_or_repr() -> None:
    settings = pagerduty.Settings(
        routing_key=Secret(PRODUCTION_KEY, "${env:PD_KEY}"),
        url="https://proxy-user:proxy-pass@proxy.example.com:8443/v2/enqueue")
    request = render(make_message(), settings)
    assert request is not None
    assert request.target == "pagerduty proxy.example.com:8443"
    for text in (repr(request), str(request)):
        assert PRODUCTION_KEY not in text
        assert "proxy-pass" not in text
    assert PRODUCTION_KEY not in repr(settings)
    assert "<secret ${env:PD_KEY}>" in repr(settings)


@pytest.mark.parametrize(("response", "expected"), [
    (HttpResponse(status=202, body=b'{"status":"success"}'), Outcome.ok()),
    (HttpResponse(status=200), Outcome.ok()),
    (HttpResponse(status=400, body=json.dumps({
        "status": "invalid event", "message": "Event object is invalid",
        "errors": ["'payload.summary' is missing or blank", "'payload.source' is missing"],
    }).encode()), Outcome.failed(
        "PagerDuty refused the event (400): invalid event: Event object is invalid: "
        "'payload.summary' is missing or blank; 'payload.source' is missing")),
    (HttpResponse(status=400, body=b"<html>Bad   Request</html>"),
     Outcome.failed("PagerDuty refused the event (400): <html>Bad Request</html>")),
    (HttpResponse(status=429, headers={"retry-after": "120"}),
     Outcome.retry("PagerDuty answered 429", timedelta(minutes=2))),
    (HttpResponse(status=429), Outcome.retry("PagerDuty answered 429")),
    (HttpResponse(status=500, body=b'{"status":"error","message":"internal"}'),
     Outcome.retry("PagerDuty answered 500: error: internal")),
    (HttpResponse(status=503, headers={"retry-after": "5"}),
     Outcome.retry("PagerDuty answered 503", timedelta(seconds=5))),
    (HttpResponse(status=404, body=b"Not Found"),
     Outcome.failed("PagerDuty answered 404: Not Found")),
    (HttpResponse(status=408), Outcome.retry("PagerDuty answered 408")),
])
def test_classify(response: HttpResponse, expected: Outcome) -> None:
    assert pagerduty.classify(response) == expected


async def send(client: httpx.AsyncClient, request: HttpRequest | None) -> HttpResponse:
    """What the transport does, in short: perform the request and keep the answer."""
    assert request is not None
    answer = await client.request(request.method, request.url, content=request.body,
                                  headers=dict(request.headers),
                                  timeout=request.timeout.total_seconds())
    return HttpResponse(status=answer.status_code,
                        headers={name.lower(): value for name, value in answer.headers.items()},
                        body=answer.content)


async def deliver(client: httpx.AsyncClient, settings: pagerduty.Settings,
                  **message: Any) -> Outcome:
    return pagerduty.classify(await send(client, render(make_message(**message),
                                                        settings)))


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    """Jumps only after 50 ms of real idleness, so loopback I/O in flight is answered before
    a request's timeout could be reached in virtual time."""
    return trio.testing.MockClock(autojump_threshold=0.05)


def settings_for(fake: FakePagerDuty, key: str = PRODUCTION_KEY) -> pagerduty.Settings:
    return pagerduty.Settings(routing_key=Secret(key), url=fake.url)


async def test_trigger_acknowledge_resolve_opens_one_alert_and_closes_it() -> None:
    async with trio.open_nursery() as nursery, httpx.AsyncClient() as client:
        fake = await nursery.start(serve_fake_pagerduty)
        settings = settings_for(fake)
        outcomes = [
            await deliver(client, settings, event="trigger", notification_id="n1"),
            await deliver(client, settings, event="trigger", notification_id="n1"),  # a retry
            await deliver(client, settings, event="escalate", notification_id="n2"),
        ]
        assert [(alert.dedup_key, alert.status, alert.summary) for alert in fake.alerts] == [
            ("db-1/disk", "triggered", "INC3 Disk full on db-1")]
        outcomes.append(await deliver(client, settings, event="acknowledge",
                                      incident_changes={"state": IncidentState.ACKNOWLEDGED,
                                                        "acknowledged_by": "ann"}))
        assert fake.alerts[0].status == "acknowledged"
        outcomes.append(await deliver(client, settings, event="resolve"))
        assert outcomes == [Outcome.ok()] * 5
        assert [(alert.dedup_key, alert.status, len(alert.events)) for alert in fake.alerts] == [
            ("db-1/disk", "resolved", 5)]
        assert [event["event_action"] for event in fake.events] == [
            "trigger", "trigger", "trigger", "acknowledge", "resolve"]
        assert fake.requests[0].headers["content-type"] == "application/json"
        nursery.cancel_scope.cancel()


async def test_a_repeat_folds_into_the_alert_and_names_its_notification() -> None:
    """A node that died after sending and before recording: another sends the same
    notification again. PagerDuty keeps one alert (the dedup key) and its log shows the same
    notification id twice; a repeated acknowledge or resolve changes nothing."""
    async with trio.open_nursery() as nursery, httpx.AsyncClient() as client:
        fake = await nursery.start(serve_fake_pagerduty)
        settings = settings_for(fake)
        acknowledged = {"state": IncidentState.ACKNOWLEDGED, "acknowledged_by": "ann"}
        sends: list[dict[str, Any]] = [
            {"notification_id": "n1"}, {"notification_id": "n1"},
            {"event": "acknowledge", "notification_id": "n2", "incident_changes": acknowledged},
            {"event": "acknowledge", "notification_id": "n2", "incident_changes": acknowledged},
            {"event": "resolve", "notification_id": "n3"},
            {"event": "resolve", "notification_id": "n3"}]
        for changes in sends:
            assert await deliver(client, settings, **changes) == Outcome.ok()
        [alert] = fake.alerts
        assert (alert.dedup_key, alert.status) == ("db-1/disk", "resolved")
        triggers = [event for event in alert.events if event["event_action"] == "trigger"]
        assert [event["payload"]["custom_details"]["notification"] for event in triggers] == [
            "n1", "n1"]
        assert fake.refused == []
        nursery.cancel_scope.cancel()


async def test_a_routing_key_of_the_wrong_length_fails_with_pagerduty_errors() -> None:
    async with trio.open_nursery() as nursery, httpx.AsyncClient() as client:
        fake = await nursery.start(serve_fake_pagerduty)
        outcome = await deliver(client, settings_for(fake, "R0123"))
        assert outcome == Outcome.failed(
            "PagerDuty refused the event (400): invalid event: Event object is invalid: "
            "Length of 'routing_key' is incorrect (should be 32 characters)")
        assert "R0123" not in outcome.reason
        assert (fake.events, fake.alerts, len(fake.refused)) == ([], [], 1)
        nursery.cancel_scope.cancel()


async def test_throttled_then_failing_then_accepted() -> None:
    async with trio.open_nursery() as nursery, httpx.AsyncClient() as client:
        fake = await nursery.start(serve_fake_pagerduty)
        fake.answer_next(
            Answer(status=429, headers={"Retry-After": "2"}),
            Answer(status=500, headers={"Content-Type": "application/json"},
                   body=b'{"status":"error","message":"Internal Server Error"}'),
            Answer(status=502, body=b"Bad Gateway"))
        settings = settings_for(fake)
        assert [await deliver(client, settings) for _ in range(4)] == [
            Outcome.retry("PagerDuty answered 429", timedelta(seconds=2)),
            Outcome.retry("PagerDuty answered 500: error: Internal Server Error"),
            Outcome.retry("PagerDuty answered 502: Bad Gateway"),
            Outcome.ok()]
        assert (len(fake.requests), len(fake.events), len(fake.alerts)) == (4, 1, 1)
        nursery.cancel_scope.cancel()


async def test_a_retry_after_a_timeout_or_a_dropped_connection_never_opens_twice(
        autojump_clock: trio.testing.MockClock) -> None:
    async with trio.open_nursery() as nursery, httpx.AsyncClient() as client:
        fake = await nursery.start(serve_fake_pagerduty)
        fake.answer_next(Answer(delay=30), Answer(close=True))
        request = render(make_message(), settings_for(fake))
        started = trio.current_time()
        with pytest.raises(httpx.ReadTimeout):
            await send(client, request)
        assert trio.current_time() - started == pytest.approx(10, abs=0.1)
        with pytest.raises(httpx.RemoteProtocolError):
            await send(client, request)
        assert pagerduty.classify(await send(client, request)) == Outcome.ok()
        await trio.sleep(30)  # the hung request is processed after all, as PagerDuty would
        assert [event["event_action"] for event in fake.events] == ["trigger", "trigger"]
        assert [(alert.dedup_key, len(alert.events)) for alert in fake.alerts] == [
            ("db-1/disk", 2)]
        assert len(fake.requests) == 3
        nursery.cancel_scope.cancel()


async def test_production_and_staging_channels_are_independent() -> None:
    async with trio.open_nursery() as nursery, httpx.AsyncClient() as client:
        production = await nursery.start(serve_fake_pagerduty)
        shared = await nursery.start(serve_fake_pagerduty)
        channels = {"production": settings_for(production, PRODUCTION_KEY),
                    "staging": settings_for(production, STAGING_KEY),
                    "elsewhere": settings_for(shared, STAGING_KEY)}
        for settings in channels.values():
            assert await deliver(client, settings) == Outcome.ok()
        assert await deliver(client, channels["production"], event="resolve") == Outcome.ok()
        assert [(alert.routing_key, alert.status) for alert in production.alerts] == [
            (PRODUCTION_KEY, "resolved"), (STAGING_KEY, "triggered")]
        assert [(alert.routing_key, alert.status) for alert in shared.alerts] == [
            (STAGING_KEY, "triggered")]
        assert {name: settings.url for name, settings in channels.items()} == {
            "production": production.url, "staging": production.url,
            "elsewhere": shared.url}
        nursery.cancel_scope.cancel()


def test_the_stand_in_serves_a_synchronous_test_from_its_own_thread() -> None:
    with serve_in_thread(serve_fake_pagerduty) as fake, httpx.Client() as client:
        request = render(make_message(event="trigger"), settings_for(fake))
        assert request is not None
        answer = client.post(request.url, content=request.body, headers=dict(request.headers))
        assert (answer.status_code, answer.json()) == (
            202, {"status": "success", "message": "Event processed", "dedup_key": "db-1/disk"})
        assert len(fake.open_alerts()) == 1


@pytest.mark.parametrize(("change", "error"), [
    ({"event_action": "snooze"},
     "'event_action' is invalid (must be one of: trigger, acknowledge, resolve)"),
    ({"payload": {"summary": "s" * 1025, "source": "db-1", "severity": "critical"}},
     "Length of 'payload.summary' is incorrect (should be at most 1024 characters)"),
    ({"payload": {"summary": "x", "source": "db-1", "severity": "fatal"}},
     "'payload.severity' is invalid (must be one of: critical, error, warning, info)"),
    ({"dedup_key": "d" * 256}, "'dedup_key' must be a string of at most 255 characters"),
    ({"event_action": "resolve", "dedup_key": None},
     "'dedup_key' is missing or blank (required to acknowledge or resolve)"),
])
async def test_the_stand_in_refuses_what_pagerduty_refuses(change: dict[str, Any],
                                                          error: str) -> None:
    async with trio.open_nursery() as nursery, httpx.AsyncClient() as client:
        fake = await nursery.start(serve_fake_pagerduty)
        event = {"routing_key": PRODUCTION_KEY, "event_action": "trigger", "dedup_key": "k",
                 "payload": {"summary": "x", "source": "db-1", "severity": "critical"}}
        event.update(change)
        answer = await client.post(fake.url, json={k: v for k, v in event.items()
                                                   if v is not None})
        assert (answer.status_code, answer.json()) == (400, {
            "status": "invalid event", "message": "Event object is invalid",
            "errors": [error]})
        nursery.cancel_scope.cancel()
