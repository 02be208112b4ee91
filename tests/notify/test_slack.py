"""notify/slack.py: render and classify as pure functions (Block Kit limits checked by the
stand-in's own validator), then over real HTTP against tests/fakes/slack.py."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from functools import partial
from typing import Any

import httpx
import pytest
import trio

from router.alerts.model import IncidentState
from router.config.model import Secret
from router.errors import Outcome
from router.notify import slack
from router.notify.wire import HttpRequest, HttpResponse, Message
from tests.fakes.slack import Answer, FakeSlack, block_problems, serve_fake_slack
from tests.notify import OPENED, make_message

WEBHOOK = "https://hooks.slack.com/services/T024BE7LD/B024BE7LH/secretpath0123456789"
SETTINGS = slack.Settings(webhook_url=Secret(WEBHOOK, "${file:secrets/slack.url}"))


def render(message: Message, settings: slack.Settings) -> HttpRequest:
    """slack.render for an attempt made as the notification was written."""
    return slack.render(message, settings, now=OPENED)


def body(request: HttpRequest) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(request.body)
    return document


def blocks_of(document: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [block for block in document["blocks"] if block["type"] == kind]


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def test_trigger_is_a_block_kit_page_with_buttons() -> None:
    request = render(make_message(), SETTINGS)
    assert (request.method, request.url, request.target, dict(request.headers),
            request.timeout) == ("POST", WEBHOOK, "slack hooks.slack.com",
                                 {"Content-Type": "application/json"}, timedelta(seconds=10))
    assert body(request) == {
        "text": "INC3 Disk full on db-1",
        "username": "router",
        "blocks": [
            {"type": "header", "text": plain("INC3 Disk full on db-1")},
            {"type": "section", "fields": [mrkdwn("*Severity*\ncritical"),
                                           mrkdwn("*Service*\nDatabase"),
                                           mrkdwn("*Incident*\nINC3")]},
            {"type": "section", "text": mrkdwn("Disk / is 97% full on db-1.")},
            {"type": "context", "elements": [mrkdwn("*alertname*: DiskFull · *host*: db-1"),
                                             mrkdwn("router notification n1")]},
            {"type": "actions", "block_id": "router:n1", "elements": [
                {"type": "button", "action_id": "acknowledge", "value": "INC3",
                 "style": "primary", "text": plain("Acknowledge")},
                {"type": "button", "action_id": "view_details",
                 "url": "https://router.example.com/incidents/INC3",
                 "text": plain("View Details")}]},
        ],
        "metadata": {"event_type": "router_notification",
                     "event_payload": {"notification_id": "n1", "event": "trigger",
                                       "incident_id": "INC3"}},
    }
    assert block_problems(body(request)["blocks"]) == []


def test_the_webhook_url_never_shows_in_target_or_repr() -> None:
    request = render(make_message(), SETTINGS)
    for text in (request.target, repr(request), str(request), repr(SETTINGS)):
        assert "secretpath" not in text
        assert "/services/" not in text
    assert slack.target(slack.Settings(webhook_url=Secret("http://127.0.0.1:8123/x/y"))) == (
        "slack 127.0.0.1:8123")


def test_each_message_carries_its_notification_id() -> None:
    first = body(render(make_message(notification_id="01J0AAA"), SETTINGS))
    second = body(render(make_message(notification_id="01J0BBB"), SETTINGS))
    assert [block["block_id"] for block in blocks_of(first, "actions")
            + blocks_of(second, "actions")] == ["router:01J0AAA", "router:01J0BBB"]
    assert blocks_of(first, "context")[0]["elements"][-1] == mrkdwn(
        "router notification 01J0AAA")
    long_id = "n" * 300
    block_id = blocks_of(body(render(make_message(notification_id=long_id), SETTINGS)),
                         "actions")[0]["block_id"]
    assert block_id.startswith("router:sha256:") and len(block_id) <= 255


def test_every_message_carries_its_notification_id_in_its_metadata() -> None:
    def payload(**changes: Any) -> dict[str, Any]:
        metadata = body(render(make_message(**changes), SETTINGS))["metadata"]
        assert metadata["event_type"] == "router_notification"
        return dict(metadata["event_payload"])

    assert payload(event="resolve", notification_id="01J0CCC") == {
        "notification_id": "01J0CCC", "event": "resolve", "incident_id": "INC3"}
    assert payload(test=True, notification_id="test-1") == {
        "notification_id": "test-1", "event": "trigger", "incident_id": "INC3", "test": True}
    handoff = make_message(event="handoff", notification_id="01J0DDD")
    handoff = dataclasses.replace(handoff, notification=dataclasses.replace(
        handoff.notification, incident_number=0))
    assert body(render(handoff, SETTINGS))["metadata"]["event_payload"] == {
        "notification_id": "01J0DDD", "event": "handoff"}


def test_escalation_looks_like_the_trigger_with_the_templates_wording() -> None:
    title = "INC3 escalated to level 2: Disk full on db-1"
    trigger = body(render(make_message(title=title), SETTINGS))
    escalate = body(render(make_message(event="escalate", title=title), SETTINGS))
    assert (trigger["metadata"]["event_payload"].pop("event"),
            escalate["metadata"]["event_payload"].pop("event")) == ("trigger", "escalate")
    assert escalate == trigger
    assert (escalate["text"], escalate["blocks"][0]["text"]["text"]) == (title, title)


@pytest.mark.parametrize(("event", "changes", "expected"), [
    ("acknowledge", {"state": IncidentState.ACKNOWLEDGED, "acknowledged_by": "ann"},
     "INC3 acknowledged by ann"),
    ("acknowledge", {"state": IncidentState.ACKNOWLEDGED}, "INC3 acknowledged"),
    ("resolve", {"state": IncidentState.RESOLVED}, "INC3 resolved"),
])
def test_follow_ups_are_short_and_have_no_buttons(event: str, changes: dict[str, Any],
                                                  expected: str) -> None:
    document = body(render(make_message(event=event, incident_changes=changes),
                           SETTINGS))
    assert document == {
        "text": expected, "username": "router",
        "blocks": [{"type": "section", "text": mrkdwn(f"*{expected}*: Disk full on db-1")},
                   {"type": "context", "elements": [mrkdwn("router notification n1")]}],
        "metadata": {"event_type": "router_notification",
                     "event_payload": {"notification_id": "n1", "event": event,
                                       "incident_id": "INC3"}}}


def test_a_person_is_mentioned() -> None:
    page = body(render(make_message(target="person:ann", address="U024BE7LH"),
                       SETTINGS))
    assert page["text"] == "<@U024BE7LH> INC3 Disk full on db-1"
    assert blocks_of(page, "section")[1]["text"] == mrkdwn(
        "<@U024BE7LH> Disk / is 97% full on db-1.")
    follow_up = body(render(make_message(
        event="resolve", target="person:ann", address="U024BE7LH"), SETTINGS))
    assert follow_up["text"] == "<@U024BE7LH> INC3 resolved"
    channel = body(render(make_message(target="channel:chat", address="U024BE7LH"),
                          SETTINGS))
    assert "<@" not in json.dumps(channel)


def test_a_plain_message_goes_to_the_channel_named_in_the_notification() -> None:
    settings = dataclasses.replace(SETTINGS, channel="#oncall", username="pager-bot")
    message = body(render(make_message(event="message", target="slack:#alerts",
                                       address="#alerts"), settings))
    page = body(render(make_message(), settings))
    assert (message["channel"], page["channel"], message["username"]) == (
        "#alerts", "#oncall", "pager-bot")
    assert message["blocks"] == page["blocks"]
    assert "channel" not in body(render(make_message(), SETTINGS))


def test_buttons_follow_the_incident() -> None:
    acknowledged = body(render(make_message(
        event="message", incident_changes={"state": IncidentState.ACKNOWLEDGED}), SETTINGS))
    assert [button["action_id"] for button in blocks_of(acknowledged, "actions")[0][
        "elements"]] == ["view_details"]
    neither = body(render(make_message(
        incident_url="", incident_changes={"state": IncidentState.RESOLVED}), SETTINGS))
    assert blocks_of(neither, "actions") == []
    assert block_problems(neither["blocks"]) == []


def test_a_test_notification_says_so_and_has_no_buttons() -> None:
    document = body(render(make_message(test=True), SETTINGS))
    assert document["blocks"][0]["text"] == plain("Test notification: INC3 Disk full on db-1")
    assert blocks_of(document, "section")[1]["text"] == mrkdwn(
        "This is a test from router: nothing to do.\nDisk / is 97% full on db-1.")
    assert blocks_of(document, "actions") == []


def test_what_the_sender_wrote_cannot_ping_or_link() -> None:
    document = body(render(make_message(
        title="<!channel> disk", text="see <https://evil.example|here> & <@U999>",
        labels={"team": "<!here>"}), SETTINGS))
    assert document["text"] == "&lt;!channel&gt; disk"
    assert blocks_of(document, "section")[1]["text"]["text"] == (
        "see &lt;https://evil.example|here&gt; &amp; &lt;@U999&gt;")
    assert blocks_of(document, "context")[0]["elements"][0]["text"] == (
        "*team*: &lt;!here&gt;")
    assert document["blocks"][0]["text"]["text"] == "<!channel> disk"  # plain text: inert


def test_everything_is_cut_to_block_kit_limits() -> None:
    labels = {f"label{number:03}": "v" * 100 for number in range(200)}
    document = body(render(make_message(
        title="T" * 500, text="&" * 5000, labels=labels, service_name="S" * 3000,
        incident_url="https://router.example.com/" + "u" * 4000,
        notification_id="n" * 400), SETTINGS))
    assert block_problems(document["blocks"]) == []
    header, fields, description, context, actions = document["blocks"]
    assert header["text"]["text"] == "T" * 149 + "…"
    assert len(fields["fields"][1]["text"]) == 2000
    assert description["text"]["text"].endswith("&amp;…")
    assert len(description["text"]["text"]) <= 3000
    assert all(len(element["text"]) <= 3000 for element in context["elements"])
    assert [button["action_id"] for button in actions["elements"]] == ["acknowledge"]
    assert len(document["text"]) <= 3000


def test_the_rate_is_the_common_key_now() -> None:
    assert slack.DEFAULT_RATE == 1.0
    assert "messages_per_second" not in {field.name for field in dataclasses.fields(
        slack.Settings)}


@pytest.mark.parametrize(("status", "answer", "headers", "expected"), [
    (200, "ok", {}, Outcome.ok()),
    (400, "invalid_payload", {},
     Outcome.failed("Slack answered 400 invalid_payload: the message was not valid JSON for "
                    "Slack")),
    (400, "no_text", {},
     Outcome.failed("Slack answered 400 no_text: the message had neither text nor blocks")),
    (403, "invalid_token", {},
     Outcome.failed("Slack answered 403 invalid_token: the webhook was revoked")),
    (403, "action_prohibited", {}, Outcome.failed(
        "Slack answered 403 action_prohibited: a workspace admin restricted posting to this "
        "channel")),
    (404, "no_service", {},
     Outcome.failed("Slack answered 404 no_service: the webhook is disabled or its URL is "
                    "wrong")),
    (404, "channel_not_found", {}, Outcome.failed(
        "Slack answered 404 channel_not_found: the channel does not exist or the webhook "
        "cannot post there")),
    (410, "channel_is_archived", {},
     Outcome.failed("Slack answered 410 channel_is_archived: the channel is archived")),
    (400, "invalid_metadata_format", {}, Outcome.failed(
        "Slack answered 400 invalid_metadata_format: Slack refused the message's metadata")),
    (400, "something_new", {}, Outcome.failed("Slack answered 400 something_new")),
    (429, "rate_limited", {"retry-after": "30"},
     Outcome.retry("Slack answered 429 rate_limited", timedelta(seconds=30))),
    (429, "", {}, Outcome.retry("Slack answered 429")),
    (500, "rollup_error", {}, Outcome.retry("Slack answered 500 rollup_error")),
    (503, "", {"retry-after": "4"}, Outcome.retry("Slack answered 503", timedelta(seconds=4))),
    (401, "nope", {}, Outcome.failed("Slack answered 401: nope")),
])
def test_classify(status: int, answer: str, headers: dict[str, str],
                  expected: Outcome) -> None:
    response = HttpResponse(status=status, headers=headers, body=answer.encode())
    assert slack.classify(response) == expected


async def send(client: httpx.AsyncClient, request: HttpRequest) -> Outcome:
    """Perform the request as the transport would and classify Slack's answer."""
    answer = await client.request(request.method, request.url, content=request.body,
                                  headers=dict(request.headers),
                                  timeout=request.timeout.total_seconds())
    return slack.classify(HttpResponse(
        status=answer.status_code, body=answer.content,
        headers={name.lower(): value for name, value in answer.headers.items()}))


