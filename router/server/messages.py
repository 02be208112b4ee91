"""The unix socket's lines: the message protocol and native alerts (room: server; imports
engine, lifecycle, engine.fields (a field's reader), alerts.formats, errors).

One received line in, one line to send back out; `server/socket.py` does the framing. The
protocol is ../shared/reference/node-protocol.md: an envelope `{"src", "dest", "body"}` whose
`body.type` picks a handler from `HANDLERS` (`dest` is not read: some senders put a channel
kind there). Any other JSON object or list is router's native alert JSON, answered
`{"status": "accepted", "incidents": [...]}` (one id per alert, null where an alert touched no
incident) or `{"error": ..., "field": ...}`.

Errors are replies, never exceptions: `{"type": "error", "in_reply_to": N, "code": C, "text":
...}` with HTTP's codes: 400 for a line or field that cannot be read, 404 for an unknown
incident or team, 409 when the incident's state forbids the request, 500 (logged) when the
engine fails, 503 when it does not answer in time or the store cannot write (a full disk).
`in_reply_to` is null until a msg_id is known.

The alert of create_incident and send_alert is built by the native format from the message's
fields, so both validate alike, with source "socket". Without labels of its own such an alert
is labelled `alertname` (the title) and `service`, so messages with different titles or
services open different incidents rather than sharing the hash of no labels.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TypeVar

from router.alerts.formats import decode_json, json_kind, native
from router.engine import Engine, lifecycle, overrides, parse_incident_id
from router.engine.fields import instant, integer, optional_text, text
from router.errors import BadRequest, Conflict, NotFound, StoreUnavailable

logger = logging.getLogger(__name__)

Reply = dict[str, object]
T = TypeVar("T")

SOURCE = "socket"
ACTIONS = ("Acknowledge", "View Details")
"""The buttons of a send_alert message in Slack."""

_ENVELOPE_KEYS = frozenset({"src", "dest", "body"})
_NATIVE_NAMES = {"summary": "title", "annotations.description": "description"}
_FOREVER = datetime.max.replace(tzinfo=UTC)  # core.oncall's LATEST: a shift with no end


class MessageError(Exception):
    """A request the engine refused for a reason other than its shape (404, 409)."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


@dataclass(frozen=True, slots=True)
class Message:
    """One request: its body, the sender's name and the id to answer to."""

    body: Mapping[str, object]
    src: object
    msg_id: int

    def reply(self, kind: str, **fields: object) -> Reply:
        return {"type": kind, "in_reply_to": self.msg_id, **fields}

    def actor(self) -> str:
        by = optional_text(self.body, "by") or (self.src if isinstance(self.src, str) else "")
        return f"{SOURCE}:{by}" if by else SOURCE


Handler = Callable[[Engine, Message], Awaitable[Reply]]


async def answer(engine: Engine, line: bytes) -> Reply:
    """What to send back for one line (without its newline); never raises for bad input.

    The caller bounds the engine's work with a cancel scope, and answers `timed_out(line)`
    when it runs out.
    """
    try:
        document = decode_json(line, "line")
    except BadRequest as error:
        return envelope(None, error_body(None, 400, str(error)))
    if _is_envelope(document):
        assert isinstance(document, dict)
        return envelope(document, await _answer_message(engine, document))
    return await _answer_alerts(engine, document)


def accepted(reply: Reply) -> int:
    """How many alerts a reply of `answer` says were stored (metrics count them): one per
    id of native alerts, one for an incident created or an alert sent."""
    incidents = reply.get("incidents")
    if reply.get("status") == "accepted" and isinstance(incidents, list):
        return len(incidents)
    body = reply.get("body")
    if isinstance(body, dict) and body.get("type") in ("incident_created", "alert_sent"):
        return 1
    return 0


