"""Email channel over SMTP (room: notify; imports notify.wire, config.model, errors).

`render` writes one mail per notification: the title as its subject, the text as a plain
part and an HTML alternative, to the person's own address or to the channel's `to`.
notify/smtp.py sends it; `classify` reads the server's reply.

Every mail about one incident names the same made-up parent, `<INC3.1772443800@domain>`
(number and opening time, so a state directory started afresh does not thread new incidents
under old ones), in In-Reply-To and References: mail clients that thread by reference
(Thunderbird, Apple Mail, mutt) show the trigger, escalations, acknowledgement and
resolution as one conversation. The Message-ID is the notification id at the sender's
domain, so a mail sent again after a lost reply, by this daemon or by another node of a
cluster (the same `from`, the same id), is recognisably the same mail; mail filters can drop
it by Message-ID (Sieve's `duplicate`, RFC 7352). `X-Router-Notification` carries the id too.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Literal

from router.alerts.model import JOB_ALERT_TARGET
from router.config.model import Secret
from router.errors import Outcome
from router.notify.wire import Message, SmtpMessage, SmtpReply

DEFAULT_RATE: float | None = None
"""No pacing: the SMTP server queues mail."""
DEFAULT_CONCURRENCY = 4
"""Sends at once unless the channel sets `concurrency`: each holds an SMTP connection."""
DEFAULT_TIMEOUT = timedelta(seconds=30)

_NOT_IN_MESSAGE_ID = re.compile(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]")
_LINK = re.compile(r"https?://[^\s<>\"']+")


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """`to` is for channel-level mail; people are mailed at their own addresses.

    `ca_file` (PEM) replaces the system's certificate authorities when checking the server's
    certificate, for a server with a private CA; it never turns the check off.
    """

    host: str
    sender: str = field(metadata={"key": "from"})
    port: int = 587
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: Secret | None = None
    to: tuple[str, ...] = ()
    ca_file: str | None = field(default=None, metadata={"path": True})
    timeout: timedelta = DEFAULT_TIMEOUT


def render(message: Message, settings: Settings, *, now: datetime) -> SmtpMessage | None:
    """The mail for one notification.

    Returns None only for a channel-level notification through a channel without `to`:
    `router validate` refuses a config that names such a channel as a target (services,
    routes, escalation levels), so only a test notification can meet it.
    """
    notification = message.notification
    # A person, or a job's alert target (engine/jobs.py), is mailed at its own address.
    recipients = ((notification.address,)
                  if notification.target.startswith(("person:", JOB_ALERT_TARGET))
                  else settings.to)
    if not recipients:
        return None
    domain = _domain(settings.sender)
    mail = EmailMessage()
    mail["Subject"] = " ".join(message.title.split())  # a header holds one line
    mail["From"] = settings.sender
    mail["To"] = ", ".join(recipients)
    mail["Date"] = format_datetime(notification.created_at)
    mail["Message-ID"] = f"<{_id_part(notification.id)}@{domain}>"
    thread = thread_id(message, domain)
    mail["In-Reply-To"] = thread
    mail["References"] = thread
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: auto-responders stay quiet
    mail["X-Router-Incident"] = message.incident.id
    mail["X-Router-Notification"] = notification.id
    mail["X-Router-Event"] = notification.event
    if message.test:
        mail["X-Router-Test"] = "yes"
    mail.set_content(_text(message))
    mail.add_alternative(_html(message), subtype="html")
    return SmtpMessage(
        host=settings.host, port=settings.port, security=settings.security, message=mail,
        recipients=tuple(recipients), target=f"{', '.join(recipients)} via "
                                             f"{settings.host}:{settings.port}",
        username=settings.username, password=settings.password, timeout=settings.timeout,
        ca_file=settings.ca_file)


def thread_id(message: Message, domain: str) -> str:
    """The made-up parent every mail about the incident refers to."""
    incident = message.incident
    return f"<{incident.id}.{int(incident.opened_at.timestamp())}@{domain}>"


def _domain(address: str) -> str:
    """The sender's domain, for ids that are unique to this sender."""
    domain = address.rpartition("@")[2].strip(" <>")
    cleaned = _NOT_IN_MESSAGE_ID.sub("", domain)
    return cleaned or "router.invalid"


def _id_part(text: str) -> str:
    return _NOT_IN_MESSAGE_ID.sub("-", text) or "notification"


def _text(message: Message) -> str:
    """The plain part: the text, with the acknowledge link unless the template shows it."""
    text = message.text
    if message.acknowledge_url and message.acknowledge_url not in text:
        text += f"\n\nAcknowledge: {message.acknowledge_url}"
    return text + "\n"


def _html(message: Message) -> str:
    """The html template's output, or the text escaped with its links made clickable; the
    acknowledge link is added as a button unless the html already has it."""
    if message.html is not None:
        body = message.html
    else:
        escaped = _LINK.sub(lambda found: f'<a href="{found.group(0)}">{found.group(0)}</a>',
                            html.escape(message.text, quote=False))
        body = f'<pre style="font-family: inherit; white-space: pre-wrap">{escaped}</pre>'
    url = message.acknowledge_url
    if url and html.escape(url) not in body and url not in body:
        body += (f'\n<p><a href="{html.escape(url)}" style="font-weight: bold">'
                 "Acknowledge</a></p>")
    if "<html" in body.lower():
        return body + "\n"
    return f"<!DOCTYPE html>\n<html><body>\n{body}\n</body></html>\n"


def classify(reply: SmtpReply) -> Outcome:
    """The server's reply: 2xx delivered, 4xx try again, 5xx failed for good.

    A mail accepted for some recipients and refused for others counts as delivered (sending
    it again would mail the accepted ones twice); the refusals are in the outcome's reason,
    so the delivery log shows them. When every recipient was refused, smtp.send reports the
    lowest code among the refusals: a temporary refusal (greylisting, a full mailbox) of any
    recipient makes the whole mail worth trying again.
    """
    if 200 <= reply.code < 300:
        if reply.refused:
            return Outcome("ok", f"delivered, but refused for {_refusals(reply)}")
        return Outcome.ok()
    reason = f"SMTP server answered {reply.code}: {reply.text}".rstrip(": ")
    if reply.refused:
        reason = f"every recipient was refused: {_refusals(reply)}"
    if 500 <= reply.code < 600:
        return Outcome.failed(reason)
    return Outcome.retry(reason)


def _refusals(reply: SmtpReply) -> str:
    return "; ".join(f"{address}: {code} {text}".strip()
                     for address, (code, text) in sorted(reply.refused.items()))
