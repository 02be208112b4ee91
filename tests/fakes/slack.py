"""A stand-in for a Slack incoming webhook, as Slack documents it (../shared/reference/
protocols.md section 2).

    slack = await nursery.start(serve_fake_slack)
    slack.url          # http://127.0.0.1:PORT/services/T000/B000/XXXX
    slack.messages     # accepted message payloads, in order
    slack.requests     # every request (tests.fakes.Received)
    slack.refused      # (request, why) of each message answered 4xx
    slack.ignored_metadata  # metadata dropped for an event_type Slack does not take

    # a workspace whose only channels are #alerts and #ops, #old archived:
    slack = await nursery.start(partial(serve_fake_slack, channels={"#alerts", "#ops"},
                                        archived={"#old"}))

Unscripted, it answers like Slack, with Slack's plain-text error words: another path 404
`no_service`; a body that is not a JSON object (or a form's `payload` field holding one) 400
`invalid_payload`; neither `text` nor `blocks` 400 `no_text`; blocks outside Block Kit's
rules and limits (50 blocks; unique block ids of at most 255; header plain_text of at most
150; section text of at most 3000 or 1-10 fields of at most 2000; 1-10 context elements;
1-25 buttons with text of at most 75, unique action ids of at most 255, value of at most
2000, url of at most 3000, style primary or danger) 400 `invalid_blocks`; a `channel` not in
`channels` 404 `channel_not_found`, in `archived` 410 `channel_is_archived`. Message
metadata (docs.slack.dev/messaging/message-metadata) is checked as Slack describes it: an
object with a string `event_type` and an `event_payload` object whose values are strings,
numbers, booleans, objects of those or lists of such objects, else 400
`invalid_metadata_format`; an `event_type` with anything but letters, digits, `_` and `-` is
dropped (Slack ignores such metadata with a warning) and kept in `ignored_metadata`.
Otherwise 200 `ok`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

import trio

from tests.fakes import Answer, FakeService, Received, Reply, serve_fake

__all__ = ["Answer", "FakeSlack", "serve_fake_slack"]

MAX_BLOCKS = 50
BLOCK_ID_LIMIT = 255
HEADER_LIMIT = 150
SECTION_LIMIT = 3000
FIELD_COUNT_LIMIT = 10
FIELD_LIMIT = 2000
CONTEXT_COUNT_LIMIT = 10
TEXT_LIMIT = 3000
ACTIONS_COUNT_LIMIT = 25
BUTTON_TEXT_LIMIT = 75
ACTION_ID_LIMIT = 255
BUTTON_VALUE_LIMIT = 2000
BUTTON_URL_LIMIT = 3000


class FakeSlack(FakeService):
    path = "/services/T000/B000/XXXX"

    def __init__(self, channels: Iterable[str] | None = None,
                 archived: Iterable[str] = ()) -> None:
        super().__init__()
        self.channels = None if channels is None else frozenset(channels)
        self.archived = frozenset(archived)
        self.messages: list[dict[str, Any]] = []
        self.refused: list[tuple[Received, str]] = []
        self.ignored_metadata: list[object] = []

    def process(self, request: Received) -> Reply:
        if request.path != self.path:
            return Reply.text(404, "no_service")
        if request.method != "POST":
            return Reply.text(405, "invalid_method")
        message = _decode(request)
        if not isinstance(message, dict):
            return self._refuse(request, 400, "invalid_payload", "not a JSON object")
        if not _text(message.get("text")) and not message.get("blocks"):
            return self._refuse(request, 400, "no_text", "neither text nor blocks")
        problems = block_problems(message.get("blocks", []))
        if problems:
            return self._refuse(request, 400, "invalid_blocks", "; ".join(problems))
        if "metadata" in message:
            problem = metadata_problem(message["metadata"])
            if problem:
                return self._refuse(request, 400, "invalid_metadata_format", problem)
            if not _EVENT_TYPE.fullmatch(message["metadata"]["event_type"]):
                self.ignored_metadata.append(message.pop("metadata"))
        channel = message.get("channel")
        if channel in self.archived:
            return self._refuse(request, 410, "channel_is_archived", str(channel))
        if channel is not None and self.channels is not None and channel not in self.channels:
            return self._refuse(request, 404, "channel_not_found", str(channel))
        self.messages.append(message)
        return Reply.text(200, "ok")

    def _refuse(self, request: Received, status: int, word: str, why: str) -> Reply:
        self.refused.append((request, f"{word}: {why}"))
        return Reply.text(status, word)


def _decode(request: Received) -> object:
    """JSON, or a form whose `payload` field is JSON: the two bodies a webhook takes."""
    body = request.body
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        body = parse_qs(body.decode("utf-8", "replace")).get("payload", [""])[0].encode()
    try:
        return json.loads(body)
    except ValueError:
        return None


_EVENT_TYPE = re.compile(r"[A-Za-z0-9_-]+")
_SCALAR = (str, int, float, bool)


def metadata_problem(metadata: object) -> str:
    """Why Slack would refuse `metadata` as malformed; empty when it would take it."""
    if not isinstance(metadata, dict) or not isinstance(metadata.get("event_type"), str):
        return "metadata needs a string event_type"
    payload = metadata.get("event_payload")
    if not isinstance(payload, dict):
        return "metadata needs an event_payload object"
    for name, value in payload.items():
        nested = value if isinstance(value, list) else [value]
        if not isinstance(value, _SCALAR) and not all(
                isinstance(item, dict) and all(isinstance(inner, _SCALAR)
                                               for inner in item.values())
                for item in nested):
            return f"event_payload.{name} is not a string, number, boolean or object of those"
    return ""


def block_problems(blocks: object) -> list[str]:
    """What Slack would refuse in a message's blocks; empty when it would take them."""
    if not isinstance(blocks, list):
        return ["blocks must be a list"]
    problems = [f"{len(blocks)} blocks, more than {MAX_BLOCKS}"] if len(blocks) > MAX_BLOCKS else []
    block_ids: set[str] = set()
    action_ids: set[str] = set()
    for position, block in enumerate(blocks):
        where = f"blocks[{position}]"
        if not isinstance(block, dict):
            problems.append(f"{where} is not an object")
            continue
        problems += _unique_id(block.get("block_id"), f"{where}.block_id", BLOCK_ID_LIMIT,
                               block_ids)
        check = CHECKS.get(str(block.get("type")))
        if check is None:
            problems.append(f"{where}.type {block.get('type')!r} is not a block type")
        else:
            problems += check(block, where, action_ids)
    return problems