def timed_out(line: bytes, seconds: float) -> Reply:
    """The answer to a line whose handling `answer` did not finish in `seconds` (503)."""
    text = f"not handled in {seconds:g} s"
    document = decode_json(line, "line")  # it decoded once already
    if not _is_envelope(document):
        logger.error("socket alerts timed out")
        return {"error": text, "field": ""}
    assert isinstance(document, dict)
    body = document.get("body")
    msg_id = body.get("msg_id") if isinstance(body, dict) else None
    msg_id = msg_id if isinstance(msg_id, int) else None
    logger.error("socket message timed out", extra={"msg_id": msg_id})
    return envelope(document, error_body(msg_id, 503, text))


def envelope(request: Mapping[str, object] | None, body: Reply) -> Reply:
    """A reply: src and dest of the request swapped (null when unknown) around `body`."""
    request = request or {}
    return {"src": request.get("dest"), "dest": request.get("src"), "body": body}


def error_body(msg_id: int | None, code: int, text: str) -> Reply:
    return {"type": "error", "in_reply_to": msg_id, "code": code, "text": text}


def _is_envelope(document: object) -> bool:
    return isinstance(document, dict) and not _ENVELOPE_KEYS.isdisjoint(document)



async def _answer_message(engine: Engine, document: Mapping[str, object]) -> Reply:
    body = document.get("body")
    if not isinstance(body, dict):
        what = "is required" if body is None else f"expected an object, got {json_kind(body)}"
        return error_body(None, 400, f"body: {what}")
    msg_id = body.get("msg_id")
    if msg_id is None or isinstance(msg_id, bool) or not isinstance(msg_id, int):
        what = "is required" if msg_id is None else f"expected an integer, got {json_kind(msg_id)}"
        return error_body(None, 400, f"msg_id: {what}")
    message = Message(body, document.get("src"), msg_id)
    try:
        kind = text(body, "type")
        handler = HANDLERS.get(kind)
        if handler is None:
            raise BadRequest("type", f"unknown message type {kind!r} (expected one of "
                                     f"{', '.join(HANDLERS)})")
        return await handler(engine, message)
    except BadRequest as error:
        return error_body(msg_id, 400, str(error))
    except MessageError as error:
        return error_body(msg_id, error.code, error.text)
    except StoreUnavailable as error:  # the store logged it
        return error_body(msg_id, 503, str(error))
    except Exception:
        logger.exception("socket message failed", extra={"msg_id": msg_id,
                                                          "type": body.get("type")})
        return error_body(msg_id, 500, "internal error")


async def _answer_alerts(engine: Engine, document: object) -> Reply:
    """Native alerts: the line's document, decoded once, read by the native format."""
    try:
        limits = engine.config.settings.alert_limits
        accepted = await engine.ingest(native.parse_document(document, limits=limits))
    except BadRequest as error:
        return {"error": error.message, "field": error.field}
    except StoreUnavailable as error:  # the store logged it
        return {"error": str(error), "field": "", "retry_after": error.retry_after}
    except Exception:
        logger.exception("socket alerts failed")
        return {"error": "internal error", "field": ""}
    return {"status": "accepted", "incidents": [item.incident_id for item in accepted]}


def _utc(moment: datetime) -> str | None:
    if moment >= _FOREVER:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _native_alert(body: Mapping[str, object]) -> dict[str, object]:
    """The message's alert fields as a native alert document (see the module docstring),
    for the native format to check as it checks a line of native JSON."""
    title, service = text(body, "title"), text(body, "service")
    text(body, "severity")  # optional in the native format, required here
    labels = body.get("labels")
    document: dict[str, object] = {
        "summary": title, "severity": body["severity"], "service": service,
        "labels": {"alertname": title, "service": service} if labels in (None, {}) else labels,
        "dedup_key": body.get("dedup_key")}
    if body.get("description") is not None:
        document["annotations"] = {"description": body["description"]}
    return document


# Plain try blocks, not @contextmanager: BadRequest, a frozen dataclass, cannot pass through
# one (contextlib sets its __traceback__, which the frozen __setattr__ refuses).


def _with_message_fields(parse: Callable[[], T]) -> T:
    """Name a native-format error by the message's field (`title`, not `summary`)."""
    try:
        return parse()
    except BadRequest as error:
        raise BadRequest(_NATIVE_NAMES.get(error.field, error.field), error.message) from None


