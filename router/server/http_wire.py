"""HTTP/1.1 on the wire for server/http.py: requests parsed by httptools (llhttp), answers
written as bytes (room: server; imports errors, server.routes; the httptools library).

No sockets and no trio: `RequestReader` is fed what a connection receives and keeps, in
order, the requests it completed (`ready`) and, once the connection cannot be read any
further, the answer to end it with (`abort`). llhttp calls back into it as it parses; the
limits that need no clock are checked there, as early as the bytes allow: the head's size
(431), the body's declared and received size (413), a route that wants no body (404, 405),
an upgrade with a body and an HTTP version other than 1.0 and 1.1. `encode` writes an
answer with Content-Length, Date and Connection, refusing one the wire cannot carry.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Mapping
from email.utils import formatdate
from http import HTTPStatus
from typing import NoReturn

import httptools

from router.server.routes import Handler, Response, Routes, split_target

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_STATUS_LINES = {status.value: f"HTTP/1.1 {status.value} {status.phrase}\r\n".encode("ascii")
                 for status in HTTPStatus}
_BODILESS = frozenset({204, 304})  # no body and no Content-Length (RFC 9110 8.6)
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_UNSAFE = re.compile(r"[\r\n\0]")
_HEADER_LINES: dict[tuple[str, str], bytes] = {}  # checked and encoded once (bounded below)
_HEADER_LINES_KEPT = 512
_CLOSE = b"connection: close\r\n"
_KEEP_ALIVE = b"connection: keep-alive\r\n"  # what an HTTP/1.0 client needs to keep it
_WHITESPACE = (" ", "\t")
_JOIN_BELOW = 16384  # a larger body is sent after its head, not copied onto it


class InvalidResponse(Exception):
    """A handler's answer that HTTP cannot carry (a 204 with a body, a header with CR LF)."""


class _Refused(Exception):
    """Raised out of a callback to stop llhttp; `RequestReader.abort` holds the answer."""


class Pending:
    """One request read whole, waiting for its answer (pipelined ones queue in order)."""

    __slots__ = ("body", "found", "head_only", "headers", "keep_alive", "keep_alive_header",
                 "method", "path", "query")

    def __init__(self, method: str, path: str, query: Mapping[str, tuple[str, ...]],
                 headers: dict[str, str], found: tuple[Handler, Mapping[str, str]] | Response,
                 keep_alive: bool, keep_alive_header: bool) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.found = found  # the handler and its params, or the 404/405 to answer
        self.keep_alive = keep_alive
        self.keep_alive_header = keep_alive_header  # HTTP/1.0 asked for keep-alive
        self.head_only = method == "HEAD"
        self.body = b""


