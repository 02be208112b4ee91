"""The local unix socket: newline-delimited JSON both ways (room: server; imports engine,
server.messages).

One task per connection, lines answered in order, one reply line per request line
(`server/messages.py` says what each line means and answers). Blank lines are skipped; a
last line without its newline is answered when the client closes its side.

A client can cost only what `SocketLimits` allows: a line over `max_line_bytes` is answered
413 and the connection closed (the next line's start cannot be found); a connection that does
not complete a line within `idle_timeout` is answered 408 and closed; a client that does not
read its replies within `send_timeout` is dropped. A 413 or 408 closes gracefully: what the
client still sends is read and discarded for up to `linger` (until it pauses `linger_idle`),
so the error line is not lost to a reset. Every such error line is an envelope with
src and dest null and `in_reply_to` null.

The socket file is the daemon's: a stale one (nobody listening) is replaced, anything else at
the path is refused; it gets mode 0660 (owner and group may send) and is removed on exit.
"""

from __future__ import annotations

import json
import logging
import socket
import stat
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path

import trio

from router.engine import Engine
from router.server import messages
from router.server.linger import linger

logger = logging.getLogger(__name__)

MODE = 0o660
Received = Callable[[str, str, int], None]
"""Told (format, source, count) of the alerts a line stored (metrics count them)."""
_RECEIVE_SIZE = 65536
_BACKLOG = 128


@dataclass(frozen=True, slots=True, kw_only=True)
class SocketLimits:
    """What one client may cost; every wait a client can cause has a deadline here."""

    max_line_bytes: int = 1024 * 1024
    idle_timeout: timedelta = timedelta(minutes=5)  # waiting for the next whole line
    handler_timeout: timedelta = timedelta(seconds=30)  # then 503
    send_timeout: timedelta = timedelta(seconds=10)  # a client that does not read is dropped
    grace: timedelta = timedelta(seconds=10)  # in-flight lines at shutdown
    # After a closing error, read and discard what the client still sends (server/linger.py):
    # at most this long in all ...
    linger: timedelta = timedelta(seconds=30)
    linger_idle: timedelta = timedelta(seconds=5)  # ... and until it pauses this long


class _Closing(Exception):
    """Answer this error and close: the connection cannot go on."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.reply = messages.envelope(None, messages.error_body(None, code, text))


class _Gone(Exception):
    """The client stopped reading its replies."""


async def serve_socket(
    engine: Engine, path: Path, *, limits: SocketLimits = SocketLimits(),
    shutdown: trio.Event | None = None, received: Received | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Listen on a unix socket at `path` and serve until `shutdown` is set (or cancelled).

    When `shutdown` is set: stop accepting and remove the socket file, close connections
    that wait for a line, give lines being handled `limits.grace` to be answered, return.
    `received("socket", "anonymous", count)` is told of the alerts each line stored.

    Raises:
        FileExistsError: something other than a stale socket is at `path`.
    """
    listener, inode = await _bind(path)
    server = _Server(engine, limits, received)
    stop = trio.Event() if shutdown is None else shutdown
    try:
        async with trio.open_nursery() as connections:
            async with trio.open_nursery() as acceptor:
                acceptor.start_soon(partial(trio.serve_listeners, server.serve, [listener],
                                            handler_nursery=connections))
                task_status.started()
                await stop.wait()
                acceptor.cancel_scope.cancel()
            _release(listener, path, inode)
            server.begin_shutdown()
            connections.cancel_scope.deadline = trio.current_time() + limits.grace.total_seconds()
    finally:
        _release(listener, path, inode)


async def _bind(path: Path) -> tuple[trio.SocketListener, int]:
    await _remove_stale(path)
    sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        await sock.bind(str(path))
    except BaseException:
        sock.close()
        raise
    try:
        await trio.Path(path).chmod(MODE)  # after bind: bind creates the file by the umask
        sock.listen(_BACKLOG)
        inode = (await trio.Path(path).lstat()).st_ino
    except BaseException:
        sock.close()
        _unlink(path)
        raise
    return trio.SocketListener(sock), inode


