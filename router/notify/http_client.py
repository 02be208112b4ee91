"""router's own HTTP/1.1 client for plain-http receivers (room: notify.http_client; imports
notify.wire, redaction, errors; the trio and httptools libraries).

Why it exists: httpx costs about 1.8 ms of CPU a request, which let router page at most a
few hundred alerts a second on one core (issue 15); its receivers are usually a relay or a
webhook on the local network, over plain http. This client writes the request itself and
leaves the answer to httptools' response parser (llhttp, the parser under the server too):
the status line, headers, chunked and Content-Length bodies, 1xx interim answers, bodiless
204 and 304 and keep-alive are llhttp's to get right, and whatever it refuses (an invalid
header byte, a bad chunk) is a broken answer. transport.py chooses it for `http://` URLs
without user info when no proxy is set, and keeps httpx for the rest.
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult

import httptools
import trio

from router.notify.wire import HttpRequest, HttpResponse
from router.redaction import redact_urls

_STATUS_LINE = re.compile(rb"HTTP/1\.[01] \d{3}(?: [^\r\n]*)?\r?\n")
_NO_BODY = frozenset({204, 304})


class NoAnswer(Exception):
    """No response came back; the message says why, with any URL in it shown without its
    user info and query (an exception's text may quote the URL it failed on)."""

    def __init__(self, message: str) -> None:
        super().__init__(redact_urls(message))


class Closed(Exception):
    """The receiver closed the connection or broke the protocol; `partial` once it had
    answered something."""

    def __init__(self, message: str, *, partial: bool) -> None:
        super().__init__(message)
        self.partial = partial


class PlainClient:
    """HTTP/1.1 over trio streams: one request at a time on each connection, idle
    connections kept per host and port for `KEEP` seconds (at most `IDLE` of them), no
    redirects followed (as the httpx client). A kept connection the receiver closed
    meanwhile is replaced once, if it answered nothing."""

    KEEP = 5.0
    IDLE = 20
    LIMIT = 16 * 1024 * 1024
    """The longest head or body read; a longer answer is a failed send."""

    def __init__(self) -> None:
        self._idle: dict[tuple[str, int], list[tuple[trio.SocketStream, float]]] = {}

    @staticmethod
    def serves(url: SplitResult) -> bool:
        """Plain http without user info. (Requests are POST or PUT: never HEAD, whose
        answer llhttp could not be told has no body.)"""
        return url.scheme == "http" and not url.username

    async def aclose(self) -> None:
        for kept in self._idle.values():
            for stream, _ in kept:
                await stream.aclose()
        self._idle.clear()

    async def request(self, request: HttpRequest, url: SplitResult) -> HttpResponse:
        host, port = url.hostname or "", url.port or 80
        message = _encode(request, url)
        for _ in range(2):
            stream, reused = await self._connection(request.target, host, port)
            try:
                await stream.send_all(message)
                response, keep = await read_response(stream, self.LIMIT)
            except Closed as closed:
                await stream.aclose()
                if reused and not closed.partial:
                    continue  # the receiver closed the kept connection: once more
                raise NoAnswer(f"{request.target}: RemoteProtocolError: {closed}") from None
            except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as error:
                await stream.aclose()
                if reused:
                    continue
                raise NoAnswer(f"{request.target}: ReadError: {words(error)}") from None
            except BaseException:
                await stream.aclose()
                raise
            kept = self._idle.setdefault((host, port), [])
            if keep and len(kept) < self.IDLE:
                kept.append((stream, trio.current_time()))
            else:
                await stream.aclose()
            return response
        raise NoAnswer(f"{request.target}: RemoteProtocolError: the connection closed")

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
            raise NoAnswer(f"{target}: cannot connect: {words(error)}") from None


def _encode(request: HttpRequest, url: SplitResult) -> bytes:
    head = [f"{request.method} {url.path or '/'}{'?' + url.query if url.query else ''} "
            "HTTP/1.1", f"Host: {url.netloc}", "Accept: */*",
            f"Content-Length: {len(request.body)}"]
    head += [f"{name}: {value}" for name, value in request.headers.items()
             if name.lower() not in ("host", "content-length")]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + request.body


async def read_response(stream: trio.abc.ReceiveStream, limit: int
                        ) -> tuple[HttpResponse, bool]:
    """The answer to one request, and whether the connection may be used again."""
    answer = _Answer(limit)
    while not answer.done:
        data = await stream.receive_some(65536)
        if not data:
            answer.close()
            break
        answer.feed(data)
    return HttpResponse(status=answer.status, headers=answer.headers,
                        body=b"".join(answer.body)), answer.keep


class _Answer:
    """httptools' protocol object for one answer: llhttp calls back into it as it parses.
    An interim 1xx answer is read and dropped; the final one ends the reading (`done`)."""

    __slots__ = ("body", "body_size", "done", "head_complete", "head_size",
                 "headers", "keep", "limit", "parser", "received", "start", "status",
                 "too_long")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parser = httptools.HttpResponseParser(self)
        self.start = b""  # the first bytes received, to quote a bad status line
        self.received = 0  # bytes received while the head was incomplete
        self.head_size = 0  # the header lines' size
        self.head_complete = False
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []
        self.body_size = 0
        self.done = False
        self.keep = False
        self.too_long = False

    def feed(self, data: bytes | bytearray) -> None:
        if len(self.start) < 200:
            self.start += data[:200]
        if not self.head_complete:
            self.received += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            raise Closed("an upgrade no one asked for", partial=True) from None
        except httptools.HttpParserError as error:
            if self.too_long:
                raise Closed("the answer is too long", partial=True) from None
            if not self.done:
                raise Closed(self._broken(error), partial=True) from None
            self.keep = False  # what followed the answer was not HTTP
        if self.received > self.limit and not self.head_complete:
            raise Closed("the answer is too long", partial=True)

    def close(self) -> None:
        """The receiver closed the connection: the end of a body delimited by close, or an
        answer cut short."""
        if not self.start:
            raise Closed("the connection closed", partial=False)
        if not self.head_complete:
            raise Closed("the connection closed", partial=True)
        if "content-length" in self.headers or "chunked" in self.headers.get(
                "transfer-encoding", "").lower():
            raise Closed("the connection closed mid-body", partial=True)
        self.done, self.keep = True, False

    def _broken(self, error: Exception) -> str:
        if _STATUS_LINE.match(self.start) is None:
            line = self.start.split(b"\r\n")[0].decode("latin-1")
            return f"bad status line {line[:80]!r}"
        return f"malformed answer: {words(error)}"

    def on_message_begin(self) -> None:
        if self.done:  # bytes came after the answer: the connection is not reused
            raise _Stop

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head_size += len(name) + len(value) + 4  # the line as sent, roughly
        if self.head_size > self.limit:
            self.too_long = True
            raise _Stop
        key, text = name.decode("latin-1").lower(), value.decode("latin-1")
        self.headers[key] = f"{self.headers[key]}, {text}" if key in self.headers else text

    def on_headers_complete(self) -> None:
        self.head_complete = True
        self.status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self.body_size += len(body)
        if self.body_size > self.limit:
            self.too_long = True
            raise _Stop
        self.body.append(body)

    def on_message_complete(self) -> None:
        if 100 <= self.status < 200:  # 100 Continue and the like: the answer follows
            self.headers, self.head_complete = {}, False
            self.received = self.head_size = 0
            return
        if self.status in _NO_BODY:
            self.body = []
        self.done, self.keep = True, self.parser.should_keep_alive()


class _Stop(Exception):
    """Raised out of a callback to stop llhttp; the protocol object says why."""


def words(error: BaseException) -> str:
    return str(error) or type(error).__name__
