"""The webhook receiver of bench_ha.py: counts every page by its idempotency key.

`python bench/ha_sink.py PORT` answers every POST 200 and remembers, by the webhook's
`Idempotency-Key` header (the notification id, issue 18), how many times and when each
notification arrived, and by the alert's `instance` label when each alert first arrived (as
bench/ingest_load.py's sink does). `GET /arrivals` returns
`{"posts": N, "alerts": {instance: unix time}, "keys": {key: [unix time, ...]},
"held": [key, ...]}`. `POST /hold` makes it take the following POSTs without answering them
(pages "in flight" at a receiver), `POST /release` answers those held and every later one at
once. Stdlib only.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time

INSTANCE = re.compile(rb'"instance":\s*"([^"]*)"')
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
_alerts: dict[str, float] = {}
_keys: dict[str, list[float]] = {}
_posts = [0]
_holding = [False]
_held: list[tuple[asyncio.Transport, str]] = []


class _Sink(asyncio.Protocol):
    """HTTP/1.1 keep-alive, Content-Length bodies only (what router's webhook sends)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            lines = self.buffer[:end].decode("latin-1").split("\r\n")
            headers = {name.strip().lower(): value.strip() for name, _, value in
                       (line.partition(":") for line in lines[1:])}
            length = int(headers.get("content-length", "0"))
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4:end + 4 + length]
            self.buffer = self.buffer[end + 4 + length:]
            self.handle(lines[0].split(" ", 2), headers.get("idempotency-key", ""), body)

    def handle(self, request: list[str], key: str, body: bytes) -> None:
        if request[0] == "GET":
            answer = json.dumps({"posts": _posts[0], "alerts": _alerts, "keys": _keys,
                                 "held": [held for _, held in _held]}).encode()
            self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: %d\r\n\r\n%s" % (len(answer), answer))
            return
        if request[1] in ("/hold", "/release"):
            _holding[0] = request[1] == "/hold"
            if not _holding[0]:
                for transport, _ in _held:
                    if not transport.is_closing():
                        transport.write(OK)
                _held.clear()
            self.transport.write(OK)
            return
        arrived = time.time()
        _posts[0] += 1
        key = key.strip('"')
        _keys.setdefault(key, []).append(arrived)
        for instance in INSTANCE.findall(body):
            _alerts.setdefault(instance.decode(), arrived)
        if _holding[0]:
            _held.append((self.transport, key))
        else:
            self.transport.write(OK)


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Sink, "127.0.0.1", port, backlog=1024)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
