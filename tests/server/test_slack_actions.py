"""POST /v1/slack/actions: Slack's button clicks, signed as Slack signs them, over real loopback
HTTP to an in-process server on a real SQLite store; ephemeral replies go to a stand-in Slack
(tests/fakes/slack.py) over real HTTP."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import trio

from router.clock import FixedClock
from router.config import load_config
from router.engine import Engine
from router.server.api import build_routes
from router.server.slack_actions import Responder, SlackActions, signature_ok, timestamp_fresh
from tests.fakes.slack import FakeSlack, serve_fake_slack
from tests.server.support import Servers

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # Slack's documented example signing secret
OTHER_SECRET = "second-workspace-signing-secret"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CONFIG = """
settings: {{timezone: UTC{settings}}}
people:
  - {{id: ann, contact_methods: [{{type: email, address: ann@example.com}}]}}
  - {{id: bob, contact_methods: [{{type: email, address: bob@example.com}}]}}
channels:
  - {{id: mail, type: email, host: localhost, from: router@example.com}}
  - {{id: slack, type: slack, webhook_url: "{webhook}"{secret}}}
  - {{id: ops-workspace, type: slack, webhook_url: "https://hooks.slack.com/services/T2/B2/x"{other}}}
escalation_policies:
  - id: default
    levels:
      - {{targets: [{{person: ann}}], delay: 15m}}
      - {{targets: [{{person: bob}}], delay: 15m}}
services:
  - {{id: api, escalation_policy: default, channels: [slack]}}
routes:
  - service: api
