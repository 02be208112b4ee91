"""notify/smtp.py against a real SMTP server (aiosmtpd on loopback): plain, STARTTLS with
AUTH, implicit TLS, refusals, temporary failures, and the failures that raise."""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Literal

import pytest
import trustme

from router.config.model import Secret
from router.notify import email, smtp
from router.notify.wire import SmtpMessage, SmtpReply
from tests.fakes.smtp import FakeSmtp, ca_file, free_port, serve_smtp
from tests.notify import OPENED, make_message


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def trusted(ca: trustme.CA, tmp_path: Path) -> str:
    return ca_file(ca, tmp_path)


def mail_to(server: FakeSmtp, *recipients: str,
            security: Literal["starttls", "tls", "none"] = "none",
            **settings: object) -> SmtpMessage:
    """The mail email.render writes for INC3, addressed to `recipients` through `server`."""
    values: dict[str, object] = {"host": server.host, "port": server.port,
                                 "security": security, "sender": "router@example.com",
                                 "to": recipients, "timeout": timedelta(seconds=5),
                                 **settings}
    rendered = email.render(make_message(), email.Settings(**values),  # type: ignore[arg-type]
                            now=OPENED)
    assert rendered is not None
    return rendered


def test_plain_smtp_delivers_the_mail() -> None:
    with serve_smtp() as server:
        reply = smtp.send(mail_to(server, "ops@example.com", "db@example.com"))
    assert reply == SmtpReply(code=250, text="accepted", refused={})
    [mail] = server.mails
    assert (mail.sender, mail.recipients) == ("router@example.com",
                                              ("ops@example.com", "db@example.com"))
    assert mail.message["Subject"] == "INC3 Disk full on db-1"
    assert email.classify(reply).kind == "ok"


def test_a_repeat_arrives_with_the_same_message_id() -> None:
    """A node that died after the server took the mail and before recording it: another
    node renders and sends the same notification again, later. The server receives the
    same Message-ID (made from the notification id) and X-Router-Notification twice."""
    with serve_smtp() as server:
        settings = email.Settings(host=server.host, port=server.port, security="none",
                                  sender="Router <router@example.com>",
                                  to=("ops@example.com",), timeout=timedelta(seconds=5))
        notification = make_message(notification_id="01JQ2V6T4M8K3N5P7R9S1U3W5Y")
        for now in (OPENED, OPENED + timedelta(minutes=1)):
            rendered = email.render(notification, settings, now=now)
            assert rendered is not None
            assert smtp.send(rendered).code == 250
    assert [(mail.message["Message-ID"], mail.message["X-Router-Notification"])
            for mail in server.mails] == [
        ("<01JQ2V6T4M8K3N5P7R9S1U3W5Y@example.com>", "01JQ2V6T4M8K3N5P7R9S1U3W5Y")] * 2


def test_starttls_and_login(ca: trustme.CA, trusted: str) -> None:
    with serve_smtp(security="starttls", ca=ca, users={"router": "s3cret"}) as server:
        reply = smtp.send(mail_to(server, "ops@example.com", security="starttls",
                                  username="router", password=Secret("s3cret"),
                                  ca_file=trusted))
    assert reply.code == 250
    assert server.logins == [("router", True)]
    assert len(server.mails) == 1


def test_a_wrong_password_is_a_permanent_failure(ca: trustme.CA, trusted: str) -> None:
    with serve_smtp(security="starttls", ca=ca, users={"router": "s3cret"}) as server:
        message = mail_to(server, "ops@example.com", security="starttls", username="router",
                          password=Secret("wrong-password"), ca_file=trusted)
        reply = smtp.send(message)
    assert reply == SmtpReply(code=535, text="5.7.8 Authentication credentials invalid")
    assert email.classify(reply).kind == "failed"
    assert "wrong-password" not in repr(message)
    assert server.mails == []


def test_implicit_tls(ca: trustme.CA, trusted: str) -> None:
    with serve_smtp(security="tls", ca=ca) as server:
        reply = smtp.send(mail_to(server, "ops@example.com", security="tls", ca_file=trusted))
    assert reply.code == 250
    assert [mail.recipients for mail in server.mails] == [("ops@example.com",)]