async def _remove_stale(path: Path) -> None:
    try:
        mode = (await trio.Path(path).lstat()).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise FileExistsError(f"{path} exists and is not a socket; not removing it")
    try:
        stream = await trio.open_unix_socket(str(path))
    except OSError:  # refused: nobody listens, the file is a leftover
        logger.info("removing stale socket", extra={"path": str(path)})
        await trio.Path(path).unlink(missing_ok=True)
        return
    await stream.aclose()
    raise FileExistsError(f"another process listens on {path}")


def _release(listener: trio.SocketListener, path: Path, inode: int) -> None:
    """Close the listener and remove the socket file, if it is still ours; idempotent.

    Synchronous, so it also runs in a cancelled scope.
    """
    listener.socket.close()
    try:
        if path.lstat().st_ino == inode:
            _unlink(path)
    except FileNotFoundError:
        pass


def _unlink(path: Path) -> None:
    path.unlink(missing_ok=True)


class _Server:
    """State shared by the connections of one `serve_socket` call."""

    def __init__(self, engine: Engine, limits: SocketLimits,
                 received: Received | None = None) -> None:
        self.engine = engine
        self.limits = limits
        self.received = received
        self.waiting: set[trio.CancelScope] = set()  # reads cancelled at shutdown
        self.draining = False

    def begin_shutdown(self) -> None:
        self.draining = True
        for scope in self.waiting:
            scope.cancel()

    async def serve(self, stream: trio.SocketStream) -> None:
        try:
            await _Connection(self, stream).run()
        except (_Gone, trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        except Exception:  # a bug must cost one connection, never the listener
            logger.exception("socket connection failed")


class _Connection:
    __slots__ = ("buffer", "limits", "scanned", "server", "stream")

    def __init__(self, server: _Server, stream: trio.SocketStream) -> None:
        self.server = server
        self.limits = server.limits
        self.stream = stream
        self.buffer = bytearray()
        self.scanned = 0  # bytes of `buffer` known to hold no newline

    async def run(self) -> None:
        while True:
            try:
                line = await self._next_line()
            except _Closing as closing:
                await self._send(closing.reply)
                await linger(self.stream, total=self.limits.linger, idle=self.limits.linger_idle)
                return
            if line is None:
                return
            if line.strip():
                await self._send(await self._answer(line))

    async def _next_line(self) -> bytes | None:
        """The next line without its newline; None at the end or at shutdown.

        Lines already received are still answered at shutdown; only waiting for more stops.
        """
        limit = self.limits.max_line_bytes
        deadline = trio.current_time() + self.limits.idle_timeout.total_seconds()
        while True:
            end = self.buffer.find(b"\n", self.scanned)
            if end > limit or (end < 0 and len(self.buffer) > limit):
                raise _Closing(413, f"line is over {limit} bytes; closing")
            if end >= 0:
                line = bytes(self.buffer[:end])
                del self.buffer[:end + 1]
                self.scanned = 0
                return line
            self.scanned = len(self.buffer)
            data = await self._receive(deadline)
            if data is None:
                return None
            if not data:  # the client closed its side: answer a last unterminated line
                line = bytes(self.buffer)
                self.buffer.clear()
                return line or None
            self.buffer += data

    async def _receive(self, deadline: float) -> bytes | None:
        """Received bytes (b"" at the end), or None at shutdown."""
        if self.server.draining:
            return None
        with trio.move_on_at(deadline):
            with trio.CancelScope() as waiting:
                self.server.waiting.add(waiting)
                try:
                    return await self.stream.receive_some(_RECEIVE_SIZE)
                finally:
                    self.server.waiting.discard(waiting)
            return None
        seconds = self.limits.idle_timeout.total_seconds()
        raise _Closing(408, f"no whole line in {seconds:g} s; closing")

    async def _answer(self, line: bytes) -> messages.Reply:
        seconds = self.limits.handler_timeout.total_seconds()
        with trio.move_on_after(seconds):
            reply = await messages.answer(self.server.engine, line)
            if self.server.received is not None and (count := messages.accepted(reply)):
                self.server.received("socket", "anonymous", count)
            return reply
        return messages.timed_out(line, seconds)

    async def _send(self, reply: messages.Reply) -> None:
        data = json.dumps(reply, separators=(",", ":")).encode() + b"\n"
        with trio.move_on_after(self.limits.send_timeout.total_seconds()):
            await self.stream.send_all(data)
            return
        raise _Gone
