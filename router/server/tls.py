"""HTTPS for the HTTP server (room: server; imports errors; the standard library's ssl).

Three things: the TLS context built from PEM files (`build_context`), the holder that a
reload swaps a new context into (`Certificates`: each new connection takes the context in
force when it was accepted, so an open connection keeps the certificate it began with), and
`TlsStream`, the stream an accepted TCP connection is wrapped in, shaped like the
`trio.SocketStream` that server/http.py reads.

A failed handshake is the client's business, not the server's: it is logged on one line
without a traceback (at debug when the client just went away, else at info), and a plain
HTTP request sent to the TLS port is answered 400 in plain HTTP, naming https.
"""

from __future__ import annotations

import json
import logging
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import trio

from router.errors import Problem, Where

logger = logging.getLogger(__name__)

ClientCertificates = Literal["none", "optional", "required"]

_VERIFY_MODES: dict[ClientCertificates, ssl.VerifyMode] = {
    "none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}
_PLAIN_HTTP_BODY = json.dumps(
    {"error": "this port speaks HTTPS: send the request to https:// instead"}).encode()
PLAIN_HTTP_ANSWER = (
    b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n"
    b"content-length: " + str(len(_PLAIN_HTTP_BODY)).encode() + b"\r\n"
    b"connection: close\r\n\r\n" + _PLAIN_HTTP_BODY)
"""What a client speaking plain HTTP to the TLS port reads: a 400, as nginx answers."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsFiles:
    """Where the server's certificate chain and key are (PEM), and how senders' own
    certificates are checked: against `client_ca`, asked for (`optional`: one that is sent
    must be valid) or demanded (`required`: a client without one fails the handshake)."""

    certificate: Path
    key: Path
    client_ca: Path | None = None
    client_certificates: ClientCertificates = "none"


class TlsFilesInvalid(Exception):
    """The files do not make a TLS context; `problem` names the file and the reason."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def build_context(files: TlsFiles) -> ssl.SSLContext:
    """A server context from the files (blocking: reads them; run it in a thread).

    Raises:
        TlsFilesInvalid: a file is missing or unreadable, holds no certificate, or the key
            is not the certificate's (or is encrypted: router has no one to ask for a
            passphrase).
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    try:
        context.load_cert_chain(files.certificate, files.key, password=_no_passphrase)
    except (OSError, ValueError) as error:
        reason = _reason(error)
        raise _invalid(files.certificate, "tls", "the certificate and key "
                       f"({files.certificate}, {files.key}) do not load: {reason}") from None
    if files.client_ca is not None:
        try:
            context.load_verify_locations(cafile=files.client_ca)
        except (OSError, ValueError) as error:
            raise _invalid(files.client_ca, "tls.client_ca", "the client CA does not load: "
                           f"{_reason(error)}") from None
    context.verify_mode = _VERIFY_MODES[files.client_certificates]
    return context


def _no_passphrase() -> bytes:
    raise ValueError("the key is encrypted with a passphrase, which router cannot ask for")


def _reason(error: Exception) -> str:
    if isinstance(error, ssl.SSLError):
        return str(error.reason or error.strerror or error).replace("_", " ").lower()
    if isinstance(error, OSError):
        return str(error.strerror or error)
    return str(error)


def _invalid(path: Path, field: str, message: str) -> TlsFilesInvalid:
    return TlsFilesInvalid(Problem(Where(str(path)), field, message))


class Certificates:
    """The context new connections are accepted with; `use` swaps it whole."""

    def __init__(self, context: ssl.SSLContext, files: TlsFiles) -> None:
        self.context = context
        self.files = files

    def current(self) -> ssl.SSLContext:
        return self.context

    def use(self, context: ssl.SSLContext, files: TlsFiles) -> None:
        self.context, self.files = context, files
        logger.info("TLS certificate loaded", extra={"certificate": str(files.certificate)})


async def load_context(files: TlsFiles) -> ssl.SSLContext:
    """`build_context` off the event loop: reading files must not stall the server."""
    return await trio.to_thread.run_sync(build_context, files)


class HandshakeFailed(Exception):
    """The TLS handshake did not complete; `answered` is the status of the plain HTTP
    answer sent instead (400 to a client that spoke HTTP), or None."""

    def __init__(self, answered: int | None = None) -> None:
        super().__init__("TLS handshake failed")
        self.answered = answered


class TlsStream(trio.abc.HalfCloseableStream):
    """TLS over one accepted TCP connection, with what server/http.py uses of a
    SocketStream: `socket` (the peer's address; the wake-up at shutdown) and `send_eof`.
    TLS has no half-close of its own; the TCP one still tells the client that no more
    answer is coming while its body is drained."""

    def __init__(self, transport: trio.SocketStream, context: ssl.SSLContext) -> None:
        self.transport = transport
        self.socket = transport.socket
        # https_compatible: a client that closes without close_notify is an ordinary EOF.
        self.tls = trio.SSLStream(transport, context, server_side=True, https_compatible=True)

    async def handshake(self, client: tuple[str, int] | None) -> None:
        """Complete the handshake, or log why not (one line, no traceback) and answer a
        client that spoke plain HTTP with PLAIN_HTTP_ANSWER, outside TLS.

        Raises:
            HandshakeFailed: always when the handshake did not complete.
        """
        try:
            await self.tls.do_handshake()
            return
        except (trio.BrokenResourceError, trio.ClosedResourceError) as error:
            cause = error.__cause__
            address = f"{client[0]}:{client[1]}" if client else "unknown"
            if isinstance(cause, ssl.SSLEOFError) or not (
                    isinstance(cause, ssl.SSLError) and cause.reason):
                # Health checks and port scanners connect and leave: not worth an INFO line.
                logger.debug("TLS handshake failed: the client closed the connection",
                             extra={"client": address})
                raise HandshakeFailed from None
            if cause.reason != "HTTP_REQUEST":
                logger.info("TLS handshake failed: %s", _reason(cause),
                            extra={"client": address})
                raise HandshakeFailed from None
            logger.info("TLS handshake failed: the client spoke plain HTTP (answered 400)",
                        extra={"client": address})
        await self.transport.send_all(PLAIN_HTTP_ANSWER)
        await self.transport.send_eof()
        raise HandshakeFailed(answered=400)

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self.tls.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.tls.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        data: bytes | bytearray = await self.tls.receive_some(max_bytes)
        return bytes(data)

    async def send_eof(self) -> None:
        await self.transport.send_eof()

    async def aclose(self) -> None:
        await self.tls.aclose()