def test_one_recipient_refused_the_others_get_the_mail() -> None:
    with serve_smtp() as server:
        server.refuse["gone@example.com"] = "550 5.1.1 no such user"
        reply = smtp.send(mail_to(server, "ops@example.com", "gone@example.com"))
    assert reply == SmtpReply(code=250, text="accepted",
                              refused={"gone@example.com": (550, "5.1.1 no such user")})
    assert [mail.recipients for mail in server.mails] == [("ops@example.com",)]
    outcome = email.classify(reply)
    assert (outcome.kind, outcome.reason) == (
        "ok", "delivered, but refused for gone@example.com: 550 5.1.1 no such user")


@pytest.mark.parametrize(("refusals", "code", "kind"), [
    ({"a@example.com": "550 5.1.1 no such user"}, 550, "failed"),
    ({"a@example.com": "451 4.7.1 greylisted"}, 451, "retry"),
    ({"a@example.com": "550 5.1.1 no such user", "b@example.com": "452 4.2.2 mailbox full"},
     452, "retry"),
])
def test_every_recipient_refused(refusals: dict[str, str], code: int, kind: str) -> None:
    with serve_smtp() as server:
        server.refuse.update(refusals)
        reply = smtp.send(mail_to(server, *refusals))
    assert (reply.code, reply.text) == (code, "every recipient was refused")
    assert dict(reply.refused) == {address: (int(line[:3]), line[4:])
                                   for address, line in refusals.items()}
    assert email.classify(reply).kind == kind
    assert server.mails == []


@pytest.mark.parametrize(("answer", "code", "text"), [
    ("451 4.3.0 try again later", 451, "4.3.0 try again later"),
    ("421 4.3.2 shutting down", 421, "4.3.2 shutting down"),
    ("554 5.6.0 message refused", 554, "5.6.0 message refused"),
])
def test_the_answer_to_the_data(answer: str, code: int, text: str) -> None:
    with serve_smtp() as server:
        server.data_reply = answer
        reply = smtp.send(mail_to(server, "ops@example.com"))
    assert reply == SmtpReply(code=code, text=text)
    outcome = email.classify(reply)
    assert (outcome.kind, outcome.reason) == ("failed" if code >= 500 else "retry",
                                              f"SMTP server answered {code}: {text}")


def test_a_refused_connection_raises_an_oserror() -> None:
    server = FakeSmtp(host="127.0.0.1", port=free_port())  # nobody listens there
    with pytest.raises(ConnectionRefusedError):
        smtp.send(mail_to(server, "ops@example.com"))


@pytest.fixture
def silent_server() -> Iterator[FakeSmtp]:
    """A port that accepts connections and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield FakeSmtp(host="127.0.0.1", port=listener.getsockname()[1])


def test_no_greeting_within_the_timeout_raises(silent_server: FakeSmtp) -> None:
    message = replace(mail_to(silent_server, "ops@example.com"),
                      timeout=timedelta(seconds=0.2))
    with pytest.raises(TimeoutError, match=r"^no answer from 127\.0\.0\.1:\d+ within 0\.2s$"):
        smtp.send(message)


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_a_certificate_from_another_ca_is_refused(ca: trustme.CA, tmp_path: Path,
                                                  security: Literal["starttls", "tls"]
                                                  ) -> None:
    other = ca_file(trustme.CA(), tmp_path)
    with serve_smtp(security=security, ca=ca) as server:
        with pytest.raises(ssl.SSLCertVerificationError):
            smtp.send(mail_to(server, "ops@example.com", security=security, ca_file=other))
        with pytest.raises(ssl.SSLCertVerificationError):  # the system's CAs by default
            smtp.send(mail_to(server, "ops@example.com", security=security))
    assert server.mails == []


def test_starttls_not_offered_is_never_sent_in_the_clear() -> None:
    with serve_smtp() as server, pytest.raises(smtplib.SMTPNotSupportedError):
        smtp.send(mail_to(server, "ops@example.com", security="starttls"))
    assert server.mails == []
    assert issubclass(smtplib.SMTPNotSupportedError, OSError)  # the transport retries it
