"""notify/webhook.py: the request as a pure function, then sent with httpx over loopback to
a receiver that checks its signature with the very code docs/channels.md gives receivers."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import textwrap
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from router.config import load_config
from router.config.model import Secret
from router.notify import webhook
from router.notify.templates import build_message
from router.notify.transport import Transport
from router.notify.wire import HttpRequest, HttpResponse
from tests.fakes import Answer, Received
from tests.fakes.webhook import serve_fake_webhook
from tests.notify import OPENED, make_message

DOCS = Path(__file__).resolve().parents[2] / "docs" / "channels.md"
SECRET = "whsec-0123456789"
SETTINGS = webhook.Settings(url="http://127.0.0.1:9/hook")
SIGNED_AT = OPENED + timedelta(minutes=30)


def documented(language: str, containing: str) -> str:
    """The one code block of docs/channels.md in `language` that contains `containing`."""
    [block] = [block for block in re.findall(rf"```{language}\n(.*?)```", DOCS.read_text(
        encoding="utf-8"), re.DOTALL) if containing in block]
    return str(block)


def documented_verify() -> Callable[..., bool]:
    namespace: dict[str, Any] = {}
    exec(documented("python", "def verify"), namespace)  # the receivers' code, as printed
    return namespace["verify"]  # type: ignore[no-any-return]


def test_the_default_body() -> None:
    message = make_message(event="escalate", target="person:ann", address="+4915112345678",
                           acknowledge_url="https://router.example.com/ack/n1",
                           incident_changes={"level": 2, "assigned_to": "ann"})
    request = webhook.render(message, SETTINGS, now=OPENED)
    assert json.loads(request.body) == {
        "version": 1, "event": "escalate", "notification": "n1", "test": False,
        "incident": {
            "id": "INC3", "number": 3, "state": "triggered", "severity": "critical",
            "summary": "Disk full on db-1", "service": "database", "service_name": "Database",
            "dedup_key": "db-1/disk", "url": "https://router.example.com/incidents/INC3",
            "labels": {"host": "db-1", "alertname": "DiskFull"},
            "opened_at": "2026-03-02T09:30:00+00:00", "alert_count": 1, "level": 2,
            "assigned_to": "ann", "acknowledged_by": None,
        },
        "target": "person:ann", "address": "+4915112345678",
        "title": "INC3 Disk full on db-1", "text": "Disk / is 97% full on db-1.",
        "acknowledge_url": "https://router.example.com/ack/n1",
    }
    assert request == HttpRequest(
        method="POST", url="http://127.0.0.1:9/hook", body=request.body,
        target="http://127.0.0.1:9/hook",
        headers={"X-Router-Notification": "n1", "Idempotency-Key": '"n1"',
                 "Content-Type": "application/json"},
        timeout=timedelta(seconds=10))


def test_the_body_is_utf8_json_with_words_as_written() -> None:
    request = webhook.render(make_message(title="Größe ✓"), SETTINGS, now=OPENED)
    assert '"title":"Größe ✓"'.encode() in request.body


def test_a_body_template_is_sent_as_rendered() -> None:
    settings = replace(SETTINGS, method="PUT", timeout=timedelta(seconds=3),
                       headers={"content-type": "application/x-www-form-urlencoded",
                                "Authorization": "Bearer t0ken"})
    request = webhook.render(make_message(payload="to=%2B4915112345678&text=INC3"), settings,
                             now=OPENED)
    assert (request.method, request.body, request.timeout) == (
        "PUT", b"to=%2B4915112345678&text=INC3", timedelta(seconds=3))
    assert request.headers == {"X-Router-Notification": "n1", "Idempotency-Key": '"n1"',
                               "content-type": "application/x-www-form-urlencoded",
                               "Authorization": "Bearer t0ken"}


def test_the_idempotency_key_is_the_notification_id_as_a_structured_string() -> None:
    request = webhook.render(make_message(notification_id="01JQ2V6T4M8K3N5P7R9S1U3W5Y"),
                             SETTINGS, now=OPENED)
    assert request.headers["Idempotency-Key"] == '"01JQ2V6T4M8K3N5P7R9S1U3W5Y"'
    assert webhook.idempotency_key('a"b\\c') == '"a\\"b\\\\c"'  # RFC 8941 escapes
    retried = webhook.render(make_message(notification_id="01JQ2V6T4M8K3N5P7R9S1U3W5Y"),
                             SETTINGS, now=SIGNED_AT)
    assert retried.headers["Idempotency-Key"] == request.headers["Idempotency-Key"]


def test_the_channels_own_headers_win_in_any_case() -> None:
    settings = replace(SETTINGS, headers={"idempotency-key": "mine",
                                          "X-ROUTER-NOTIFICATION": "also mine"})
    headers = webhook.render(make_message(), settings, now=OPENED).headers
    assert headers == {"idempotency-key": "mine", "X-ROUTER-NOTIFICATION": "also mine",
                       "Content-Type": "application/json"}


def test_the_signature_covers_timestamp_and_body() -> None:
    settings = replace(SETTINGS, hmac_secret=Secret(SECRET, "${env:HOOK_SECRET}"))
    request = webhook.render(make_message(), settings, now=SIGNED_AT)
    timestamp = str(int(SIGNED_AT.timestamp()))
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + request.body,
                        hashlib.sha256).hexdigest()
    assert request.headers["X-Router-Timestamp"] == timestamp == "1772445600"
    assert request.headers["X-Router-Signature"] == f"sha256={expected}"
    assert SECRET not in repr(request) and SECRET not in repr(settings)
    renamed = webhook.render(make_message(), replace(settings, signature_header="X-Sig"),
                             now=OPENED)
    assert renamed.headers["X-Router-Timestamp"] == str(int(OPENED.timestamp()))
    assert renamed.headers["X-Sig"].startswith("sha256=")
    assert "X-Router-Signature" not in renamed.headers


def test_without_a_secret_nothing_is_signed() -> None:
    headers = webhook.render(make_message(), SETTINGS, now=SIGNED_AT).headers
    assert "X-Router-Timestamp" not in headers and "X-Router-Signature" not in headers


@pytest.mark.parametrize(("url", "shown"), [
    ("https://user:pa55@hooks.example.com:8443/p/x?token=abc#frag",
     "https://hooks.example.com:8443/p/x"),
    ("http://127.0.0.1:9300/sms", "http://127.0.0.1:9300/sms"),
    ("https://hooks.example.com?key=s3cret", "https://hooks.example.com"),
])
def test_the_delivery_log_target_hides_credentials(url: str, shown: str) -> None:
    assert webhook.render(make_message(), replace(SETTINGS, url=url), now=OPENED
                          ).target == shown


@pytest.mark.parametrize(("status", "headers", "kind", "after"), [
    (200, {}, "ok", None), (204, {}, "ok", None), (400, {}, "failed", None),
    (404, {}, "failed", None), (408, {}, "retry", None),
    (429, {"retry-after": "30"}, "retry", timedelta(seconds=30)),
    (500, {}, "retry", None), (503, {"retry-after": "7"}, "retry", timedelta(seconds=7)),
])
def test_classify(status: int, headers: dict[str, str], kind: str,
                  after: timedelta | None) -> None:
    outcome = webhook.classify(HttpResponse(status=status, headers=headers, body=b"nope"))
    assert (outcome.kind, outcome.after) == (kind, after)
    assert outcome.reason == ("" if kind == "ok" else f"webhook answered {status}: nope")


# -- over real HTTP ------------------------------------------------------------------------

def receiver_check(received_at: float) -> Callable[[Received], bool]:
    """The documented check, with the receiver's clock at `received_at` (Unix seconds)."""
    verify = documented_verify()
    return lambda request: verify(SECRET.encode(),
                                  request.headers.get("x-router-timestamp", ""),
                                  request.headers.get("x-router-signature", ""),
                                  request.body, now=received_at)