def _header(block: dict[str, Any], where: str, action_ids: set[str]) -> list[str]:
    return _text_object(block.get("text"), f"{where}.text", HEADER_LIMIT, plain_only=True)


def _section(block: dict[str, Any], where: str, action_ids: set[str]) -> list[str]:
    if "text" not in block and "fields" not in block:
        return [f"{where} needs text or fields"]
    problems = []
    if "text" in block:
        problems += _text_object(block["text"], f"{where}.text", SECTION_LIMIT)
    if "fields" in block:
        problems += _listed(block["fields"], f"{where}.fields", FIELD_COUNT_LIMIT,
                            lambda item, at: _text_object(item, at, FIELD_LIMIT))
    return problems


def _context(block: dict[str, Any], where: str, action_ids: set[str]) -> list[str]:
    return _listed(block.get("elements"), f"{where}.elements", CONTEXT_COUNT_LIMIT,
                   lambda element, at: _text_object(element, at, TEXT_LIMIT))


def _actions(block: dict[str, Any], where: str, action_ids: set[str]) -> list[str]:
    return _listed(block.get("elements"), f"{where}.elements", ACTIONS_COUNT_LIMIT,
                   lambda button, at: _button(button, at, action_ids))


def _listed(items: object, where: str, limit: int,
            check: Callable[[object, str], list[str]]) -> list[str]:
    """A list of 1 to `limit` items (Slack's rule for fields and elements), each checked."""
    if not isinstance(items, list) or not 0 < len(items) <= limit:
        return [f"{where} must hold 1-{limit} items"]
    problems: list[str] = []
    for position, item in enumerate(items):
        problems += check(item, f"{where}[{position}]")
    return problems


def _unique_id(value: object, where: str, limit: int, seen: set[str]) -> list[str]:
    """An optional block_id or action_id: 1 to `limit` characters, unique in the message."""
    if value is None:
        return []
    problems = []
    if not isinstance(value, str) or not 0 < len(value) <= limit:
        problems.append(f"{where} must be 1-{limit} characters")
    elif value in seen:
        problems.append(f"{where} {value!r} is not unique")
    seen.add(str(value))
    return problems


def _button(button: object, where: str, action_ids: set[str]) -> list[str]:
    if not isinstance(button, dict) or button.get("type") != "button":
        return [f"{where} is not a button"]
    problems = _text_object(button.get("text"), f"{where}.text", BUTTON_TEXT_LIMIT,
                            plain_only=True)
    problems += _unique_id(button.get("action_id"), f"{where}.action_id", ACTION_ID_LIMIT,
                           action_ids)
    for name, limit in (("value", BUTTON_VALUE_LIMIT), ("url", BUTTON_URL_LIMIT)):
        if name in button and (not isinstance(button[name], str)
                               or not 0 < len(button[name]) <= limit):
            problems.append(f"{where}.{name} must be 1-{limit} characters")
    if "url" in button and not str(button["url"]).startswith(("http://", "https://")):
        problems.append(f"{where}.url is not a URL")
    if button.get("style", "primary") not in ("primary", "danger"):
        problems.append(f"{where}.style must be primary or danger")
    return problems


def _divider(block: dict[str, Any], where: str, action_ids: set[str]) -> list[str]:
    return []


def _text_object(value: object, where: str, limit: int, *, plain_only: bool = False,
                 ) -> list[str]:
    kinds = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
    if not isinstance(value, dict) or value.get("type") not in kinds:
        return [f"{where} must be a {' or '.join(kinds)} text object"]
    text = value.get("text")
    if not isinstance(text, str) or not 0 < len(text) <= limit:
        return [f"{where}.text must be 1-{limit} characters"]
    if "emoji" in value and value["type"] != "plain_text":
        return [f"{where}.emoji is only for plain_text"]
    return []


def _text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


CHECKS = {"header": _header, "section": _section, "context": _context, "actions": _actions,
          "divider": _divider}


async def serve_fake_slack(
        *, channels: Iterable[str] | None = None, archived: Iterable[str] = (),
        task_status: trio.TaskStatus[FakeSlack] = trio.TASK_STATUS_IGNORED) -> None:
    """Serve a new FakeSlack until cancelled; `nursery.start` returns it. `channels` (None:
    any) are the channels a message may name, `archived` those that are archived."""
    await serve_fake(FakeSlack(channels, archived), task_status=task_status)
