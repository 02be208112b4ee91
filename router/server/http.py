"""HTTP/1.1 on h11 over trio streams (room: server; imports router.errors, server.routes).

Generic: a route table, request limits, keep-alive and pipelining, `Expect: 100-continue`,
graceful shutdown. It knows nothing about alerts; `daemon.py` wires routes to the engine.

Every error a client can cause is answered as JSON `{"error": "<message>"}`, and a handler
that raises is answered 500 and logged: the server never crashes and never shows a traceback.
A store that cannot write (a full disk) is answered 503 with Retry-After, and not logged here:
the store logs it, once per cause every ten seconds.
Excess connections (over `Limits.max_connections`) wait in the kernel's accept backlog: the
accept loop takes the next one only when a slot frees, so memory stays bounded and no sender
is refused outright (alert senders retry on refusal, but a short wait is cheaper).
"""

from __future__ import annotations

import errno
import logging
import math
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from email.utils import formatdate
from http import HTTPStatus

import h11
import trio

from router.errors import BadRequest, StoreUnavailable
from router.server.linger import linger
from router.server.routes import Handler, Request, Response, Routes, header_map, split_target
from router.server.tls import HandshakeFailed, TlsStream

__all__ = [
    "Handler", "Limits", "Request", "Response", "Routes", "bound_port", "open_listeners",
    "serve_http", "serve_listeners",
]

logger = logging.getLogger(__name__)

_RECEIVE_SIZE = 65536
_ACCEPT_BACKOFF = 0.1  # seconds to wait when out of file descriptors before accepting again
_CAPACITY_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS})
_REASONS = {status.value: status.phrase.encode("ascii") for status in HTTPStatus}
_BODILESS = frozenset({204, 304})  # no body and no Content-Length (RFC 9110 8.6)
_CONTINUE = h11.InformationalResponse(status_code=100, headers=[], reason=b"Continue")


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """What one client may cost the server; every wait a client can cause has a deadline here."""

    max_body_bytes: int = 1024 * 1024
    max_header_bytes: int = 16 * 1024
    max_connections: int = 1000
    header_timeout: timedelta = timedelta(seconds=10)  # first byte (or accept) -> whole head
    body_timeout: timedelta = timedelta(seconds=30)  # start of body -> whole body
    keep_alive_timeout: timedelta = timedelta(seconds=60)  # idle between requests
    handler_timeout: timedelta = timedelta(seconds=30)  # then 503
    send_timeout: timedelta = timedelta(seconds=10)  # a client that does not read is dropped
    # After an error answer, read and discard what the client still sends (server/linger.py,
    # as nginx's lingering_time and lingering_timeout): at most this long in all ...
    linger: timedelta = timedelta(seconds=30)
    linger_idle: timedelta = timedelta(seconds=5)  # ... and until it pauses this long
    grace: timedelta = timedelta(seconds=10)  # in-flight requests at shutdown


_INTERNAL_ERROR = Response.error(500, "internal error")
_HEAD_TIMEOUT = Response.error(408, "request head not received in time")
_BODY_TIMEOUT = Response.error(408, "request body not received in time")
_HANDLER_TIMEOUT = Response.error(503, "request not handled in time")


class _Abort(Exception):
    """Answer this and close the connection: the request cannot be read any further."""

    def __init__(self, response: Response) -> None:
        self.response = response


class _Gone(Exception):
    """The client stopped reading; drop the connection without an answer."""


async def open_listeners(host: str, port: int) -> list[trio.SocketListener]:
    """Bound, listening TCP sockets; port 0 picks a free port (see `bound_port`)."""
    return await trio.open_tcp_listeners(port, host=host)


def bound_port(listeners: Sequence[trio.SocketListener]) -> int:
    """The port the first listener is bound to."""
    port: int = listeners[0].socket.getsockname()[1]
    return port


