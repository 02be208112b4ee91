"""notify/email.py as pure functions: the mail rendered for a notification, and the reading
of the server's reply (sending is in test_smtp.py)."""

from __future__ import annotations

import email as mail_parser
import email.policy
from dataclasses import replace
from datetime import timedelta
from email.message import EmailMessage

import pytest

from router.config.model import Secret
from router.notify import email as channel
from router.notify.wire import SmtpMessage, SmtpReply
from tests.notify import OPENED, make_message

SETTINGS = channel.Settings(host="smtp.example.com", sender="Router <router@example.com>",
                            to=("ops@example.com", "db@example.com"))
THREAD = f"<INC3.{int(OPENED.timestamp())}@example.com>"


def render(**changes: object) -> SmtpMessage:
    settings = changes.pop("settings", SETTINGS)
    rendered = channel.render(make_message(**changes), settings,  # type: ignore[arg-type]
                              now=OPENED)
    assert rendered is not None
    return rendered


def parsed(message: SmtpMessage) -> EmailMessage:
    """The mail as a receiver reads it: bytes on the wire, parsed again."""
    result = mail_parser.message_from_bytes(message.message.as_bytes(),
                                            policy=email.policy.default)
    assert isinstance(result, EmailMessage)
    return result


def parts(mail: EmailMessage) -> tuple[str, str]:
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()  # type: ignore[attr-defined]


def test_a_person_is_mailed_at_their_address() -> None:
    message = render(target="person:ann", address="ann@example.com", notification_id="n7")
    mail = parsed(message)
    assert message.recipients == ("ann@example.com",)
    assert (message.host, message.port, message.security) == ("smtp.example.com", 587,
                                                               "starttls")
    assert message.target == "ann@example.com via smtp.example.com:587"
    assert [(name, str(value)) for name, value in mail.items()
            if not name.startswith(("Content-", "MIME-"))] == [
        ("Subject", "INC3 Disk full on db-1"),
        ("From", "Router <router@example.com>"),
        ("To", "ann@example.com"),
        ("Date", "Mon, 02 Mar 2026 09:30:00 +0000"),
        ("Message-ID", "<n7@example.com>"),
        ("In-Reply-To", THREAD),
        ("References", THREAD),
        ("Auto-Submitted", "auto-generated"),
        ("X-Router-Incident", "INC3"),
        ("X-Router-Notification", "n7"),
        ("X-Router-Event", "trigger"),
    ]


def test_a_channel_target_mails_the_channels_list() -> None:
    message = render()
    assert message.recipients == ("ops@example.com", "db@example.com")
    assert parsed(message)["To"] == "ops@example.com, db@example.com"


def test_a_channel_target_without_to_has_nothing_to_send() -> None:
    # router validate refuses this for configured targets; only a test notification meets it
    assert channel.render(make_message(), replace(SETTINGS, to=()), now=OPENED) is None


def test_every_mail_about_an_incident_threads_under_the_same_parent() -> None:
    trigger = parsed(render(notification_id="n1"))
    resolve = parsed(render(event="resolve", notification_id="n2"))
    assert (trigger["Message-ID"], resolve["Message-ID"]) == ("<n1@example.com>",
                                                              "<n2@example.com>")
    assert trigger["References"] == resolve["References"] == resolve["In-Reply-To"] == THREAD
    later = parsed(render(incident_changes={"opened_at": OPENED + timedelta(days=400)}))
    assert later["References"] != THREAD  # INC3 of a state directory started afresh


def test_text_and_html_parts() -> None:
    mail = parsed(render(text="Disk <97%> full & growing\nsee https://grafana/d/1?a=1&b=2"))
    assert mail.get_content_type() == "multipart/alternative"
    text, html = parts(mail)
    assert text == "Disk <97%> full & growing\nsee https://grafana/d/1?a=1&b=2\n"
    assert html == (
        '<!DOCTYPE html>\n<html><body>\n<pre style="font-family: inherit; white-space: '
        'pre-wrap">Disk &lt;97%&gt; full &amp; growing\nsee <a href="https://grafana/d/1?a=1'
        '&amp;b=2">https://grafana/d/1?a=1&amp;b=2</a></pre>\n</body></html>\n')