class RequestReader:
    """httptools' protocol object for one connection: the parse state of the request that
    is arriving, the requests read whole, and the answer that ends the connection early."""

    __slots__ = ("abort", "body", "body_size", "chunk", "completed", "current", "failed",
                 "head_done", "head_fed", "headers", "in_message", "max_body", "max_head",
                 "parser", "ready", "routes", "uncounted", "upgraded", "url", "wants_continue")

    def __init__(self, routes: Routes, *, max_head: int, max_body: int) -> None:
        self.routes = routes
        self.max_head = max_head
        self.max_body = max_body
        self.parser = httptools.HttpRequestParser(self)
        self.ready: deque[Pending] = deque()
        self.abort: Response | None = None  # answer this and close: nothing more is read
        self.failed = False  # llhttp refused the bytes (the client may still be sending)
        self.upgraded = False  # what follows an upgrade request is not HTTP: stop reading
        self.in_message = False  # a request has begun and is not complete
        self.head_done = False  # ... and its head is read: its body is arriving
        self.completed = False  # a request completed in the current `feed`
        self.wants_continue = False  # the arriving request waits for `100 Continue`
        self.head_fed = 0  # bytes received while the arriving request's head was incomplete
        self.current: Pending | None = None
        self.url = b""
        self.headers: dict[str, str] = {}
        self.chunk = 0  # the size of what `feed` is parsing
        self.uncounted = False  # part of the head came with an earlier request: count it
        self.body: list[bytes] = []
        self.body_size = 0

    def feed(self, data: bytes) -> None:
        """Parse what the client sent; complete requests go to `ready`, a refusal to
        `abort`. Memory stays bounded: a head is refused once the bytes received for it
        pass the limit, even before llhttp has a header to show."""
        self.completed = False
        self.chunk = len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self.upgraded = True
        except httptools.HttpParserError as error:
            self.failed = True
            if self.abort is None:
                self.abort = Response.error(400, f"malformed request: {error}")
            return
        if self.in_message and not self.head_done:
            if self.completed:  # begun after a request in this chunk: count from the next
                self.uncounted = True
            else:
                self.head_fed += len(data)
            if self.head_fed > self.max_head:
                self.failed = True
                self.abort = self._head_too_large()

    def _refuse(self, response: Response) -> NoReturn:
        self.abort = response
        raise _Refused

    def _head_size(self) -> int:
        """The head as llhttp showed it: request target, names and values, and ": " and
        CR LF for each (only counted when the bytes received for it pass the limit)."""
        return len(self.url) + sum(len(name) + len(value) + 4
                                   for name, value in self.headers.items())

    def _head_too_large(self) -> Response:
        return Response.error(431, f"request head is over {self.max_head} bytes")

    # llhttp's callbacks, in the order it makes them.

    def on_message_begin(self) -> None:
        self.in_message = True
        self.url = b""
        self.headers = {}
        self.head_fed = 0
        self.uncounted = False
        self.body = []
        self.body_size = 0

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        if text.endswith(_WHITESPACE):  # llhttp keeps trailing whitespace; HTTP does not
            text = text.rstrip(" \t")
        headers = self.headers
        if key in headers:
            headers[key] = f"{headers[key]}, {text}"
        else:
            headers[key] = text

    def on_headers_complete(self) -> None:
        """Route and size the request from its head, before any of its body is read."""
        self.head_done = True
        parser = self.parser
        headers = self.headers
        if ((self.uncounted or self.head_fed + self.chunk > self.max_head)
                and self._head_size() > self.max_head):
            self._refuse(self._head_too_large())
        keep_alive = parser.should_keep_alive()
        # llhttp takes 0.9, 1.0, 1.1 and 2.0, and keeps only 1.1 alive without a Connection
        # header: then the version is known without asking (get_http_version formats it).
        version = "1.1" if keep_alive and "connection" not in headers else (
            parser.get_http_version())
        if version != "1.1":
            if version != "1.0":
                self._refuse(Response.error(  # 400, not 505: the client's fault, not ours
                    400, f"malformed request: HTTP/{version} is not supported: use HTTP/1.1"))
        elif "host" not in headers:  # HTTP/1.1 requires it (RFC 9112 3.2); 1.0 did not
            self._refuse(Response.error(400, "malformed request: no Host header"))
        length = headers.get("content-length")  # llhttp checked its digits and repeats
        declares_body = "transfer-encoding" in headers or (length is not None and length != "0")
        if parser.should_upgrade():  # Upgrade (or CONNECT): answered as HTTP, then closed
            if declares_body:
                self._refuse(Response.error(400, "malformed request: an upgrade request "
                                            "cannot carry a body here"))
            keep_alive = False
        if length is not None and int(length) > self.max_body:
            self._refuse(Response.error(413, f"request body is over {self.max_body} bytes"))
        method = parser.get_method().decode("ascii")
        url = self.url
        query: Mapping[str, tuple[str, ...]]
        try:
            if url[:1] == b"/" and b"?" not in url and b"%" not in url:  # the usual target
                path, query = url.decode("ascii"), {}
            else:
                path, query = split_target(url)
        except UnicodeDecodeError:
            self._refuse(Response.error(400, "request path is not valid UTF-8"))
        except ValueError as error:
            self._refuse(Response.error(400, f"malformed request: bad target: {error}"))
        found = self.routes.find(method, path)
        if declares_body and type(found) is Response:
            self._refuse(found)  # do not read a body nobody wants
        if "expect" in headers:
            self.wants_continue = (declares_body and version == "1.1"
                                   and headers["expect"].lower() == "100-continue")
        self.current = Pending(method, path, query, headers, found, keep_alive,
                               keep_alive and version == "1.0")
        self.headers = {}  # a chunked body's trailer fields land here, and are dropped

    def on_body(self, body: bytes) -> None:
        self.wants_continue = False  # the client did not wait
        self.body_size += len(body)
        if self.body_size > self.max_body:
            self._refuse(Response.error(413, f"request body is over {self.max_body} bytes"))
        self.body.append(body)

    def on_message_complete(self) -> None:
        pending = self.current
        assert pending is not None  # llhttp completes only a message whose head it read
        body = self.body
        if body:
            pending.body = body[0] if len(body) == 1 else b"".join(body)
        self.ready.append(pending)
        self.current = None
        self.in_message = self.head_done = self.wants_continue = False
        self.completed = True


def encode(response: Response, date: bytes, close: bool, keep_alive_header: bool = False,
           head_only: bool = False) -> tuple[bytes, bytes]:
    """The answer's bytes in two parts to send in turn: the head (status line and headers,
    with Content-Length, Date and Connection) with the body joined on when it is small, and
    a large body on its own, so it is not copied. No body for HEAD.

    Raises:
        InvalidResponse: a status outside 200-599, a body on a 204 or 304, or a header
            whose name is not a token or whose value holds CR, LF or NUL.
    """
    status = response.status
    line = _STATUS_LINES.get(status)
    if line is None:
        if not 200 <= status <= 599:
            raise InvalidResponse(f"status {status} is not a final answer")
        line = b"HTTP/1.1 %d \r\n" % status
    parts = [line]
    for pair in response.headers:
        encoded = _HEADER_LINES.get(pair)
        parts.append(encoded if encoded is not None else _header_line(pair))
    parts.append(date)
    body = response.body
    if status not in _BODILESS:
        parts.append(b"content-length: %d\r\n" % len(body))
    elif body:
        raise InvalidResponse(f"a {status} answer cannot have a body")
    if close:
        parts.append(_CLOSE)
    elif keep_alive_header:
        parts.append(_KEEP_ALIVE)
    parts.append(b"\r\n")
    if head_only or not body:
        return b"".join(parts), b""
    if len(body) > _JOIN_BELOW:
        return b"".join(parts), body
    parts.append(body)
    return b"".join(parts), b""


def _header_line(pair: tuple[str, str]) -> bytes:
    name, value = pair
    if not _TOKEN.fullmatch(name) or _UNSAFE.search(value):
        raise InvalidResponse(f"header {name!r} cannot be sent")
    try:
        encoded = f"{name}: {value}\r\n".encode("latin-1")
    except UnicodeEncodeError:
        raise InvalidResponse(f"header {name!r} is not Latin-1") from None
    if len(_HEADER_LINES) < _HEADER_LINES_KEPT and len(value) < 256:
        _HEADER_LINES[pair] = encoded
    return encoded


class DateLine:
    """The Date header, formatted once a second (wall time is HTTP's, not the clock's)."""

    __slots__ = ("line", "second")

    def __init__(self) -> None:
        self.second = 0
        self.line = b""

    def current(self) -> bytes:
        second = int(time.time())
        if second != self.second:
            self.second = second
            self.line = f"date: {formatdate(second, usegmt=True)}\r\n".encode("ascii")
        return self.line
