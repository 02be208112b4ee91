"""Slack's interactive buttons: `POST /v1/slack/actions` (room: server; imports engine,
lifecycle, errors).

Slack posts a button click to the app's Interactivity Request URL as
`application/x-www-form-urlencoded` with one field, `payload`, holding the `block_actions`
JSON (../shared/reference/protocols.md 2.4). Slack cannot send a bearer token, so the request
proves itself with `X-Slack-Signature: v0=HMAC-SHA256(signing_secret, "v0:{timestamp}:{raw
body}")` (2.5). Every check runs on the raw bytes before anything is parsed, and a request that
fails one is answered 401 and changes nothing:
- a Slack channel in the config must have a `signing_secret`; each one is tried (one Slack app
  per workspace, each with its own secret);
- `X-Slack-Request-Timestamp` must be within 5 minutes of the engine's clock, in either
  direction, as Slack's own SDK checks: a captured request cannot be replayed later;
- the signature is compared with `hmac.compare_digest`.

Buttons: `acknowledge`, `resolve` and `escalate` (the value is the incident id); the actor is
`slack:<username>` (the user's id when Slack sends no username). Other buttons (View Details,
which opens a link) are answered and ignored.

Notes come from a slash command (`/note INC3 restarted the pool`) whose Request URL is this
same endpoint: Slack posts it as a form (`command`, `text`, `user_name`, ...; no `payload`),
signed the same way. A reply in a thread cannot be used: it reaches an app only through the
Events API, which names the thread's timestamp, not the incident, and router's incoming
webhooks never learn the timestamps of the messages they post. The answer to a slash
command is shown to the person who typed it alone, so it says at once what happened
("Note added to INC3 by slack:ann", or why not).

Answers: Slack needs an HTTP 200 within 3 seconds or shows the user an error, and it ignores
the body of the answer to a `block_actions` request. So a signed request is always answered
200 with an empty body as soon as the store committed the change (the engine's one
transaction). What the person should read goes elsewhere: a change is announced to the
channel by the Slack follow-up the engine writes to the outbox ("INC3 acknowledged by
slack:ann"); a click that changed nothing (an unknown incident, one already acknowledged or
resolved, the last level of a policy) is explained to the clicker alone, as an ephemeral
message posted to the payload's `response_url` by a `Responder` task the daemon owns, so the
200 never waits for it. A `response_url` is only followed to the scheme, host and port of a
configured Slack webhook (hooks.slack.com, or a stand-in), never anywhere a payload names.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import trio

from router.engine import Engine, lifecycle
from router.errors import BadRequest, Conflict, NotFound
from router.server.routes import Request, Response

logger = logging.getLogger(__name__)

MAX_AGE = timedelta(minutes=5)
"""How far X-Slack-Request-Timestamp may be from now, either way (Slack's SDK: 300 s)."""
VERBS: dict[str, lifecycle.Verb] = {"acknowledge": "acknowledge", "resolve": "resolve",
                                    "escalate": "escalate"}
"""action_id -> use case; the page's Acknowledge button is `acknowledge` (notify/slack.py)."""

_UNSIGNED = Response.error(401, "missing or invalid Slack signature")
_STALE = Response.error(401, "X-Slack-Request-Timestamp is missing or more than 5 minutes "
                             "from now")
_NO_SECRET = Response.error(401, "no Slack channel in the config has a signing_secret: "
                                 "router cannot verify Slack's requests")

_DEFAULT_PORTS = {"http": 80, "https": 443}

Post = Callable[[str, bytes], Awaitable[str]]
"""POSTs a JSON body to a URL and says how it went (for the log); the daemon's transport."""


@dataclass(frozen=True, slots=True)
class Click:
    """One button in a `block_actions` payload."""

    action_id: str
    value: str
    block_id: str


@dataclass(frozen=True, slots=True)
class Interaction:
    """What router reads from a `block_actions` payload."""

    actor: str
    clicks: tuple[Click, ...]
    response_url: str | None


def signature_ok(secrets: Sequence[bytes], timestamp: str, body: bytes,
                 signature: str) -> bool:
    """Whether `signature` (`v0=<hex>`) signs `v0:{timestamp}:{body}` under one of `secrets`.
    Every secret is tried, so the time taken does not tell which one matched."""
    base = b"v0:" + timestamp.encode("ascii", "replace") + b":" + body
    presented = signature.encode("ascii", "replace")
    matched = False
    for secret in secrets:
        expected = b"v0=" + hmac.new(secret, base, hashlib.sha256).hexdigest().encode()
        matched |= hmac.compare_digest(expected, presented)
    return matched


def timestamp_fresh(timestamp: str, now: float) -> bool:
    """Whether a request timestamp (unix seconds) is within MAX_AGE of `now`."""
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        return False
    return math.fabs(now - int(timestamp)) <= MAX_AGE.total_seconds()


def parse_interaction(body: bytes) -> Interaction:
    """The form body's `payload` as an Interaction.

    Raises:
        BadRequest: no `payload` field, not JSON, or not a `block_actions` object.
    """
    try:
        form = parse_qs(body.decode("utf-8"), strict_parsing=False, max_num_fields=16)
    except (UnicodeDecodeError, ValueError) as error:
        raise BadRequest("payload", f"expected a form body: {error}") from None
    texts = form.get("payload")
    if not texts:
        raise BadRequest("payload", "is required (a form field holding Slack's JSON)")
    try:
        payload = json.loads(texts[-1])
    except json.JSONDecodeError as error:
        raise BadRequest("payload", f"expected JSON: {error}") from None
    if not isinstance(payload, dict) or payload.get("type") != "block_actions":
        raise BadRequest("payload.type", "expected a block_actions payload")
    user = payload.get("user")
    user = user if isinstance(user, dict) else {}
    name = next((value for key in ("username", "name", "id")
                 if isinstance(value := user.get(key), str) and value.strip()), None)
    if name is None:
        raise BadRequest("payload.user", "expected the clicking user's username or id")
    actions = payload.get("actions")
    if not isinstance(actions, list):
        raise BadRequest("payload.actions", "expected a list")
    clicks = tuple(Click(str(item.get("action_id", "")), str(item.get("value", "")),
                         str(item.get("block_id", "")))
                   for item in actions if isinstance(item, dict))
    url = payload.get("response_url")
    return Interaction(f"slack:{name.strip()}", clicks, url if isinstance(url, str) else None)


@dataclass(frozen=True, slots=True)
class Command:
    """What router reads from a slash command's form."""

    command: str
    actor: str
    text: str


def parse_command(body: bytes) -> Command | None:
    """The slash command in a form body, or None when the body is no slash command (a
    button's `payload`, or no form at all: `parse_interaction` says what is wrong)."""
    try:
        form = parse_qs(body.decode("utf-8"), strict_parsing=False, max_num_fields=32)
    except (UnicodeDecodeError, ValueError):
        return None
    if "payload" in form or not form.get("command"):
        return None
    name = next((values[-1].strip() for key in ("user_name", "user_id")
                 if (values := form.get(key)) and values[-1].strip()), "unknown")
    return Command(form["command"][-1], f"slack:{name}", (form.get("text") or [""])[-1])


def _ephemeral(text: str) -> Response:
    """A slash command's answer: shown to the person who typed it, at once."""
    return Response.json(200, {"response_type": "ephemeral", "text": text})


class Responder:
    """Posts ephemeral replies to Slack's `response_url`s from one task the daemon owns, so
    a click's 200 never waits for Slack. At most `capacity` replies wait; beyond that they
    are dropped with a warning (they explain, they do not page)."""

    def __init__(self, post: Post, *, capacity: int = 64,
                 timeout: timedelta = timedelta(seconds=10)) -> None:
        self._post = post
        self._timeout = timeout
        self._send, self._receive = trio.open_memory_channel[tuple[str, bytes]](capacity)

    def reply_nowait(self, url: str, text: str) -> None:
        body = json.dumps({"response_type": "ephemeral", "replace_original": False,
                           "text": text}).encode()
        try:
            self._send.send_nowait((url, body))
        except trio.WouldBlock:
            logger.warning("slack reply dropped: too many waiting", extra={"text": text})

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        task_status.started()
        async for url, body in self._receive:
            with trio.move_on_after(self._timeout.total_seconds()) as scope:
                try:
                    outcome = await self._post(url, body)
                except Exception:
                    logger.exception("slack reply failed")
                    continue
            if scope.cancelled_caught:
                outcome = f"no answer in {self._timeout.total_seconds():g} s"
            logger.info("slack reply sent: %s", outcome)


class SlackActions:
    """The handler of POST /v1/slack/actions; `responder` may be None (no replies)."""

    def __init__(self, engine: Engine, responder: Responder | None = None) -> None:
        self.engine = engine
        self.responder = responder

    def secrets(self) -> list[bytes]:
        """The signing secret of every Slack channel that has one."""
        found = []
        for settings in self._slack_settings():
            if settings.signing_secret is not None:
                found.append(settings.signing_secret.reveal().encode())
        return found

    def origins(self) -> set[tuple[str, str, int]]:
        """(scheme, host, port) of every configured Slack webhook: where replies may go."""
        return {origin for settings in self._slack_settings()
                if (origin := _origin(settings.webhook_url.reveal())) is not None}

    def _slack_settings(self) -> list[Any]:
        # notify.slack.Settings; the server room does not import notify, so read by name.
        return [channel.settings for channel in self.engine.config.channels.values()
                if channel.type == "slack"]

    async def handle(self, request: Request) -> Response:
        secrets = self.secrets()
        if not secrets:
            logger.warning("slack action refused: no slack channel has a signing_secret")
            return _NO_SECRET
        timestamp = request.headers.get("x-slack-request-timestamp", "").strip()
        if not timestamp_fresh(timestamp, self.engine.now().timestamp()):
            logger.warning("slack action refused: stale or missing timestamp")
            return _STALE
        signature = request.headers.get("x-slack-signature", "").strip()
        if not signature_ok(secrets, timestamp, request.body, signature):
            logger.warning("slack action refused: bad signature")
            return _UNSIGNED
        command = parse_command(request.body)
        if command is not None:
            return await self._note(command)
        try:
            interaction = parse_interaction(request.body)
        except BadRequest as bad:
            return Response.json(400, {"error": bad.message, "field": bad.field})
        for click in interaction.clicks:
            verb = VERBS.get(click.action_id)
            if verb is not None:
                await self._act(interaction, verb, click)
        return Response(200)

    async def _act(self, interaction: Interaction, verb: lifecycle.Verb, click: Click) -> None:
        try:
            acted = await lifecycle.act(self.engine, verb, click.value, interaction.actor)
        except BadRequest as bad:
            self._reply(interaction, f"router cannot {verb} {click.value[:40]!r}: "
                                     f"{bad.message}")
            return
        except NotFound as missing:
            self._reply(interaction, f"router knows {missing.message}: it may have been "
                                     "removed with the state directory, so nothing changed")
            return
        except Conflict as refusal:
            self._reply(interaction, f"Not escalated: {refusal.message}")
            return
        logger.info("slack action: %s", acted.sentence, extra={
            "incident": acted.incident.id, "actor": interaction.actor,
            "block_id": click.block_id, "result": acted.result})
        if acted.result != "done":
            self._reply(interaction, acted.sentence)

    async def _note(self, command: Command) -> Response:
        words = command.text.strip()
        if words[:5].lower() == "note ":  # `/router note INC3 ...` as well as `/note INC3 ...`
            words = words[5:].lstrip()
        incident_id, _, text = words.partition(" ")
        if not incident_id:
            return _ephemeral(f"Usage: {command.command} INC3 what was done or found")
        try:
            entry = await self.engine.add_note(incident_id, text, command.actor)
        except BadRequest as bad:
            return _ephemeral(f"No note added: {bad.field}: {bad.message}")
        except NotFound as missing:
            return _ephemeral(f"No note added: router knows {missing.message}")
        logger.info("slack note added", extra={"incident": incident_id,
                                                "actor": command.actor})
        return _ephemeral(f"Note added to {incident_id.upper()} by {entry.actor}")

    def _reply(self, interaction: Interaction, text: str) -> None:
        url = interaction.response_url
        if self.responder is None or not url:
            return
        origin = _origin(url)
        if origin is None or origin not in self.origins():
            logger.warning("slack reply not sent: response_url is not on a configured "
                           "Slack webhook's host")
            return
        self.responder.reply_nowait(url, text)


def _origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) URL; None for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a port that is not a number
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts.scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[parts.scheme]