"""


def click(action_id: str, value: str, *, username: str | None = "ann",
          response_url: str | None = None) -> dict[str, Any]:
    """A block_actions payload as Slack sends it for one button click (protocols.md 2.4)."""
    user: dict[str, str] = {"id": "U061F7AUR", "name": username or "", "team_id": "T9TK3CUKW"}
    if username is not None:
        user["username"] = username
    return {
        "type": "block_actions", "user": user, "api_app_id": "A0CA5", "token": "legacy",
        "team": {"id": "T9TK3CUKW", "domain": "example"},
        "container": {"type": "message", "message_ts": "1548261231.000200",
                      "channel_id": "C0CA5", "is_ephemeral": False},
        "trigger_id": "12321423423.333649436676.d8c1bb837935619ccad0f624c448ffb3",
        "channel": {"id": "C0CA5", "name": "alerts"},
        "response_url": response_url or "https://hooks.slack.com/actions/T9TK3CUKW/1/abc",
        "actions": [{"type": "button", "action_id": action_id, "block_id": "router:n1",
                     "text": {"type": "plain_text", "text": "Acknowledge"}, "value": value,
                     "action_ts": "1548426417.840180"}],
    }


def signed(payload: dict[str, Any], *, secret: str = SECRET, at: datetime = NOW
           ) -> tuple[bytes, dict[str, str]]:
    """The form body and headers Slack sends: `payload=<urlencoded JSON>`, signed with
    `v0=HMAC-SHA256(secret, "v0:{timestamp}:{body}")` (protocols.md 2.5)."""
    body = urlencode({"payload": json.dumps(payload)}).encode()
    timestamp = str(int(at.timestamp()))
    digest = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body,
                      hashlib.sha256).hexdigest()
    return body, {"content-type": "application/x-www-form-urlencoded",
                  "x-slack-request-timestamp": timestamp, "x-slack-signature": f"v0={digest}"}


@dataclass
class Setup:
    http: httpx.AsyncClient
    engine: Engine
    slack: FakeSlack

    async def post(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return await self.http.post("/v1/slack/actions", content=body, headers=headers)

    async def open_incident(self, summary: str = "Disk full") -> str:
        answer = await self.http.post("/v1/alerts", json={"summary": summary},
                                      headers={"authorization": "Bearer ops-token"})
        incident_id: str = answer.json()["incidents"][0]["incident_id"]
        return incident_id

    async def state(self, incident_id: str) -> tuple[str, str | None, int, int]:
        """State, acknowledged_by, level and timeline length."""
        detail = await self.engine.incident(incident_id)
        assert detail is not None
        incident = detail.incident
        return (incident.state.value, incident.acknowledged_by, incident.level,
                len(detail.timeline))

    async def replies(self, count: int) -> list[dict[str, Any]]:
        """The bodies of the first `count` requests the stand-in Slack received."""
        with trio.fail_after(5):
            while len(self.slack.requests) < count:  # noqa: ASYNC110 (the fake has no event)
                await trio.sleep(0.01)
        return [request.json() for request in self.slack.requests]


Start = Callable[..., Awaitable[Setup]]


@pytest.fixture
async def start(tmp_path: Path, nursery: trio.Nursery) -> AsyncIterator[Start]:
    """`await start(secret=True, other=True, tokens=False)`: a server on a fresh store."""
    servers = Servers(nursery)

    async def begin(*, secret: bool = True, other: bool = True, tokens: bool = False) -> Setup:
        slack = await nursery.start(serve_fake_slack)
        settings = (", ingest_tokens: [{name: ops, token: ops-token}]" if tokens else "")
        text = CONFIG.format(settings=settings, webhook=slack.url,
                             secret=f", signing_secret: {SECRET}" if secret else "",
                             other=f", signing_secret: {OTHER_SECRET}" if other else "")
        path = tmp_path / f"config-{len(servers.stores)}.yaml"
        path.write_text(textwrap.dedent(text))
        store = await servers.open_store(tmp_path / f"router-{len(servers.stores)}.db")
        engine = Engine(load_config([path]), store, FixedClock(NOW))

        async def post(url: str, body: bytes) -> str:
            async with httpx.AsyncClient() as client:
                answer = await client.post(url, content=body,
                                           headers={"content-type": "application/json"})
            return f"answered {answer.status_code}"

        responder = Responder(post)
        nursery.start_soon(responder.run)
        routes = build_routes(engine, slack=SlackActions(engine, responder))
        return Setup(await servers.serve(routes), engine, slack)

    yield begin
    await servers.close()
    nursery.cancel_scope.cancel()


async def test_a_signed_acknowledge_click_acknowledges_as_the_slack_user(start: Start) -> None:
    setup = await start()
    incident = await setup.open_incident()
    answer = await setup.post(*signed(click("acknowledge", incident)))
    assert (answer.status_code, answer.content) == (200, b"")
    detail = await setup.engine.incident(incident)
    assert detail is not None
    assert (detail.incident.state.value, detail.incident.acknowledged_by) == (
        "acknowledged", "slack:ann")
    assert ("slack:ann", "acknowledged") in [(entry.actor, entry.action)
                                            for entry in detail.timeline]
    # the channel hears of it through the follow-up in the outbox, not through a reply
    pending = await setup.engine.store.read(lambda reader: reader.pending_notifications())
    assert [(item.channel, item.event) for item in pending if item.event != "trigger"] == [
        ("slack", "acknowledge")]
    assert setup.slack.requests == []


async def test_each_configured_signing_secret_is_tried(start: Start) -> None:
    setup = await start()
    incident = await setup.open_incident()
    answer = await setup.post(*signed(click("acknowledge", incident, username=None),
                                      secret=OTHER_SECRET))
    assert answer.status_code == 200
    # no username: the user's id names the actor
    assert (await setup.state(incident))[:2] == ("acknowledged", "slack:U061F7AUR")


async def test_resolve_and_escalate_buttons(start: Start) -> None:
    setup = await start()
    first, second = await setup.open_incident("one"), await setup.open_incident("two")
    assert (await setup.post(*signed(click("escalate", first)))).status_code == 200
    assert (await setup.state(first))[0::2] == ("triggered", 2)
    assert (await setup.post(*signed(click("resolve", second)))).status_code == 200
    assert (await setup.state(second))[0] == "resolved"


async def test_a_click_that_changes_nothing_is_explained_to_the_clicker_alone(
        start: Start) -> None:
    setup = await start()
    reply_url = setup.slack.url.replace("/services/", "/actions/")
    incident = await setup.open_incident()
    await setup.engine.acknowledge(incident, "slack:bob")
    clicks = [click("acknowledge", incident, response_url=reply_url),
              click("acknowledge", "INC99", response_url=reply_url),
              click("escalate", incident, response_url=reply_url),
              click("escalate", incident, response_url=reply_url)]
    for payload in clicks:
        answer = await setup.post(*signed(payload))
        assert (answer.status_code, answer.content) == (200, b"")
    await setup.engine.resolve(incident, "api:carol")
    answer = await setup.post(*signed(click("resolve", incident, response_url=reply_url)))
    assert answer.status_code == 200
    texts = [reply["text"] for reply in await setup.replies(4)]
    assert texts == [
        f"{incident} was already acknowledged by slack:bob at 2026-11-23T12:00:00Z",
        "router knows no incident INC99: it may have been removed with the state directory, "
        "so nothing changed",
        f"Not escalated: {incident} is at the last level of its policy",
        f"{incident} was already resolved at 2026-11-23T12:00:00Z",
    ]
    assert {(reply["response_type"], reply["replace_original"])
            for reply in await setup.replies(4)} == {("ephemeral", False)}
    assert {request.path for request in setup.slack.requests} == {"/actions/T000/B000/XXXX"}
    # the first escalate click (level 1 -> 2) changed the incident, so it got no reply
    assert (await setup.state(incident))[0::2] == ("resolved", 2)


async def test_a_reply_goes_only_to_a_configured_slack_host(
        start: Start, caplog: pytest.LogCaptureFixture) -> None:
    setup = await start()
    with caplog.at_level(logging.WARNING, "router.server.slack_actions"):
        answer = await setup.post(*signed(click("acknowledge", "INC5", response_url=(
            "http://169.254.169.254/latest/meta-data"))))
    assert answer.status_code == 200
    await trio.sleep(0.2)
    assert setup.slack.requests == []
    assert "slack reply not sent: response_url is not on a configured Slack webhook's host" in (
        caplog.messages)


async def test_other_buttons_are_answered_and_ignored(start: Start) -> None:
    setup = await start()
    incident = await setup.open_incident()
    before = await setup.state(incident)
    answer = await setup.post(*signed(click("view_details", incident)))
    assert (answer.status_code, answer.content) == (200, b"")
    assert await setup.state(incident) == before


def tamper(body: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    return body.replace(b"acknowledge", b"resolve"), headers


def drop(name: str) -> Callable[[bytes, dict[str, str]], tuple[bytes, dict[str, str]]]:
    return lambda body, headers: (body, {key: value for key, value in headers.items()
                                         if key != name})


def setting(name: str, value: str) -> Callable[[bytes, dict[str, str]],
                                               tuple[bytes, dict[str, str]]]:
    return lambda body, headers: (body, {**headers, name: value})


UNSIGNED = {"error": "missing or invalid Slack signature"}
STALE = {"error": "X-Slack-Request-Timestamp is missing or more than 5 minutes from now"}


@pytest.mark.parametrize(("make", "expected"), [
    (lambda payload: tamper(*signed(payload)), UNSIGNED),
    (lambda payload: drop("x-slack-signature")(*signed(payload)), UNSIGNED),
    (lambda payload: setting("x-slack-signature", "v1=abc")(*signed(payload)), UNSIGNED),
    (lambda payload: signed(payload, secret="not-the-secret"), UNSIGNED),
    (lambda payload: drop("x-slack-request-timestamp")(*signed(payload)), STALE),
    (lambda payload: setting("x-slack-request-timestamp", "soon")(*signed(payload)), STALE),
    (lambda payload: signed(payload, at=NOW - timedelta(seconds=301)), STALE),
    (lambda payload: signed(payload, at=NOW + timedelta(seconds=301)), STALE),
    # a captured request replayed later, its timestamp changed: the signature then fails
    (lambda payload: setting("x-slack-request-timestamp", str(int(NOW.timestamp())))(
        *signed(payload, at=NOW - timedelta(minutes=10))), UNSIGNED),
])
async def test_an_unsigned_or_stale_request_is_401_and_changes_nothing(
        start: Start, make: Callable[[dict[str, Any]], tuple[bytes, dict[str, str]]],
        expected: dict[str, str]) -> None:
    setup = await start()
    incident = await setup.open_incident()
    before = await setup.state(incident)
    answer = await setup.post(*make(click("acknowledge", incident)))
    assert (answer.status_code, answer.json()) == (401, expected)
    assert await setup.state(incident) == before == ("triggered", None, 1, before[3])


@pytest.mark.parametrize("offset", [-300, 300])
async def test_five_minutes_either_way_is_still_fresh(start: Start, offset: int) -> None:
    setup = await start()
    incident = await setup.open_incident()
    answer = await setup.post(*signed(click("acknowledge", incident),
                                      at=NOW + timedelta(seconds=offset)))
    assert answer.status_code == 200
    assert (await setup.state(incident))[0] == "acknowledged"


async def test_no_signing_secret_configured_refuses_every_click(start: Start) -> None:
    setup = await start(secret=False, other=False)
    incident = await setup.open_incident()
    answer = await setup.post(*signed(click("acknowledge", incident)))
    assert (answer.status_code, answer.json()) == (401, {
        "error": "no Slack channel in the config has a signing_secret: router cannot verify "
                 "Slack's requests"})
    assert (await setup.state(incident))[0] == "triggered"


async def test_with_bearer_tokens_the_signature_alone_admits_a_click(start: Start) -> None:
    setup = await start(tokens=True)
    incident = await setup.open_incident()
    bearer = {"authorization": "Bearer ops-token"}
    body, headers = signed(click("acknowledge", incident))
    unsigned = {key: value for key, value in headers.items() if key != "x-slack-signature"}
    answer = await setup.post(body, {**unsigned, **bearer})
    assert (answer.status_code, answer.json()) == (401, UNSIGNED)
    assert (await setup.state(incident))[0] == "triggered"
    assert (await setup.post(body, headers)).status_code == 200
    assert (await setup.state(incident))[0] == "acknowledged"


@pytest.mark.parametrize(("body", "expected"), [
    (b"nothing=here", {"error": "is required (a form field holding Slack's JSON)",
                       "field": "payload"}),
    (b"payload=%7Bnot", {"error": "expected JSON: Expecting property name enclosed in double "
                                  "quotes: line 1 column 2 (char 1)", "field": "payload"}),
    (urlencode({"payload": json.dumps({"type": "view_submission"})}).encode(),
     {"error": "expected a block_actions payload", "field": "payload.type"}),
    (urlencode({"payload": json.dumps({"type": "block_actions", "user": {},
                                       "actions": []})}).encode(),
     {"error": "expected the clicking user's username or id", "field": "payload.user"}),
    (urlencode({"payload": json.dumps({"type": "block_actions", "user": {"id": "U1"},
                                       "actions": "acknowledge"})}).encode(),
     {"error": "expected a list", "field": "payload.actions"}),
    (b"payload=\xff", {"error": "expected a form body: 'utf-8' codec can't decode byte 0xff "
                                "in position 8: invalid start byte", "field": "payload"}),
])
async def test_a_signed_but_malformed_payload_is_400(start: Start, body: bytes,
                                                     expected: dict[str, str]) -> None:
    setup = await start()
    timestamp = str(int(NOW.timestamp()))
    digest = hmac.new(SECRET.encode(), f"v0:{timestamp}:".encode() + body,
                      hashlib.sha256).hexdigest()
    answer = await setup.post(body, {"x-slack-request-timestamp": timestamp,
                                     "x-slack-signature": f"v0={digest}"})
    assert (answer.status_code, answer.json()) == (400, expected)


def test_slacks_documented_example_signature_verifies() -> None:
    # docs.slack.dev "Verifying requests from Slack": the example secret, timestamp and body
    body = (b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&"
            b"channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&"
            b"command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2F"
            b"commands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
            b"trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
    signature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    assert signature_ok([b"other", SECRET.encode()], "1531420618", body, signature)
    assert not signature_ok([SECRET.encode()], "1531420619", body, signature)
    assert not signature_ok([], "1531420618", body, signature)


@pytest.mark.parametrize(("timestamp", "fresh"), [
    ("1000", True), ("700", True), ("1300", True), ("699", False), ("1301", False),
    ("", False), ("-1000", False), ("1e3", False), ("١٠٠٠", False), ("9" * 30, False),
])
def test_timestamp_freshness(timestamp: str, fresh: bool) -> None:
    assert timestamp_fresh(timestamp, 1000.0) is fresh


async def test_the_responder_drops_replies_beyond_its_capacity(
        caplog: pytest.LogCaptureFixture) -> None:
    posted: list[tuple[str, bytes]] = []

    async def post(url: str, body: bytes) -> str:
        posted.append((url, body))
        return "answered 200"

    responder = Responder(post, capacity=2)
    with caplog.at_level(logging.WARNING, "router.server.slack_actions"):
        for number in range(3):
            responder.reply_nowait(f"https://hooks.slack.com/actions/{number}", "text")
    assert caplog.messages == ["slack reply dropped: too many waiting"]
    async with trio.open_nursery() as nursery:
        await nursery.start(responder.run)
        await trio.sleep(0.1)
        nursery.cancel_scope.cancel()
    assert [url for url, _ in posted] == ["https://hooks.slack.com/actions/0",
                                          "https://hooks.slack.com/actions/1"]
    assert json.loads(posted[0][1]) == {"response_type": "ephemeral",
                                        "replace_original": False, "text": "text"}


async def test_a_post_that_hangs_is_given_up_after_the_timeout(
        autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture) -> None:
    async def post(url: str, body: bytes) -> str:
        await trio.sleep(3600)
        return "never"

    responder = Responder(post, timeout=timedelta(seconds=10))
    responder.reply_nowait("https://hooks.slack.com/actions/1", "one")
    with caplog.at_level(logging.INFO, "router.server.slack_actions"):
        async with trio.open_nursery() as nursery:
            await nursery.start(responder.run)
            await trio.sleep(11)
            nursery.cancel_scope.cancel()
    assert caplog.messages == ["slack reply sent: no answer in 10 s"]


def slash_command(text: str, *, secret: str = SECRET, command: str = "/note",
                  user_name: str = "ann") -> tuple[bytes, dict[str, str]]:
    """A slash command's form as Slack posts it to its Request URL, signed as a click is."""
    body = urlencode({
        "token": "legacy", "team_id": "T9TK3CUKW", "team_domain": "example",
        "channel_id": "C0CA5", "channel_name": "alerts", "user_id": "U061F7AUR",
        "user_name": user_name, "command": command, "text": text, "api_app_id": "A0CA5",
        "response_url": "https://hooks.slack.com/commands/T9TK3CUKW/1/abc",
        "trigger_id": "13345224609.738474920.8088930838d88f008e0"}).encode()
    timestamp = str(int(NOW.timestamp()))
    digest = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body,
                      hashlib.sha256).hexdigest()
    return body, {"content-type": "application/x-www-form-urlencoded",
                  "x-slack-request-timestamp": timestamp, "x-slack-signature": f"v0={digest}"}


