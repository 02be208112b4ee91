"""Send one mail with smtplib, blocking (room: notify; imports notify.wire).

notify/transport.py runs `send` in a worker thread (`trio.to_thread.run_sync`), as smtplib
blocks; nothing here knows about trio. Every answer the server gives becomes an SmtpReply
for email.classify to read; only the absence of an answer is raised.

The server's certificate is always checked, against the system's authorities or the
channel's `ca_file`: smtplib's own default for STARTTLS checks nothing (protocols.md 0.1).
"""

from __future__ import annotations

import smtplib
import ssl

from router.notify.wire import SmtpMessage, SmtpReply


def send(message: SmtpMessage) -> SmtpReply:
    """Connect, secure the connection as `message.security` says, log in when a username is
    given, send, and say goodbye.

    Returns:
        The server's answer: code 250 when the mail was accepted (`refused` then lists the
        recipients refused one by one); otherwise the code and text of the reply that
        stopped it (a greeting other than 220, a refused STARTTLS, login, sender or data).
        When every recipient was refused, `refused` lists them all and `code` is the lowest
        of their codes, so one temporary refusal makes the mail worth trying again.

    Raises:
        OSError: when no answer came, always a subclass of OSError, which the transport
            turns into a retry: ConnectionRefusedError and other ConnectionErrors,
            TimeoutError (`message.timeout` passed without a connection or an answer;
            smtplib's own "Connection unexpectedly closed: timed out" is turned into
            this), socket.gaierror (the
            host name does not resolve), ssl.SSLError (ssl.SSLCertVerificationError: the
            certificate is not trusted or names another host), FileNotFoundError
            (`ca_file` is gone), smtplib.SMTPServerDisconnected (the connection dropped),
            smtplib.SMTPNotSupportedError (no STARTTLS or no AUTH offered: never sent in the
            clear instead), smtplib.SMTPException (no common AUTH mechanism).
    """
    context = ssl.create_default_context(cafile=message.ca_file)
    try:
        return _converse(message, context)
    except smtplib.SMTPServerDisconnected as error:
        if isinstance(error.__context__, TimeoutError):  # smtplib words a timeout so
            raise TimeoutError(f"no answer from {message.host}:{message.port} within "
                               f"{message.timeout.total_seconds():g}s") from error
        raise
    except smtplib.SMTPRecipientsRefused as error:
        refused = {address: (code, _words(text))
                   for address, (code, text) in error.recipients.items()}
        return SmtpReply(code=min(code for code, _ in refused.values()),
                         text="every recipient was refused", refused=refused)
    except smtplib.SMTPResponseException as error:
        return SmtpReply(code=error.smtp_code, text=_words(error.smtp_error))


def _converse(message: SmtpMessage, context: ssl.SSLContext) -> SmtpReply:
    seconds = message.timeout.total_seconds()
    client: smtplib.SMTP
    if message.security == "tls":
        client = smtplib.SMTP_SSL(message.host, message.port, timeout=seconds, context=context)
    else:
        client = smtplib.SMTP(message.host, message.port, timeout=seconds)
    try:
        if message.security == "starttls":
            client.starttls(context=context)
        if message.username is not None:
            password = message.password.reveal() if message.password is not None else ""
            client.login(message.username, password)
        refused = client.send_message(message.message, to_addrs=list(message.recipients))
    finally:
        _hang_up(client)
    return SmtpReply(code=250, text="accepted",
                     refused={address: (code, _words(text))
                              for address, (code, text) in refused.items()})


def _hang_up(client: smtplib.SMTP) -> None:
    """QUIT, then close. Once the mail is accepted, a failed QUIT changes nothing: it must
    not turn a delivered mail into one sent again."""
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()


def _words(text: bytes | str) -> str:
    """A reply's text on one line (multi-line replies are joined with spaces)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return " ".join(text.split())