async def _on_incident(incident_id: str, work: Awaitable[T]) -> T:
    """The engine's refusals about one incident, as 404 and 409."""
    try:
        return await work
    except NotFound:
        raise MessageError(404, f"unknown incident {incident_id}") from None
    except Conflict as error:
        raise MessageError(409, error.message) from None


# Handlers: one per message type.


async def create_incident(engine: Engine, message: Message) -> Reply:
    [alert] = _with_message_fields(lambda: native.parse_document(
        _native_alert(message.body), limits=engine.config.settings.alert_limits))
    [accepted] = await engine.ingest([replace(alert, source=SOURCE)])
    detail = await engine.incident(accepted.incident_id) if accepted.incident_id else None
    if detail is None:
        raise RuntimeError(f"a firing alert opened no incident: {accepted}")
    incident = detail.incident
    assigned_to = incident.assigned_to
    if assigned_to is None and incident.service is not None:
        with suppress(NotFound):  # a service without a rota: nobody to name
            assigned_to = (await overrides.on_call(engine, incident.service))[1].person
    return message.reply("incident_created", incident_id=incident.id,
                         status=incident.state.value, assigned_to=assigned_to)


async def send_alert(engine: Engine, message: Message) -> Reply:
    channel = text(message.body, "channel")
    [alert] = _with_message_fields(lambda: native.parse_document(
        _native_alert(message.body), limits=engine.config.settings.alert_limits))
    try:
        _, notification_id = await engine.send_alert(replace(alert, source=SOURCE), channel)
    except NotFound as error:
        raise MessageError(404, error.message) from None
    return message.reply("alert_sent", channel=channel, notification_id=notification_id,
                         actions=list(ACTIONS))


async def escalate_incident(engine: Engine, message: Message) -> Reply:
    incident_id = text(message.body, "incident_id")
    level = integer(message.body, "current_level")
    incident, previous = await _on_incident(incident_id, engine.escalate(
        incident_id, message.actor(), from_level=level))
    return message.reply("incident_escalated", incident_id=incident.id, from_level=previous,
                         to_level=incident.level,
                         escalated_to=await lifecycle.escalated_to(engine, incident))


async def get_on_call(engine: Engine, message: Message) -> Reply:
    team = text(message.body, "team")
    at = instant(message.body, "at")
    try:
        _, shift = await overrides.on_call(engine, team, at)  # run-time overrides applied
    except NotFound:
        raise MessageError(404, f"unknown team {team!r}: no such rota, or service with a "
                                f"rota") from None
    return message.reply("on_call", team=team, on_call=shift.person, until=_utc(shift.end))


async def acknowledge_incident(engine: Engine, message: Message) -> Reply:
    incident_id = text(message.body, "incident_id")
    incident = await _on_incident(incident_id,
                                  engine.acknowledge(incident_id, message.actor()))
    if not incident.is_open:
        raise MessageError(409, f"{incident.id} is resolved")
    return message.reply("incident_acknowledged", incident_id=incident.id,
                         status=incident.state.value)


async def resolve_incident(engine: Engine, message: Message) -> Reply:
    incident_id = text(message.body, "incident_id")
    incident = await _on_incident(incident_id, engine.resolve(incident_id, message.actor()))
    return message.reply("incident_resolved", incident_id=incident.id,
                         status=incident.state.value)


async def note(engine: Engine, message: Message) -> Reply:
    """A note on the incident's timeline by `socket:BY` (engine/notes.py)."""
    incident_id = text(message.body, "incident_id")
    note_text = optional_text(message.body, "text")
    if note_text is None:
        raise BadRequest("text", "is required")
    entry = await _on_incident(incident_id, engine.add_note(incident_id, note_text,
                                                            message.actor()))
    return message.reply("note_added", incident_id=f"INC{parse_incident_id(incident_id)}",
                         author=entry.actor)


HANDLERS: Mapping[str, Handler] = {
    "create_incident": create_incident,
    "send_alert": send_alert,
    "escalate_incident": escalate_incident,
    "get_on_call": get_on_call,
    "acknowledge_incident": acknowledge_incident,
    "resolve_incident": resolve_incident,
    "note": note,
}
