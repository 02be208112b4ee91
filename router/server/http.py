"""HTTP/1.1 over trio streams, parsed by httptools (room: server; imports router.errors,
server.routes, server.http_wire, server.tls, server.linger).

Generic: a route table, request limits, keep-alive and pipelining, `Expect: 100-continue`,
graceful shutdown. It knows nothing about alerts; `daemon.py` wires routes to the engine.
This module runs connections (accepting, deadlines, shutdown); server/http_wire.py reads
requests off the bytes with llhttp and writes answers as bytes.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

import trio

from router.errors import BadRequest, StoreUnavailable
from router.server.http_wire import (
    CONTINUE,
    DateLine,
    InvalidResponse,
    Pending,
    RequestReader,
    encode,
)
from router.server.linger import linger
from router.server.routes import Handler, Request, Response, Routes
from router.server.tls import HandshakeFailed, TlsStream

__all__ = [
    "Handler", "Limits", "Request", "Response", "Routes", "bound_port", "open_listeners",
    "serve_http", "serve_listeners",
]

logger = logging.getLogger(__name__)

_RECEIVE_SIZE = 65536
_ACCEPT_BACKOFF = 0.1  # seconds to wait when out of file descriptors before accepting again
_CAPACITY_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS})


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
_CUT_SHORT = Response.error(400, "malformed request: the connection ended mid-request")


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
        self.date = DateLine()
        self.now = trio.lowlevel.current_clock().current_time  # trio's, minus two calls

    def begin_shutdown(self) -> None:
        self.draining = True
        for connection in self.idle:
            # Wakes only a connection blocked in its idle receive; one whose request bytes
            # already arrived is not waiting, so it is not disturbed (a cancel would be).
            trio.lowlevel.notify_closing(connection.stream.socket)

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
    """One client connection: requests in turn (pipelined ones queue in the reader).

    One cancel scope, the watchdog, covers the whole connection; each phase sets `deadline`
    and names what to answer if it passes (every timeout ends the connection), and
    `_Server.enforce_deadlines` cancels the watchdog once the deadline is behind it.
    """

    __slots__ = ("client", "deadline", "on_timeout", "reader", "request", "sending", "server",
                 "stream", "watchdog")

    def __init__(self, server: _Server, stream: trio.SocketStream | TlsStream) -> None:
        self.server = server
        self.stream = stream
        limits = server.limits
        self.reader = RequestReader(server.routes, max_head=limits.max_header_bytes,
                                    max_body=limits.max_body_bytes)
        self.watchdog = trio.CancelScope()
        self.deadline = math.inf
        self.on_timeout: Response | None = None  # what to answer when the watchdog fires
        self.request: Request | None = None  # in the handler, for the timeout log line
        self.sending = False  # an answer is part-way out: no other may follow it
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
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            self.server.connections.discard(self)
            await trio.aclose_forcefully(self.stream)

    def _arm(self, timeout: float, on_timeout: Response | None) -> None:
        self.deadline = self.server.now() + timeout
        self.on_timeout = on_timeout

    async def _serve_watched(self) -> Response | None:
        """Serve requests; the answer to end the connection with, or None to just close."""
        with self.watchdog:
            if isinstance(self.stream, TlsStream) and not await self._handshake(self.stream):
                return None
            return await self._serve()
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

    async def _serve(self) -> Response | None:
        """Answer each request the reader completes, in order, until one ends the
        connection; then the reader's refusal, if it has one. Between requests, wait for
        the next one (keep_alive_timeout; header_timeout and a 408 for a fresh connection)."""
        reader = self.reader
        ready = reader.ready
        server = self.server
        first = True
        while True:
            while ready:
                if not await self._answer(ready.popleft()):
                    return None
            if reader.abort is not None:
                return reader.abort
            if reader.upgraded:
                return None
            if reader.in_message:
                data = await self._receive_rest()
            else:
                if server.draining:
                    return None
                if first:
                    self._arm(server.header_timeout, _HEAD_TIMEOUT)
                else:
                    self._arm(server.keep_alive_timeout, None)
                server.idle.add(self)
                try:
                    data = await self.stream.receive_some(_RECEIVE_SIZE)
                except trio.ClosedResourceError:
                    if not server.draining:
                        raise
                    return None  # woken by begin_shutdown
                finally:
                    server.idle.discard(self)
            if not data:
                return _CUT_SHORT if reader.in_message else None
            reader.feed(data)
            first = False

    async def _receive_rest(self) -> bytes:
        """More of a request begun, within its phase's deadline (armed at the phase's first
        wait, so a request that arrives whole arms none); `100 Continue` first when the
        client waits for it."""
        reader = self.reader
        server = self.server
        if not reader.head_done:
            allowance, on_timeout = server.header_timeout, _HEAD_TIMEOUT
        else:
            if reader.wants_continue:  # routed and sized: now ask for the body
                reader.wants_continue = False
                await self._send_bytes(CONTINUE)
            allowance, on_timeout = server.body_timeout, _BODY_TIMEOUT
        if self.on_timeout is not on_timeout:
            self._arm(allowance, on_timeout)
        return await self.stream.receive_some(_RECEIVE_SIZE)

    async def _answer(self, pending: Pending) -> bool:
        """Answer one request; whether the connection may serve another."""
        found = pending.found
        server = self.server
        if isinstance(found, Response):
            response = found
        else:
            handler, params = found
            request = self.request = Request(
                method=pending.method, path=pending.path, query=pending.query,
                headers=pending.headers, body=pending.body, params=params, client=self.client)
            self.deadline = server.now() + server.handler_timeout
            self.on_timeout = _HANDLER_TIMEOUT
            try:
                response = await handler(request)
            except Exception as error:
                response = _failure(error, request)
        close = not pending.keep_alive or server.draining
        await self._send(response, close, pending.keep_alive_header, pending.head_only)
        return not close

    async def _send(self, response: Response, close: bool, keep_alive_header: bool = False,
                    head_only: bool = False) -> None:
        server = self.server
        date = server.date.current()
        try:
            head, body = encode(response, date, close, keep_alive_header, head_only)
        except InvalidResponse:
            logger.exception("handler answered an invalid response: %r", response.status)
            response = _INTERNAL_ERROR
            head, body = encode(response, date, close)
        server.on_response(response.status)
        self.deadline = server.now() + server.send_timeout
        self.on_timeout = None
        self.sending = True
        await self.stream.send_all(head)
        if body:
            await self.stream.send_all(body)
        self.sending = False

    async def _send_bytes(self, data: bytes) -> None:
        self._arm(self.server.send_timeout, None)
        await self.stream.send_all(data)

    async def _abort(self, response: Response) -> None:
        """Answer (unless an answer is part-way out), then close without losing it."""
        with trio.move_on_after(self.server.send_timeout):
            if not self.sending:
                await self._send(response, True)
        reader = self.reader
        if reader.in_message or reader.failed:  # the client may still be sending
            limits = self.server.limits
            await linger(self.stream, total=limits.linger, idle=limits.linger_idle)


def _ignore(status: int) -> None:
    pass


def _failure(error: Exception, request: Request) -> Response:
    """The answer to a handler that raised: 400 and 503 for the errors that say so, else a
    500 logged with its traceback (never shown to the client)."""
    if isinstance(error, BadRequest):
        return Response.error(400, str(error))
    if isinstance(error, StoreUnavailable):
        return Response.error(503, str(error), headers=[("retry-after", str(error.retry_after))])
    logger.error("handler failed: %s %s", request.method, request.path, exc_info=error)
    return _INTERNAL_ERROR

