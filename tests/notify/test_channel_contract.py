"""Every registered channel keeps router/notify/contract.py's `Channel` contract at run time
(mypy checks the registry statically): its parts, `render` with `now`, the timeout each
request carries, secrets kept out of what is logged, and the common reading of answers.

A new channel in `CHANNELS` fails here until it has an example in EXAMPLES below.
"""

from __future__ import annotations

import dataclasses
import types
from datetime import timedelta
from typing import Any

import pytest

from router.config.model import Secret
from router.errors import Outcome
from router.notify import CHANNELS, email, log, pagerduty, slack, webhook
from router.notify.wire import HttpRequest, HttpResponse, LogLine, SmtpMessage, SmtpReply
from tests.notify import OPENED, make_message

SECRET = "s3cret0contract0value"
HTTP_ANSWERS: list[tuple[object, str]] = [
    (HttpResponse(status=200), "ok"), (HttpResponse(status=202), "ok"),
    (HttpResponse(status=429, headers={"retry-after": "30"}), "retry"),
    (HttpResponse(status=500), "retry"), (HttpResponse(status=503), "retry"),
    (HttpResponse(status=400), "failed"), (HttpResponse(status=404), "failed"),
]
SMTP_ANSWERS: list[tuple[object, str]] = [
    (SmtpReply(code=250), "ok"), (SmtpReply(code=451, text="greylisted"), "retry"),
    (SmtpReply(code=550, text="no such user"), "failed"),
]
LOG_ANSWERS: list[tuple[object, str]] = [(None, "ok")]
EXAMPLES: dict[str, tuple[Any, list[tuple[object, str]]]] = {
    "pagerduty": (pagerduty.Settings(routing_key=Secret(SECRET)), HTTP_ANSWERS),
    "slack": (slack.Settings(webhook_url=Secret(f"https://hooks.slack.com/services/T/B/{SECRET}"),
                             signing_secret=Secret(SECRET)), HTTP_ANSWERS),
    "email": (email.Settings(host="smtp.example.com", sender="router@example.com",
                             to=("ops@example.com",), username="router",
                             password=Secret(SECRET)), SMTP_ANSWERS),
    "webhook": (webhook.Settings(url=f"https://router:{SECRET}@hooks.example.com/in?k={SECRET}",
                                 hmac_secret=Secret(SECRET)), HTTP_ANSWERS),
    "log": (log.Settings(), LOG_ANSWERS),
}
"""Per registered type: a channel's settings, with a secret wherever it takes one, and what
the transport may bring back for its requests with the outcome each must come to."""
ANSWERED_WITH = {HttpRequest: HttpResponse, SmtpMessage: SmtpReply, LogLine: type(None)}
PARTS = ("Settings", "DEFAULT_RATE", "DEFAULT_CONCURRENCY", "DEFAULT_TIMEOUT", "render",
         "classify")
SENT_AT = OPENED + timedelta(minutes=3)


def broken_parts(module: object) -> list[str]:
    """What `module` lacks of the contract, one phrase per part; [] when it keeps it."""
    problems = []
    settings = getattr(module, "Settings", None)
    if not (isinstance(settings, type) and dataclasses.is_dataclass(settings)
            and settings.__dataclass_params__.frozen):  # type: ignore[attr-defined]
        problems.append("Settings: expected a frozen dataclass")
    rate = getattr(module, "DEFAULT_RATE", "missing")
    if not (rate is None or (isinstance(rate, float) and rate > 0)):
        problems.append(f"DEFAULT_RATE: expected None or messages a second, got {rate!r}")
    concurrency = getattr(module, "DEFAULT_CONCURRENCY", None)
    if not (isinstance(concurrency, int) and concurrency >= 1):
        problems.append(f"DEFAULT_CONCURRENCY: expected a whole number at least 1, got "
                        f"{concurrency!r}")
    timeout = getattr(module, "DEFAULT_TIMEOUT", None)
    if not (isinstance(timeout, timedelta) and timeout > timedelta(0)):
        problems.append(f"DEFAULT_TIMEOUT: expected a positive timedelta, got {timeout!r}")
    problems += [f"{name}: expected a function" for name in ("render", "classify")
                 if not callable(getattr(module, name, None))]
    return problems


def settings_for(kind: str) -> Any:
    assert kind in EXAMPLES, f"add an example for channel {kind!r} to EXAMPLES"
    return EXAMPLES[kind][0]


def rendered(kind: str, settings: Any) -> HttpRequest | SmtpMessage | LogLine:
    request = CHANNELS[kind].render(make_message(), settings, now=SENT_AT)
    assert request is not None  # a trigger to a channel target: every channel sends one
    return request


@pytest.mark.parametrize("kind", sorted(CHANNELS))
def test_every_channel_has_every_part(kind: str) -> None:
    assert broken_parts(CHANNELS[kind]) == []
    assert isinstance(settings_for(kind), CHANNELS[kind].Settings)


@pytest.mark.parametrize("part", PARTS)
def test_a_module_without_a_part_breaks_the_contract(part: str) -> None:
    partial = types.ModuleType("partial")
    for name in PARTS:
        if name != part:
            setattr(partial, name, getattr(slack, name))
    [problem] = broken_parts(partial)
    assert problem.startswith(f"{part}: expected ")


@pytest.mark.parametrize("kind", sorted(CHANNELS))
def test_the_request_carries_the_settings_timeout(kind: str) -> None:
    module = CHANNELS[kind]
    fields = {field.name: field for field in dataclasses.fields(module.Settings)}
    assert rendered(kind, settings_for(kind)).timeout == module.DEFAULT_TIMEOUT
    if "timeout" not in fields:  # not configurable: always the channel's own
        return
    assert fields["timeout"].default == module.DEFAULT_TIMEOUT  # the one default
    slower = dataclasses.replace(settings_for(kind), timeout=timedelta(seconds=7))
    assert rendered(kind, slower).timeout == timedelta(seconds=7)


@pytest.mark.parametrize("kind", sorted(CHANNELS))
def test_no_secret_in_what_is_logged(kind: str) -> None:
    request = rendered(kind, settings_for(kind))
    assert SECRET not in request.target
    assert SECRET not in repr(request)


@pytest.mark.parametrize("kind", sorted(CHANNELS))
def test_the_example_answers_are_those_its_requests_get(kind: str) -> None:
    answer_type = ANSWERED_WITH[type(rendered(kind, settings_for(kind)))]
    assert all(isinstance(answer, answer_type) for answer, _ in EXAMPLES[kind][1])


def _label(answer: object) -> str:
    return str(getattr(answer, "status", None) or getattr(answer, "code", None) or answer)


@pytest.mark.parametrize(("kind", "answer", "expected"), [
    pytest.param(kind, answer, expected, id=f"{kind}-{_label(answer)}")
    for kind in sorted(CHANNELS) for answer, expected in EXAMPLES.get(kind, (None, []))[1]])
def test_the_answer_is_classified(kind: str, answer: object, expected: str) -> None:
    outcome = CHANNELS[kind].classify(answer)
    assert isinstance(outcome, Outcome)
    assert outcome.kind == expected
    if isinstance(answer, HttpResponse) and answer.status == 429:
        assert outcome.after == timedelta(seconds=30)  # Retry-After honoured