def test_the_html_template_when_there_is_one() -> None:
    _, html = parts(parsed(render(html="<h1>INC3</h1>")))
    assert html == "<!DOCTYPE html>\n<html><body>\n<h1>INC3</h1>\n</body></html>\n"
    _, whole = parts(parsed(render(html="<html><body>mine</body></html>")))
    assert whole == "<html><body>mine</body></html>\n"


def test_the_acknowledge_link_is_added_once() -> None:
    url = "https://router.example.com/v1/incidents/INC3/acknowledge?token=a&b"
    text, html = parts(parsed(render(acknowledge_url=url)))
    assert text == f"Disk / is 97% full on db-1.\n\nAcknowledge: {url}\n"
    assert html.endswith(
        '<p><a href="https://router.example.com/v1/incidents/INC3/acknowledge?token=a&amp;b" '
        'style="font-weight: bold">Acknowledge</a></p>\n</body></html>\n')
    text, html = parts(parsed(render(acknowledge_url=url, text=f"Ack: {url}",
                                     html=f'<a href="{url}">ack</a>')))
    assert (text.count(url), html.count("Acknowledge")) == (1, 0)


def test_words_beyond_ascii_survive_the_trip() -> None:
    mail = parsed(render(title="INC3 Festplatte voll: ü ✓", text="Größe: 97 %"))
    assert mail["Subject"] == "INC3 Festplatte voll: ü ✓"
    assert parts(mail)[0] == "Größe: 97 %\n"


def test_a_title_is_one_line_in_the_subject() -> None:
    assert parsed(render(title="INC3\nDisk\r\nfull"))["Subject"] == "INC3 Disk full"


def test_a_test_notification_is_marked() -> None:
    assert parsed(render(test=True))["X-Router-Test"] == "yes"
    assert parsed(render())["X-Router-Test"] is None


def test_connection_settings_are_passed_on_and_the_password_stays_hidden() -> None:
    settings = replace(SETTINGS, port=465, security="tls", username="router",
                       password=Secret("hunter2", "${env:SMTP_PASSWORD}"),
                       ca_file="/etc/router/ca.pem", timeout=timedelta(seconds=9))
    message = render(settings=settings)
    assert (message.port, message.security, message.username, message.ca_file,
            message.timeout) == (465, "tls", "router", "/etc/router/ca.pem",
                                 timedelta(seconds=9))
    assert message.password is not None and message.password.reveal() == "hunter2"
    assert "hunter2" not in repr(message)


@pytest.mark.parametrize(("reply", "kind", "reason"), [
    (SmtpReply(code=250, text="accepted"), "ok", ""),
    (SmtpReply(code=250, text="accepted", refused={"b@x": (550, "5.1.1 unknown"),
                                                   "a@x": (452, "4.2.2 full")}),
     "ok", "delivered, but refused for a@x: 452 4.2.2 full; b@x: 550 5.1.1 unknown"),
    (SmtpReply(code=421, text="4.3.2 shutting down"), "retry",
     "SMTP server answered 421: 4.3.2 shutting down"),
    (SmtpReply(code=451, text="4.3.0 try later"), "retry",
     "SMTP server answered 451: 4.3.0 try later"),
    (SmtpReply(code=454, text="4.7.0 TLS not available"), "retry",
     "SMTP server answered 454: 4.7.0 TLS not available"),
    (SmtpReply(code=535, text="5.7.8 bad credentials"), "failed",
     "SMTP server answered 535: 5.7.8 bad credentials"),
    (SmtpReply(code=554, text=""), "failed", "SMTP server answered 554"),
    (SmtpReply(code=451, text="every recipient was refused",
               refused={"a@x": (451, "greylisted"), "b@x": (550, "unknown")}),
     "retry", "every recipient was refused: a@x: 451 greylisted; b@x: 550 unknown"),
    (SmtpReply(code=550, text="every recipient was refused",
               refused={"a@x": (550, "unknown")}),
     "failed", "every recipient was refused: a@x: 550 unknown"),
])
def test_classify(reply: SmtpReply, kind: str, reason: str) -> None:
    outcome = channel.classify(reply)
    assert (outcome.kind, outcome.reason, outcome.after) == (kind, reason, None)