def settings_for(fake: FakeSlack) -> slack.Settings:
    return slack.Settings(webhook_url=Secret(fake.url))


async def test_every_kind_of_message_is_accepted_by_the_stand_in() -> None:
    messages = [
        make_message(),
        make_message(event="escalate", notification_id="n2"),
        make_message(event="message", target="slack:#alerts", address="#alerts",
                     notification_id="n3"),
        make_message(target="person:ann", address="U024BE7LH", notification_id="n4"),
        make_message(test=True, notification_id="n5"),
        make_message(title="T" * 500, text="<&>" * 3000, notification_id="n" * 400,
                     labels={f"l{number}": "v" * 300 for number in range(100)}),
        make_message(event="acknowledge", incident_changes={"acknowledged_by": "ann"}),
        make_message(event="resolve"),
    ]
    async with trio.open_nursery() as nursery, httpx.AsyncClient() as client:
        fake = await nursery.start(serve_fake_slack)
        outcomes = [await send(client, render(message, settings_for(fake)))
                    for message in messages]
        assert (outcomes, fake.refused) == ([Outcome.ok()] * len(messages), [])
        assert [message["text"] for message in fake.messages[-2:]] == [
            "INC3 acknowledged by ann", "INC3 resolved"]
        assert fake.messages[2]["channel"] == "#alerts"
        assert [message["metadata"]["event_payload"]["notification_id"]
                for message in fake.messages] == [
            "n1", "n2", "n3", "n4", "n5", "n" * 400, "n1", "n1"]
        assert fake.ignored_metadata == []
        assert fake.requests[0].headers["content-type"] == "application/json"
        nursery.cancel_scope.cancel()