async def serve_http(
    routes: Routes, *, host: str = "127.0.0.1", port: int, limits: Limits = Limits(),
    shutdown: trio.Event | None = None,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Listen on host:port and serve until `shutdown` is set; reports the bound port."""
    listeners = await open_listeners(host, port)
    task_status.started(bound_port(listeners))
    await serve_listeners(routes, listeners, limits=limits, shutdown=shutdown)


async def serve_listeners(
    routes: Routes, listeners: Sequence[trio.SocketListener], *, limits: Limits = Limits(),
    shutdown: trio.Event | None = None, on_response: Callable[[int], None] | None = None,
    tls: Callable[[], ssl.SSLContext] | None = None,
    task_status: trio.TaskStatus[Sequence[trio.SocketListener]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve on listeners (pre-opened, so socket activation can hand them in) and close them.

    When `shutdown` is set: stop accepting, close idle keep-alive connections, give in-flight
    requests `limits.grace` to finish (their answers carry `Connection: close`), then return.
    `on_response` is told the status of every answer, refusals by the server included
    (metrics count them). With `tls`, every connection speaks HTTPS with the context it
    returns at accept (a reload's new certificate serves the connections after it).
    """
    server = _Server(routes, limits, on_response, tls)
    stop = trio.Event() if shutdown is None else shutdown
    try:
        async with trio.open_nursery() as watch:
            watch.start_soon(server.enforce_deadlines)
            async with trio.open_nursery() as connections:
                async with trio.open_nursery() as acceptors:
                    for listener in listeners:
                        acceptors.start_soon(server.accept_forever, listener, connections)
                    task_status.started(listeners)
                    await stop.wait()
                    acceptors.cancel_scope.cancel()
                await _close_all(listeners)
                server.begin_shutdown()
                connections.cancel_scope.deadline = trio.current_time() + server.grace
            watch.cancel_scope.cancel()
    finally:
        await _close_all(listeners)  # when cancelled rather than shut down


async def _close_all(listeners: Sequence[trio.SocketListener]) -> None:
    for listener in listeners:
        await trio.aclose_forcefully(listener)


class _Server:
    """State shared by the connections of one `serve_listeners` call."""

    def __init__(self, routes: Routes, limits: Limits,
                 on_response: Callable[[int], None] | None = None,
                 tls: Callable[[], ssl.SSLContext] | None = None) -> None:
        self.routes = routes
        self.tls = tls
        self.limits = limits
        self.on_response = on_response or _ignore
        self.header_timeout = limits.header_timeout.total_seconds()
        self.body_timeout = limits.body_timeout.total_seconds()
        self.keep_alive_timeout = limits.keep_alive_timeout.total_seconds()
        self.handler_timeout = limits.handler_timeout.total_seconds()
        self.send_timeout = limits.send_timeout.total_seconds()
        self.grace = limits.grace.total_seconds()
        # Deadlines are checked this often, so a timeout fires at most 5% late.
        self.tick = min(self.header_timeout, self.body_timeout, self.keep_alive_timeout,
                        self.handler_timeout, self.send_timeout) / 20
        self.connections: set[_Connection] = set()
        self.slots = trio.Semaphore(limits.max_connections)
        self.idle: set[_Connection] = set()  # waiting for a next request; woken at shutdown
        self.draining = False
        self._date_second = 0
        self._date = ""

    def begin_shutdown(self) -> None:
        self.draining = True
        for connection in self.idle:
            # Wakes only a connection blocked in its idle receive; one whose request bytes
            # already arrived is not waiting, so it is not disturbed (a cancel would be).
            trio.lowlevel.notify_closing(connection.stream.socket)

    def date(self) -> str:
        """The Date header, formatted once a second (wall time is HTTP's, not the clock's)."""
        second = int(time.time())
        if second != self._date_second:
            self._date_second = second
            self._date = formatdate(second, usegmt=True)
        return self._date

    async def enforce_deadlines(self) -> None:
        """Cancel each connection whose phase deadline has passed. One scan per tick keeps
        the per-request cost of a deadline to a float store (a trio deadline per phase cost
        ~10% of a request's instructions)."""
        while True:
            await trio.sleep(self.tick)
            now = trio.current_time()
            for connection in self.connections:
                if connection.deadline <= now:
                    connection.watchdog.cancel()

    async def accept_forever(self, listener: trio.SocketListener, nursery: trio.Nursery) -> None:
        while True:
            await self.slots.acquire()  # at max_connections, the rest wait in the backlog
            try:
                stream = await listener.accept()
            except OSError as exc:
                self.slots.release()
                if exc.errno not in _CAPACITY_ERRNOS:
                    raise
                logger.error("accept failed, retrying: %s", exc)
                await trio.sleep(_ACCEPT_BACKOFF)
                continue
            except BaseException:
                self.slots.release()
                raise
            nursery.start_soon(self._run_connection, stream)

    async def _run_connection(self, stream: trio.SocketStream) -> None:
        try:
            secured = stream if self.tls is None else TlsStream(stream, self.tls())
            await _Connection(self, secured).run()
        except Exception:
            logger.exception("connection failed")
        finally:
            self.slots.release()


class _Connection:
    """One client connection: requests in turn (pipelined ones queue in h11's buffer).

    One cancel scope, the watchdog, covers the whole connection; each phase sets `deadline`
    and names what to answer if it passes (every timeout ends the connection), and
    `_Server.enforce_deadlines` cancels the watchdog once the deadline is behind it.
    """

    __slots__ = ("client", "conn", "deadline", "head_only", "on_timeout", "request", "server",
                 "stream", "watchdog")

    def __init__(self, server: _Server, stream: trio.SocketStream | TlsStream) -> None:
        self.server = server
        self.stream = stream
        self.conn = h11.Connection(
            h11.SERVER, max_incomplete_event_size=server.limits.max_header_bytes)
        self.watchdog = trio.CancelScope()
        self.deadline = math.inf
        self.on_timeout: Response | None = None  # what to answer when the watchdog fires
        self.head_only = False  # answering HEAD: headers as for GET, no body
        self.request: Request | None = None  # in the handler, for the timeout log line
        try:
            peer = stream.socket.getpeername()
            self.client: tuple[str, int] | None = (str(peer[0]), int(peer[1]))
        except (OSError, TypeError, IndexError):
            self.client = None

    async def run(self) -> None:
        self.server.connections.add(self)
        try:
            response = await self._serve_watched()
            if response is not None:
                await self._abort(response)
        except (_Gone, trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            self.server.connections.discard(self)
            await trio.aclose_forcefully(self.stream)

    def _arm(self, timeout: float, on_timeout: Response | None) -> None:
        self.deadline = trio.current_time() + timeout
        self.on_timeout = on_timeout

    async def _serve_watched(self) -> Response | None:
        """Serve requests; the answer to end the connection with, or None to just close."""
        with self.watchdog:
            try:
                if isinstance(self.stream, TlsStream) and not await self._handshake(self.stream):
                    return None
                await self._serve()
            except h11.RemoteProtocolError as exc:
                return self._protocol_error(exc)
            except _Abort as abort:
                return abort.response
            return None
        if self.on_timeout is _HANDLER_TIMEOUT and self.request is not None:
            logger.error("handler timed out: %s %s", self.request.method, self.request.path)
        return self.on_timeout

    async def _handshake(self, stream: TlsStream) -> bool:
        """TLS first, within header_timeout: a client that never finishes it is dropped."""
        self._arm(self.server.header_timeout, None)
        try:
            await stream.handshake(self.client)
        except HandshakeFailed as failed:
            if failed.answered is not None:
                self.server.on_response(failed.answered)
            return False
        return True

    async def _serve(self) -> None:
        conn = self.conn
        first = True
        while await self._wait_request(first):
            await self._handle()
            if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                return
            conn.start_next_cycle()
            first = False

    def _protocol_error(self, exc: h11.RemoteProtocolError) -> Response:
        if exc.error_status_hint == 431:
            limit = self.server.limits.max_header_bytes
            return Response.error(431, f"request head is over {limit} bytes")
        return Response.error(exc.error_status_hint, f"malformed request: {exc}")

    async def _wait_request(self, first: bool) -> bool:
        """Wait for the first bytes of the next request (or find them pipelined already).
        False when the client closed, idled out, or the server is draining."""
        conn = self.conn
        if conn.trailing_data[0]:
            return True
        server = self.server
        if server.draining:
            return False
        if first:  # a fresh connection gets header_timeout from accept, then a 408
            self._arm(server.header_timeout, _HEAD_TIMEOUT)
        else:
            self._arm(server.keep_alive_timeout, None)
        server.idle.add(self)
        try:
            data = await self.stream.receive_some(_RECEIVE_SIZE)
        except trio.ClosedResourceError:
            if server.draining:
                return False  # woken by begin_shutdown
            raise
        finally:
            server.idle.discard(self)
        conn.receive_data(data)
        return bool(data)

    async def _receive_more(self, allowance: float, on_timeout: Response) -> None:
        """Feed h11 more bytes. A phase's deadline is armed at its first wait, so a request
        that arrives whole (the usual case) arms none."""
        if self.on_timeout is not on_timeout:
            self._arm(allowance, on_timeout)
        self.conn.receive_data(await self.stream.receive_some(_RECEIVE_SIZE))

    async def _handle(self) -> None:
        conn = self.conn
        head = conn.next_event()
        while head is h11.NEED_DATA:
            await self._receive_more(self.server.header_timeout, _HEAD_TIMEOUT)
            head = conn.next_event()
        if type(head) is not h11.Request:
            raise _Gone  # the client closed between requests
        method = head.method.decode("ascii")
        self.head_only = method == "HEAD"
        try:
            path, query = split_target(head.target)
        except UnicodeDecodeError:
            raise _Abort(Response.error(400, "request path is not valid UTF-8")) from None
        headers, size = header_map(head.headers)
        if size + len(head.target) > self.server.limits.max_header_bytes:
            raise _Abort(self._protocol_error(h11.RemoteProtocolError("", 431)))
        found = self.server.routes.find(method, path)
        if isinstance(found, Response):
            if _declares_body(headers):
                raise _Abort(found)  # do not read a body nobody wants
            await self._read_body(headers)
            await self._send(found)
            return
        handler, params = found
        body = await self._read_body(headers)
        request = Request(method=method, path=path, query=query, headers=headers, body=body,
                          params=params, client=self.client)
        response = await self._call(handler, request)
        await self._send(response)

    async def _read_body(self, headers: Mapping[str, str]) -> bytes:
        """The whole body, within max_body_bytes and body_timeout (413 or 408 otherwise)."""
        conn = self.conn
        limit = self.server.limits.max_body_bytes
        length = headers.get("content-length")
        if length is not None and int(length.partition(",")[0]) > limit:
            raise _Abort(Response.error(413, f"request body is over {limit} bytes"))
        allowance = self.server.body_timeout
        if (conn.they_are_waiting_for_100_continue and not conn.trailing_data[0]
                and _declares_body(headers)):
            await self._send_bytes(conn.send(_CONTINUE))  # routed and sized: now ask for it
        chunks: list[bytes] = []
        size = 0
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                await self._receive_more(allowance, _BODY_TIMEOUT)
            elif type(event) is h11.Data:
                size += len(event.data)
                if size > limit:
                    raise _Abort(Response.error(413, f"request body is over {limit} bytes"))
                chunks.append(event.data)
            elif type(event) is h11.EndOfMessage:
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)
            else:
                raise h11.RemoteProtocolError(f"unexpected {event!r} in the request body")

    async def _call(self, handler: Handler, request: Request) -> Response:
        self.request = request
        self._arm(self.server.handler_timeout, _HANDLER_TIMEOUT)
        try:
            return await handler(request)
        except BadRequest as exc:
            return Response.error(400, str(exc))
        except StoreUnavailable as exc:
            return Response.error(503, str(exc), headers=[
                ("retry-after", str(exc.retry_after))])
        except Exception:
            logger.exception("handler failed: %s %s", request.method, request.path)
            return _INTERNAL_ERROR

    async def _send(self, response: Response, *, close: bool = False) -> None:
        conn = self.conn
        close = close or self.server.draining
        try:
            event = self._response_event(response, close)
        except h11.LocalProtocolError:
            logger.exception("handler answered an invalid response: %r", response.status)
            response = _INTERNAL_ERROR
            event = self._response_event(response, close)
        self.server.on_response(response.status)
        data = conn.send(event) or b""
        if response.body and not self.head_only:
            data += conn.send(h11.Data(data=response.body)) or b""
        data += conn.send(h11.EndOfMessage()) or b""
        self._arm(self.server.send_timeout, None)
        await self.stream.send_all(data)

    def _response_event(self, response: Response, close: bool) -> h11.Response:
        headers = [*response.headers, ("date", self.server.date())]
        if response.status not in _BODILESS:
            headers.append(("content-length", str(len(response.body))))
        elif response.body:
            raise h11.LocalProtocolError(f"a {response.status} answer cannot have a body")
        if close:
            headers.append(("connection", "close"))
        return h11.Response(status_code=response.status, headers=headers,
                            reason=_REASONS.get(response.status, b""))

    async def _send_bytes(self, data: bytes | None) -> None:
        self._arm(self.server.send_timeout, None)
        await self.stream.send_all(data or b"")

    async def _abort(self, response: Response) -> None:
        """Answer (when h11 still allows an answer), then close without losing the answer."""
        with trio.move_on_after(self.server.send_timeout):
            if self.conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                await self._send(response, close=True)
        if self._may_send_more():
            limits = self.server.limits
            await linger(self.stream, total=limits.linger, idle=limits.linger_idle)

    def _may_send_more(self) -> bool:
        """Whether the client is part-way through a request (its body, or a head begun): a
        connection that sent nothing, or whose request was read whole, is closed at once."""
        state = self.conn.their_state
        return state in (h11.SEND_BODY, h11.ERROR) or (
            state is h11.IDLE and bool(self.conn.trailing_data[0]))


def _ignore(status: int) -> None:
    pass


def _declares_body(headers: Mapping[str, str]) -> bool:
    return "transfer-encoding" in headers or headers.get("content-length", "0") != "0"