async def test_a_signed_slash_command_adds_a_note_by_the_slack_user(start: Start) -> None:
    setup = await start()
    incident = await setup.open_incident()
    answer = await setup.post(*slash_command(f"{incident}   restarted the pool "))
    assert (answer.status_code, answer.json()) == (200, {
        "response_type": "ephemeral", "text": f"Note added to {incident} by slack:ann"})
    answer = await setup.post(*slash_command(f"note {incident} it held", command="/router",
                                             secret=OTHER_SECRET))
    assert answer.status_code == 200
    detail = await setup.engine.incident(incident)
    assert detail is not None
    assert [(entry.actor, dict(entry.details)) for entry in detail.timeline
            if entry.action == "note"] == [("slack:ann", {"text": "restarted the pool"}),
                                           ("slack:ann", {"text": "it held"})]
    assert setup.slack.requests == []  # the answer says it; nothing else is sent


@pytest.mark.parametrize(("text", "said"), [
    ("INC99 restarted the pool", "No note added: router knows no incident INC99"),
    ("INC1", "No note added: text: is empty: write what was done or found"),
    ("INC1 " + "x" * 4001, "No note added: text: is 4001 characters long; a note may have "
                           "at most 4000"),
    ("pool restarted", "No note added: incident_id: expected an incident id like INC12, got "
                       "'pool'"),
    ("", "Usage: /note INC3 what was done or found"),
])
async def test_a_slash_command_that_adds_nothing_says_why(start: Start, text: str,
                                                          said: str) -> None:
    setup = await start()
    await setup.open_incident()
    answer = await setup.post(*slash_command(text))
    assert (answer.status_code, answer.json()["text"]) == (200, said)
    assert (await setup.state("INC1"))[3] == 3  # opened, notified x2: no note


async def test_an_unsigned_slash_command_is_refused(start: Start) -> None:
    setup = await start()
    incident = await setup.open_incident()
    body, headers = slash_command(f"{incident} restarted the pool")
    answer = await setup.post(body, {**headers, "x-slack-signature": "v0=" + "0" * 64})
    assert answer.status_code == 401
    detail = await setup.engine.incident(incident)
    assert detail is not None and "note" not in [entry.action for entry in detail.timeline]
