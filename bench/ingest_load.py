"""The load side of bench_ingest.py: the alert bodies, wrk's Lua script, a webhook sink and
a fixed-rate load generator. Stdlib only, so both systems face the same client.

- `alert(instance, starts_at)` and the Lua template build byte-identical alerts: a
  Prometheus-shaped alert whose `instance` label is the only label that varies and whose
  `startsAt` is the current time (RFC 3339, whole seconds), made afresh for every request.
- The sink (`python bench/ingest_load.py sink PORT`) answers every POST 200 at once and
  remembers when each alert first reached it (by its `instance` label, found in
  Alertmanager's webhook body and in router's webhook body alike); `GET /arrivals` returns
  `{"posts": N, "alerts": {instance: unix time}}`.
- The generator (`python bench/ingest_load.py offer PORT RATE SECONDS TAG`) sends one new
  alert per request at a fixed rate over 50 keep-alive connections (open loop, as wrk2's
  -R: each request has its time in the schedule; when the server falls behind, requests go
  late, and the lateness is reported), and prints JSON: for each alert its instance and
  when its 2xx came back, and how late the schedule ran.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from pathlib import Path

PATH = "/api/v2/alerts"
LOAD_PATH = str(Path(__file__).resolve())
TEMPLATE = (
    '{"labels":{"alertname":"HighLatency","job":"api","service":"api","severity":"warning",'
    '"instance":"%s"},"annotations":{"summary":"p99 latency over 500ms",'
    '"description":"The API answers slowly on this instance."},'
    '"startsAt":"%s","generatorURL":"http://prometheus:9090/graph?g0.expr=latency"}'
)
STAMP = "%Y-%m-%dT%H:%M:%SZ"


def now_rfc3339() -> str:
    """The current UTC time in RFC 3339, whole seconds (as Prometheus sends it)."""
    return time.strftime(STAMP, time.gmtime())


def alert(instance: str, starts_at: str | None = None) -> str:
    return TEMPLATE % (instance, starts_at or now_rfc3339())


# `startsAt` is the time of each request (os.date, formatted at most once a second), never
# the time the script started: a stale startsAt older than Alertmanager's group_wait makes
# it flush every new group at once (issue 15).
LUA = """
local batch, tag, pool = {batch}, "{tag}", {pool}
local template = '{alert}'
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end
local counter, second, stamp = 0, -1, ""
function request()
  local now = os.time()
  if now ~= second then
    second, stamp = now, os.date("!{stamp}", now)
  end
  local alerts = {{}}
  for position = 1, batch do
    counter = counter + 1
    local instance
    if pool > 0 then
      instance = "repeat-" .. ((counter * 7919 + thread_number) % pool)
    else
      instance = tag .. "-" .. thread_number .. "-" .. counter
    end
    alerts[position] = string.format(template, instance, stamp)
  end
  return wrk.format("POST", "{path}", {{["Content-Type"] = "application/json"}},
                    "[" .. table.concat(alerts, ",") .. "]")
end
"""


def lua(batch: int, tag: str, pool: int) -> str:
    return LUA.format(batch=batch, tag=tag, pool=pool, alert=TEMPLATE, path=PATH, stamp=STAMP)


INSTANCE = re.compile(rb'"instance":\s*"([^"]*)"')
_arrivals: dict[str, float] = {}
"""When each alert (by its instance label) first reached the sink."""
_posts = [0]


class _Sink(asyncio.Protocol):
    """HTTP/1.1 keep-alive, Content-Length bodies only (what both senders use)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4:end + 4 + length]
            self.buffer = self.buffer[end + 4 + length:]
            self.handle(head.split(" ", 2), body)

    def handle(self, request_line: list[str], body: bytes) -> None:
        if request_line[0] == "GET" and request_line[1] == "/arrivals":
            answer = json.dumps({"posts": _posts[0], "alerts": _arrivals}).encode()
            self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: %d\r\n\r\n%s" % (len(answer), answer))
            return
        arrived = time.time()
        _posts[0] += 1
        for instance in INSTANCE.findall(body):
            _arrivals.setdefault(instance.decode(), arrived)
        self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")


async def sink(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Sink, "127.0.0.1", port, backlog=1024)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    status = int(head.split(" ", 2)[1])
    length, chunked = 0, False
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if not chunked:
        await reader.readexactly(length)
        return status
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        await reader.readexactly(size + 2)
        if size == 0:
            return status


async def offer(port: int, rate: float, seconds: float, tag: str,
                connections: int = 50) -> dict[str, object]:
    """Send round(rate * seconds) one-alert requests, request k at start + k / rate."""
    total = round(rate * seconds)
    start = time.monotonic() + 0.2
    wall_offset = time.time() - time.monotonic()
    accepted: list[tuple[str, float]] = []
    failures: list[str] = []
    lateness = [0.0]
    counter = iter(range(total))

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for number in counter:
                due = start + number / rate
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                else:
                    lateness[0] = max(lateness[0], -delay)
                instance = f"{tag}-{number}"
                body = f"[{alert(instance)}]".encode()
                writer.write(b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                             b"application/json\r\nContent-Length: %d\r\n\r\n%s"
                             % (PATH.encode(), len(body), body))
                status = await _read_response(reader)
                if 200 <= status < 300:
                    accepted.append((instance, time.monotonic() + wall_offset))
                else:
                    failures.append(f"{instance}: {status}")
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(connections)))
    return {"sent": total, "accepted": accepted, "failures": failures[:10],
            "failed": len(failures), "late_s": lateness[0],
            "elapsed_s": time.monotonic() - start}


def main() -> None:
    command, port = sys.argv[1], int(sys.argv[2])
    if command == "sink":
        asyncio.run(sink(port))
    elif command == "offer":
        rate, seconds, tag = float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
        print(json.dumps(asyncio.run(offer(port, rate, seconds, tag))))
    else:
        sys.exit(f"unknown command {command!r}")


if __name__ == "__main__":
    main()
