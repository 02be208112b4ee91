"""A real SMTP server for tests: aiosmtpd's Controller, on its own asyncio loop in a thread,
on 127.0.0.1 and a free port (../shared/reference/protocols.md section 7.2).

    with serve_smtp() as server:                        # plain SMTP
        server.host, server.port
        server.mails                                     # accepted mails, in order
    with serve_smtp(security="starttls", ca=ca, users={"router": "s3cret"}) as server: ...
    with serve_smtp(security="tls", ca=ca) as server: ...   # implicit TLS (port 465 style)
    server.refuse["gone@example.com"] = "550 5.1.1 no such user"    # at RCPT
    server.refuse["busy@example.com"] = "451 4.7.1 greylisted, try again later"
    server.data_reply = "451 4.3.0 try again later"     # at the end of DATA, mail not kept

`ca` is a trustme.CA: the server's certificate for 127.0.0.1 and localhost is issued by it,
and `ca_file(ca, directory)` writes the PEM a client needs to trust it. With `users`, AUTH
(PLAIN and LOGIN) is offered, only over TLS as aiosmtpd requires by default; every login
tried is in `server.logins` as (user, accepted).
"""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass(frozen=True, slots=True)
class Mail:
    """One accepted mail: the envelope and the message as the server received it."""

    sender: str
    recipients: tuple[str, ...]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass(slots=True, kw_only=True)
class FakeSmtp:
    host: str
    port: int
    users: Mapping[str, str] = field(default_factory=dict)
    refuse: dict[str, str] = field(default_factory=dict)
    data_reply: str | None = None
    mails: list[Mail] = field(default_factory=list)
    logins: list[tuple[str, bool]] = field(default_factory=list)


class _Handler:
    """aiosmtpd's hooks: refuse scripted recipients, keep accepted mail."""

    def __init__(self, fake: FakeSmtp) -> None:
        self.fake = fake

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:
        refusal = self.fake.refuse.get(address)
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.fake.data_reply is not None:
            return self.fake.data_reply
        self.fake.mails.append(Mail(envelope.mail_from, tuple(envelope.rcpt_tos),
                                    bytes(envelope.original_content or envelope.content)))
        return "250 Message accepted for delivery"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str,
                     auth_data: Any) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = auth_data.login.decode(), auth_data.password.decode()
        accepted = self.fake.users.get(user) == password
        self.fake.logins.append((user, accepted))
        return AuthResult(success=accepted, handled=False)


def ca_file(ca: trustme.CA, directory: Path) -> str:
    """The CA's certificate as a PEM file, for a client's `ca_file`."""
    path = directory / "smtp-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def free_port() -> int:
    """A port nothing listens on now: aiosmtpd cannot listen on port 0 (protocols.md 0.5)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serve_smtp(*, security: Literal["none", "starttls", "tls"] = "none",
               ca: trustme.CA | None = None, users: Mapping[str, str] | None = None,
               ) -> Iterator[FakeSmtp]:
    """Serve until the block ends; `ca` is needed for starttls and tls."""
    fake = FakeSmtp(host="127.0.0.1", port=free_port(), users=dict(users or {}))
    handler = _Handler(fake)
    options: dict[str, Any] = {}
    if security != "none":
        assert ca is not None, "TLS needs a CA to issue the server's certificate"
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        options = ({"tls_context": context, "require_starttls": True}
                   if security == "starttls" else {"ssl_context": context})
    if users:
        options["authenticator"] = handler.authenticate
    controller = Controller(handler, hostname=fake.host, port=fake.port, **options)
    controller.start()
    try:
        yield fake
    finally:
        controller.stop()
