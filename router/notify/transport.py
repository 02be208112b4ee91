"""The only I/O of delivery (room: notify.transport; imports notify.wire, notify.smtp, errors).

Performs one Request and reports what came back: a Response for the channel module to
classify, or, when no answer came at all, an Outcome saying why. Every way a send can fail
without an answer (refused connection, a name that does not resolve, a timeout, a dropped
connection, a TLS failure) is worth trying again: the receiver may be back before the
notification's deadline, and giving up early loses a page.

HTTPS goes through httpx. A plain `http://` URL without user info, when no proxy is set in
the environment, goes over `_Plain`: HTTP/1.1 on kept-alive trio streams, about a tenth of
httpx's CPU per request (issue 15: at 1.8 ms of CPU a page, httpx alone let router page at
most a few hundred alerts a second on one core, its receivers usually being a relay or a
webhook on the local network).
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import time
import urllib.request
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

import httpx
import trio

from router.errors import Outcome
from router.notify import smtp
from router.notify.wire import (
    HttpRequest,
    HttpResponse,
    LogLine,
    Request,
    Response,
    SmtpMessage,
    SmtpReply,
)
from router.redaction import redact_urls

_LOG_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
               "error": logging.ERROR}
channel_logger = logging.getLogger("router.notify.log")


@dataclass(frozen=True, slots=True)
class Sent:
    """What one send came to: an answer to classify, or an outcome when there was none."""

    response: Response
    outcome: Outcome | None
    latency_ms: float

    @property
    def status_code(self) -> int | None:
        """The HTTP status, or the SMTP server's final reply code (250 when accepted)."""
        if isinstance(self.response, HttpResponse):
            return self.response.status
        if isinstance(self.response, SmtpReply):
            return self.response.code
        return None


class Transport:
    """Sends requests; one shared httpx client so connections to a receiver are reused."""

    def __init__(self, client: httpx.AsyncClient | None = None) -> None:
        self._client = client or httpx.AsyncClient(follow_redirects=False)
        proxied = {"http", "all"} & set(urllib.request.getproxies())
        self._plain = None if client is not None or proxied else _Plain()

    async def aclose(self) -> None:
        await self._client.aclose()
        if self._plain is not None:
            await self._plain.aclose()

    async def send(self, request: Request) -> Sent:
        started = time.perf_counter()
        try:
            if isinstance(request, HttpRequest):
                response: Response = await self._http(request)
            elif isinstance(request, SmtpMessage):
                response = await self._smtp(request)
            else:
                self._log(request)
                response = None
        except _NoAnswer as no_answer:
            return Sent(None, Outcome.retry(str(no_answer)), _since(started))
        return Sent(response, None, _since(started))

    async def _http(self, request: HttpRequest) -> HttpResponse:
        seconds = request.timeout.total_seconds()
        url = urlsplit(request.url)
        if self._plain is not None and url.scheme == "http" and not url.username:
            with trio.move_on_after(seconds):
                return await self._plain.request(request, url)
            raise _NoAnswer(f"{request.target}: no answer within {seconds:g}s")
        try:
            answer = await self._client.request(
                request.method, request.url, content=request.body,
                headers=dict(request.headers), timeout=seconds)
        except httpx.TimeoutException:
            raise _NoAnswer(f"{request.target}: no answer within {seconds:g}s") from None
        except httpx.ConnectError as error:
            raise _NoAnswer(f"{request.target}: cannot connect: {_words(error)}") from None
        except (httpx.TransportError, httpx.InvalidURL) as error:
            raise _NoAnswer(f"{request.target}: {type(error).__name__}: {_words(error)}"
                            ) from None
        return HttpResponse(status=answer.status_code,
                            headers={name.lower(): value for name, value in answer.headers.items()},
                            body=answer.content)

    async def _smtp(self, request: SmtpMessage) -> Response:
        seconds = request.timeout.total_seconds()
        try:
            # smtplib blocks; the thread is abandoned on cancel so shutdown is never held up
            # by a hung mail server (its socket timeout ends the thread soon after).
            with trio.fail_after(seconds + 5):
                return await trio.to_thread.run_sync(smtp.send, request,
                                                     abandon_on_cancel=True)
        except trio.TooSlowError:
            raise _NoAnswer(f"{request.target}: no answer within {seconds:g}s") from None
        except ssl.SSLError as error:
            raise _NoAnswer(f"{request.target}: TLS failed: {_words(error)}") from None
        except (OSError, smtplib.SMTPException) as error:
            raise _NoAnswer(f"{request.target}: {type(error).__name__}: {_words(error)}"
                            ) from None

    def _log(self, request: LogLine) -> None:
        channel_logger.log(_LOG_LEVELS[request.level], "%s", request.text)


