"""Direct notifications: a message to named channels, about no incident (room: engine).

`POST /v1/notify`, `POST /v1/notify/batch` and `router notify` write one outbox row per
channel (incident number 0, event `notify`, the message in the row's note), in one
transaction, and wake the deliverer: the same retries, `retry_for`, dead letters and
delivery log as every page. Nothing is written unless every channel named exists.

`channels` describes the config's channels for `GET /v1/channels`: each one's type and the
settings its type needs, by name only: no value, secret or not, leaves this module.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, get_args, get_type_hints

from router.alerts.model import DirectMessage, Notification, Severity
from router.config.model import Config, Secret
from router.engine import fields
from router.engine.state import EngineState
from router.errors import BadRequest
from router.store import Transaction

logger = logging.getLogger(__name__)

MOST_CHANNELS = 100
"""Channels one message may name; a batch may hold at most MOST_MESSAGES messages."""
MOST_MESSAGES = 100
TITLE_MOST = 1024
MESSAGE_MOST = 64 * 1024
MOST_TAGS = 64
MOST_CONTEXT = 128
EVENT = "notify"
FIELDS = ("title", "message", "severity", "tags", "context", "channel", "channels")
"""What a message object may hold (docs/api.md#direct-notifications)."""


@dataclass(frozen=True, slots=True)
class Send:
    """One message and the channels it goes to; `field` is where it sat in the request
    (`messages[3]`), for errors."""

    message: DirectMessage
    channels: tuple[str, ...]
    field: str = ""


@dataclass(frozen=True, slots=True)
class Queued:
    """One outbox row written: its notification id and channel."""

    notification_id: str
    channel: str


class DirectNotifications:
    """Sending direct messages over the engine's state."""

    def __init__(self, state: EngineState) -> None:
        self.state = state

    async def send(self, sends: Sequence[Send], *, trace_id: str = ""
                   ) -> list[list[Queued]]:
        """Queue every message to its channels in one transaction; for each message, the
        notifications written.

        Raises:
            BadRequest: no message, too many, a message with no channel, or a channel the
                config does not have (naming where it was asked for).
        """
        config = self.state.snapshot.config
        _check(config, sends)
        now = self.state.clock.now()
        queued: list[list[Queued]] = []
        notifications: list[Notification] = []
        for send in sends:
            note = send.message.to_note()
            mine = []
            for channel in send.channels:
                notification = Notification(
                    id=self.state.new_id(), incident_number=0, channel=channel,
                    target=f"channel:{channel}", address="", event=EVENT, created_at=now,
                    note=note)
                notifications.append(notification)
                mine.append(Queued(notification.id, channel))
            queued.append(mine)

        def work(transaction: Transaction) -> None:
            transaction.trace_id = trace_id
            transaction.add_notifications(notifications)

        await self.state.store.write(work)
        self.state.outbox_written()
        logger.info("direct notifications queued", extra={
            "count": len(notifications), "trace_id": trace_id})
        return queued


def read_send(document: object, field: str = "") -> Send:
    """One message object of a request (`{title, message, severity, tags, context,
    channel | channels}`) as a Send; `field` is its place in the request (`messages[2]`).

    Raises:
        BadRequest: naming the field at fault.
    """
    def at(name: str) -> str:
        return fields.member(field, name)

    if not isinstance(document, dict):
        raise BadRequest(field, "expected a JSON object")
    fields.refuse_unknown(document, FIELDS, field)
    title = fields.text(document, "title", field, most=TITLE_MOST)
    severity = fields.optional_text(document, "severity", field, most=20) or "info"
    if severity not in {item.value for item in Severity}:
        raise BadRequest(at("severity"), "expected one of critical, error, warning, info; "
                                         f"got {severity!r}")
    message = DirectMessage(
        title=title,
        message=fields.optional_text(document, "message", field, most=MESSAGE_MOST) or "",
        severity=Severity(severity), tags=_tags(document.get("tags"), at("tags")),
        context=_context(document.get("context"), at("context")))
    return Send(message, _channels(document, at), field)


def _tags(value: object, field: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        raise BadRequest(field, "expected a list of text")
    if len(value) > MOST_TAGS:
        raise BadRequest(field, f"at most {MOST_TAGS} tags, got {len(value)}")
    return tuple(value)


def _context(value: object, field: str) -> dict[str, str]:
    """Free-form context: text, numbers and booleans as text."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest(field, "expected a mapping of names to text")
    if len(value) > MOST_CONTEXT:
        raise BadRequest(field, f"at most {MOST_CONTEXT} entries, got {len(value)}")
    context = {}
    for name, item in value.items():
        if isinstance(item, bool):
            context[name] = "true" if item else "false"
        elif isinstance(item, str | int | float):
            context[name] = str(item)
        else:
            raise BadRequest(f"{field}.{name}", "expected text, a number or a boolean")
    return context


def _channels(document: dict[str, object], at: Callable[[str], str]) -> tuple[str, ...]:
    if "channel" in document and "channels" in document:
        raise BadRequest(at("channels"), "give channel or channels, not both")
    if "channel" in document:
        one = document["channel"]
        if not isinstance(one, str) or not one:
            raise BadRequest(at("channel"), "expected a channel id")
        return (one,)
    many = document.get("channels")
    if many is None:
        raise BadRequest(at("channel"), "is required (a channel id, or channels: a list)")
    if not isinstance(many, list) or not all(isinstance(item, str) for item in many):
        raise BadRequest(at("channels"), "expected a list of channel ids")
    return tuple(dict.fromkeys(many))


def _check(config: Config, sends: Sequence[Send]) -> None:
    if not sends:
        raise BadRequest("messages", "no message to send")
    if len(sends) > MOST_MESSAGES:
        raise BadRequest("messages", f"at most {MOST_MESSAGES} messages per request, got "
                                     f"{len(sends)}")
    for send in sends:
        field = f"{send.field}.channels" if send.field else "channels"
        if not send.channels:
            raise BadRequest(field, "name at least one channel")
        if len(send.channels) > MOST_CHANNELS:
            raise BadRequest(field, f"at most {MOST_CHANNELS} channels, got "
                                    f"{len(send.channels)}")
        for channel in send.channels:
            if channel not in config.channels:
                known = ", ".join(sorted(config.channels)) or "none"
                raise BadRequest(field, f"no channel {channel!r} in the config (channels: "
                                        f"{known})")


def channels(config: Config) -> list[dict[str, Any]]:
    """Every channel: id, name, type, enabled, and its type's settings by name: `needs`
    (no default: the config must give them), `optional`, and `secret` (those holding a
    secret, which is never shown)."""
    found = []
    for channel in sorted(config.channels.values(), key=lambda channel: channel.id):
        settings = channel.settings
        fields = dataclasses.fields(settings) if dataclasses.is_dataclass(settings) else ()
        required = [item for item in fields if item.default is dataclasses.MISSING
                    and item.default_factory is dataclasses.MISSING]
        found.append({
            "id": channel.id, "name": channel.name or channel.id, "type": channel.type,
            "enabled": channel.enabled,
            "needs": [_key(item) for item in required],
            "optional": [_key(item) for item in fields if item not in required],
            "secret": [_key(item) for item in fields if _holds_secret(settings, item)],
        })
    return found


def _holds_secret(settings: object, item: dataclasses.Field[Any]) -> bool:
    """Whether the setting is a secret by its type, given or not: whoever fills in the
    channel must know to keep it in a file, though this channel leaves it out."""
    if isinstance(getattr(settings, item.name, None), Secret):
        return True
    hint = get_type_hints(type(settings)).get(item.name)
    return hint is Secret or Secret in get_args(hint)


def _key(item: dataclasses.Field[Any]) -> str:
    """The config's name for a settings field (`from` for the email sender)."""
    return str(item.metadata.get("key", item.name))
