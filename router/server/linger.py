"""A lingering close, for the HTTP server and the unix socket (room: server; imports nothing
from router).

Closed while the client's bytes are still unread, a socket answers them with a reset, and
a reset destroys what the server sent before it in the client's buffers: a client that sends
its whole body (or line) before reading, as most do, would never see the 413 it was sent.
So, as nginx's `lingering_close`: shut our side (the client reads the answer, then the end),
then read and discard what the client still sends until it closes, pauses for `idle`, or
`total` has passed. Memory stays bounded (nothing is kept) and so does the time a
connection's slot is held.
"""

from __future__ import annotations

from datetime import timedelta

import trio

_RECEIVE_SIZE = 65536


async def linger(stream: trio.abc.HalfCloseableStream, *, total: timedelta,
                 idle: timedelta) -> None:
    """Shut the write side of `stream`, then discard what arrives until the client closes,
    pauses `idle`, or `total` has passed. The caller closes the stream."""
    with trio.move_on_after(total.total_seconds()):
        await stream.send_eof()
        while True:
            with trio.move_on_after(idle.total_seconds()) as gap:
                data = await stream.receive_some(_RECEIVE_SIZE)
            if gap.cancelled_caught or not data:
                return