class _Plain:
    """HTTP/1.1 over trio streams for plain-http receivers: one request at a time on each
    connection, idle connections kept per host and port for `KEEP` seconds (at most
    `IDLE` of them), no redirects followed (as the httpx client). A kept connection the
    receiver closed meanwhile is replaced once, if it answered nothing."""

    KEEP = 5.0
    IDLE = 20
    LIMIT = 16 * 1024 * 1024
    """The longest head or body read; a longer answer is a failed send."""

    def __init__(self) -> None:
        self._idle: dict[tuple[str, int], list[tuple[trio.SocketStream, float]]] = {}

    async def aclose(self) -> None:
        for kept in self._idle.values():
            for stream, _ in kept:
                await stream.aclose()
        self._idle.clear()

    async def request(self, request: HttpRequest, url: SplitResult) -> HttpResponse:
        host, port = url.hostname or "", url.port or 80
        head = [f"{request.method} {url.path or '/'}{'?' + url.query if url.query else ''} "
                "HTTP/1.1", f"Host: {url.netloc}", "Accept: */*",
                f"Content-Length: {len(request.body)}"]
        head += [f"{name}: {value}" for name, value in request.headers.items()
                 if name.lower() not in ("host", "content-length")]
        message = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + request.body
        for _ in range(2):
            stream, reused = await self._connection(request.target, host, port)
            try:
                await stream.send_all(message)
                answer = await _read_response(stream)
            except _Closed as closed:
                await stream.aclose()
                if reused and not closed.partial:
                    continue  # the receiver closed the kept connection: once more
                raise _NoAnswer(f"{request.target}: RemoteProtocolError: {closed}") from None
            except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as error:
                await stream.aclose()
                if reused:
                    continue
                raise _NoAnswer(f"{request.target}: ReadError: {_words(error)}") from None
            except BaseException:
                await stream.aclose()
                raise
            response, keep = answer
            kept = self._idle.setdefault((host, port), [])
            if keep and len(kept) < self.IDLE:
                kept.append((stream, trio.current_time()))
            else:
                await stream.aclose()
            return response
        raise _NoAnswer(f"{request.target}: RemoteProtocolError: the connection closed")

    async def _connection(self, target: str, host: str, port: int
                          ) -> tuple[trio.SocketStream, bool]:
        kept = self._idle.get((host, port), [])
        now = trio.current_time()
        while kept:
            stream, since = kept.pop()
            if now - since < self.KEEP:
                return stream, True
            await stream.aclose()
        try:
            return await trio.open_tcp_stream(host, port), False
        except OSError as error:
            raise _NoAnswer(f"{target}: cannot connect: {_words(error)}") from None


class _Closed(Exception):
    """The receiver closed the connection or broke the protocol; `partial` once it had
    answered something."""

    def __init__(self, message: str, *, partial: bool) -> None:
        super().__init__(message)
        self.partial = partial


class _Reader:
    """Buffered reads from a stream."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = bytearray()
        self.received = False

    async def fill(self) -> bool:
        data = await self.stream.receive_some(65536)
        if not data:
            return False
        self.received = True
        self.buffer += data
        if len(self.buffer) > _Plain.LIMIT:
            raise _Closed("the answer is too long", partial=True)
        return True

    async def until(self, mark: bytes) -> bytes:
        while (end := self.buffer.find(mark)) < 0:
            if not await self.fill():
                raise _Closed("the connection closed", partial=self.received)
        found = bytes(self.buffer[:end])
        del self.buffer[:end + len(mark)]
        return found

    async def exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            if not await self.fill():
                raise _Closed("the connection closed mid-body", partial=True)
        found = bytes(self.buffer[:size])
        del self.buffer[:size]
        return found


async def _read_response(stream: trio.SocketStream) -> tuple[HttpResponse, bool]:
    """The answer to one request, and whether the connection may be used again."""
    reader = _Reader(stream)
    while True:
        lines = (await reader.until(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        version, _, rest = lines[0].partition(" ")
        code = rest[:3]
        if not (version.startswith("HTTP/1.") and code.isdigit()):
            raise _Closed(f"bad status line {lines[0][:80]!r}", partial=True)
        if not code.startswith("1"):  # 100 Continue and the like: the answer follows
            break
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon:
            raise _Closed(f"bad header line {line[:80]!r}", partial=True)
        name, value = name.strip().lower(), value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    status = int(code)
    keep = version != "HTTP/1.0" and "close" not in headers.get("connection", "").lower()
    if status in (204, 304):
        body = b""
    elif "chunked" in headers.get("transfer-encoding", "").lower():
        body = await _chunked(reader)
    elif "content-length" in headers:
        if not headers["content-length"].isdigit():
            raise _Closed("bad Content-Length", partial=True)
        body = await reader.exactly(int(headers["content-length"]))
    else:  # the body runs until the receiver closes
        while await reader.fill():
            pass
        body, keep = bytes(reader.buffer), False
    return HttpResponse(status=status, headers=headers, body=body), keep and not reader.buffer


async def _chunked(reader: _Reader) -> bytes:
    body = bytearray()
    while True:
        size_line = (await reader.until(b"\r\n")).split(b";")[0].strip()
        try:
            size = int(size_line, 16)
        except ValueError:
            raise _Closed("bad chunk size", partial=True) from None
        if size == 0:
            while await reader.until(b"\r\n"):  # trailers, up to the empty line
                pass
            return bytes(body)
        body += await reader.exactly(size)
        await reader.exactly(2)
        if len(body) > _Plain.LIMIT:
            raise _Closed("the answer is too long", partial=True)


class _NoAnswer(Exception):
    """No response came back; the message says why, with any URL in it shown without its
    user info and query (an exception's text may quote the URL it failed on)."""

    def __init__(self, message: str) -> None:
        super().__init__(redact_urls(message))


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _words(error: BaseException) -> str:
    return str(error) or type(error).__name__