async def test_rate_limited_then_delivered() -> None:
    async with trio.open_nursery() as nursery, httpx.AsyncClient() as client:
        fake = await nursery.start(serve_fake_slack)
        fake.answer_next(Answer(status=429, headers={"Retry-After": "3"}, body=b"rate_limited"),
                         Answer(status=500, body=b"rollup_error"))
        request = render(make_message(), settings_for(fake))
        assert [await send(client, request) for _ in range(3)] == [
            Outcome.retry("Slack answered 429 rate_limited", timedelta(seconds=3)),
            Outcome.retry("Slack answered 500 rollup_error"),
            Outcome.ok()]
        assert (len(fake.requests), len(fake.messages)) == (3, 1)
        nursery.cancel_scope.cancel()


async def test_a_repeat_carries_the_same_metadata() -> None:
    """A node that died after posting and before recording: another posts the same
    notification again, and an app reading the channel sees the same notification id."""
    async with trio.open_nursery() as nursery, httpx.AsyncClient() as client:
        fake = await nursery.start(serve_fake_slack)
        request = render(make_message(notification_id="01JQ2V6T4M8K3N5P7R9S1U3W5Y"),
                         settings_for(fake))
        assert [await send(client, request) for _ in range(2)] == [Outcome.ok()] * 2
        first, second = fake.messages
        assert first["metadata"] == second["metadata"] == {
            "event_type": "router_notification",
            "event_payload": {"notification_id": "01JQ2V6T4M8K3N5P7R9S1U3W5Y",
                              "event": "trigger", "incident_id": "INC3"}}
        assert fake.ignored_metadata == []
        nursery.cancel_scope.cancel()