async def post(request: HttpRequest, url: str) -> HttpResponse:
    async with httpx.AsyncClient() as client:
        answer = await client.request(request.method, url, content=request.body,
                                      headers=dict(request.headers),
                                      timeout=request.timeout.total_seconds())
    return HttpResponse(status=answer.status_code, body=answer.content,
                        headers={name.lower(): value for name, value in answer.headers.items()})


async def test_a_receiver_verifies_the_signature_as_documented(nursery: trio.Nursery) -> None:
    receiver = await nursery.start(partial(serve_fake_webhook,
                                           verify=receiver_check(SIGNED_AT.timestamp() + 2)))
    settings = replace(SETTINGS, url=receiver.url, hmac_secret=Secret(SECRET))
    request = webhook.render(make_message(), settings, now=SIGNED_AT)
    answer = await post(request, receiver.url)
    assert webhook.classify(answer).kind == "ok"
    [accepted] = receiver.accepted
    assert accepted.body == request.body
    assert (accepted.headers["content-type"], accepted.headers["x-router-notification"]) == (
        "application/json", "n1")


async def test_a_receiver_refuses_a_changed_body_a_wrong_key_and_a_replay(
        nursery: trio.Nursery) -> None:
    receiver = await nursery.start(partial(serve_fake_webhook,
                                           verify=receiver_check(SIGNED_AT.timestamp())))
    settings = replace(SETTINGS, url=receiver.url, hmac_secret=Secret(SECRET))
    genuine = webhook.render(make_message(), settings, now=SIGNED_AT)
    changed = replace(genuine, body=genuine.body.replace(b"critical", b"info"))
    wrong_key = webhook.render(make_message(), replace(settings, hmac_secret=Secret("other")),
                               now=SIGNED_AT)
    replayed = webhook.render(make_message(), settings, now=SIGNED_AT - timedelta(minutes=6))
    unsigned = webhook.render(make_message(), SETTINGS, now=SIGNED_AT)
    for request in (changed, wrong_key, replayed, unsigned):
        answer = await post(request, receiver.url)
        assert (answer.status, webhook.classify(answer).kind) == (401, "failed")
    assert (receiver.accepted, len(receiver.unverified)) == ([], 4)
    assert (await post(genuine, receiver.url)).status == 200