async def test_the_stand_in_drops_metadata_of_an_event_type_slack_ignores() -> None:
    async with trio.open_nursery() as nursery, httpx.AsyncClient() as client:
        fake = await nursery.start(serve_fake_slack)
        metadata = {"event_type": "router.notification", "event_payload": {"id": "n1"}}
        answer = await client.post(fake.url, json={"text": "x", "metadata": metadata})
        assert (answer.status_code, answer.text) == (200, "ok")
        assert (fake.messages, fake.ignored_metadata) == ([{"text": "x"}], [metadata])
        nursery.cancel_scope.cancel()


async def test_unknown_and_archived_channels_and_a_wrong_webhook_fail_for_good() -> None:
    async with trio.open_nursery() as nursery, httpx.AsyncClient() as client:
        fake = await nursery.start(partial(serve_fake_slack, channels={"#alerts"},
                                           archived={"#old"}))
        settings = settings_for(fake)

        def to(channel: str) -> HttpRequest:
            return render(make_message(event="message", address=channel), settings)

        wrong = render(make_message(), slack.Settings(
            webhook_url=Secret(fake.url.replace("XXXX", "YYYY"))))
        assert [await send(client, request) for request in (
            to("#nowhere"), to("#old"), wrong, to("#alerts"))] == [
            Outcome.failed("Slack answered 404 channel_not_found: the channel does not exist "
                           "or the webhook cannot post there"),
            Outcome.failed("Slack answered 410 channel_is_archived: the channel is archived"),
            Outcome.failed("Slack answered 404 no_service: the webhook is disabled or its URL "
                           "is wrong"),
            Outcome.ok()]
        assert [message["channel"] for message in fake.messages] == ["#alerts"]
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize(("payload", "word"), [
    (b"not json", "invalid_payload"),
    (json.dumps({"username": "router"}).encode(), "no_text"),
    (json.dumps({"text": "x", "blocks": [{"type": "header", "text": plain("h" * 151)}]})
     .encode(), "invalid_blocks"),
    (json.dumps({"text": "x", "blocks": [{"type": "section", "fields": [
        mrkdwn("f")] * 11}]}).encode(), "invalid_blocks"),
    (json.dumps({"text": "x", "blocks": [{"type": "actions", "elements": []}]}).encode(),
     "invalid_blocks"),
    (json.dumps({"text": "x", "metadata": {"event_payload": {}}}).encode(),
     "invalid_metadata_format"),
    (json.dumps({"text": "x", "metadata": {"event_type": "t", "event_payload": "n1"}})
     .encode(), "invalid_metadata_format"),
    (json.dumps({"text": "x", "metadata": {"event_type": "t", "event_payload": {
        "ids": [1, 2]}}}).encode(), "invalid_metadata_format"),
])
async def test_the_stand_in_refuses_what_slack_refuses(payload: bytes, word: str) -> None:
    async with trio.open_nursery() as nursery, httpx.AsyncClient() as client:
        fake = await nursery.start(serve_fake_slack)
        answer = await client.post(fake.url, content=payload,
                                   headers={"Content-Type": "application/json"})
        assert (answer.status_code, answer.text) == (400, word)
        assert fake.messages == []
        nursery.cancel_scope.cancel()