async def test_a_busy_receiver_is_tried_again_after_its_retry_after(
        nursery: trio.Nursery) -> None:
    receiver = await nursery.start(serve_fake_webhook)
    receiver.answer_next(Answer(status=503, headers={"Retry-After": "7"}, body=b"busy"))
    request = webhook.render(make_message(), replace(SETTINGS, url=receiver.url), now=OPENED)
    outcome = webhook.classify(await post(request, receiver.url))
    assert (outcome.kind, outcome.reason, outcome.after) == (
        "retry", "webhook answered 503: busy", timedelta(seconds=7))
    assert webhook.classify(await post(request, receiver.url)).kind == "ok"
    assert [seen.body for seen in receiver.requests] == [request.body, request.body]


@pytest.mark.parametrize("client", ["plain", "httpx"])
async def test_a_repeat_reaches_the_receiver_with_the_same_keys(
        nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch, client: str) -> None:
    """Sent twice (a node died before recording the first answer) through the transport's
    own plain-http client and through httpx: the receiver sees the same Idempotency-Key,
    X-Router-Notification and body `notification` both times."""
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    receiver = await nursery.start(serve_fake_webhook)
    transport = Transport() if client == "plain" else Transport(httpx.AsyncClient())
    request = webhook.render(make_message(notification_id="01JQ2V6T4M8K3N5P7R9S1U3W5Y"),
                             replace(SETTINGS, url=receiver.url), now=OPENED)
    try:
        for _ in range(2):
            sent = await transport.send(request)
            assert isinstance(sent.response, HttpResponse) and sent.response.status == 200
    finally:
        await transport.aclose()
    assert [(seen.headers["idempotency-key"], seen.headers["x-router-notification"],
             seen.json()["notification"]) for seen in receiver.accepted] == [
        ('"01JQ2V6T4M8K3N5P7R9S1U3W5Y"', "01JQ2V6T4M8K3N5P7R9S1U3W5Y",
         "01JQ2V6T4M8K3N5P7R9S1U3W5Y")] * 2
    assert ("user-agent" in receiver.accepted[0].headers) == (client == "httpx")


async def test_the_documented_sms_gateway_example(nursery: trio.Nursery,
                                                  tmp_path: Path) -> None:
    receiver = await nursery.start(serve_fake_webhook)
    example = documented("yaml", "id: sms-gateway").replace(
        "http://127.0.0.1:9300/sms", receiver.url)
    (tmp_path / "channels.yaml").write_text(textwrap.dedent(example), encoding="utf-8")
    config = load_config([tmp_path / "channels.yaml"], resolve_secrets=False)
    channel = config.channels["sms-gateway"]
    sample = make_message(target="person:ann", address="+4915112345678",
                          incident_changes={"summary": "Disk \"full\" " + "x" * 200})
    message = build_message(config, channel, sample.notification, sample.incident)
    request = webhook.render(message, channel.settings, now=OPENED)  # type: ignore[arg-type]
    assert webhook.classify(await post(request, receiver.url)).kind == "ok"
    [accepted] = receiver.accepted
    sms = json.loads(accepted.body)
    assert sms["to"] == "+4915112345678"
    assert sms["text"].startswith('INC3 Disk "full" xxx') and len(sms["text"]) == 160
    assert accepted.headers["x-sender"] == "router"


def test_the_default_body_is_byte_for_byte_what_json_writes() -> None:
    words = 'quote " back\\slash tab\t nl\n cr\r nul\x00 \x1f del\x7f é 漢 \u2028 \U0001f600 </>'
    message = make_message(title=words, text=words, acknowledge_url=None,
                           labels={words: words, "host": "db-1"},
                           incident_changes={"summary": words, "assigned_to": None})
    body = webhook.render(message, SETTINGS, now=OPENED).body
    assert body == json.dumps(json.loads(body), ensure_ascii=False,
                              separators=(",", ":")).encode("utf-8")
    assert json.loads(body)["incident"]["labels"] == {words: words, "host": "db-1"}
