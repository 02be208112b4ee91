"""Local stand-ins for services the tests cannot reach (PagerDuty, Slack): real HTTP/1.1 on
h11 over a real 127.0.0.1 port, so the code under test (or a daemon subprocess) talks to them
exactly as it would to the real service.

Each fake answers as the real API documents, errors included, unless a test scripts its next
answers:

    pagerduty = await nursery.start(serve_fake_pagerduty)
    pagerduty.answer_next(Answer(status=429, headers={"Retry-After": "2"}), Answer(status=500))
    pagerduty.answer_next(Answer(delay=30))      # hang 30 s, then answer as usual
    pagerduty.answer_next(Answer(close=True))    # drop the connection, no answer

An `Answer` with a `status` replaces the fake's own answer (the request is recorded in
`.requests` but not processed); one without a status only delays or drops. Every request,
scripted or not, is in `.requests` with the time it arrived (`trio.current_time()`, so a
test under MockClock sees virtual seconds).

A fake runs in the test's trio loop (`nursery.start`). A synchronous test, such as one driving
the daemon subprocess with blocking clients, runs it in a thread of its own:

    with serve_in_thread(serve_fake_slack) as slack: ...
"""

from __future__ import annotations

import json
import queue
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, TypeVar

import h11
import trio

MAX_BODY = 4_000_000
"""Bigger than anything the real services accept (PagerDuty: 512 KB)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    """One scripted answer: wait `delay` seconds, then drop the connection (`close`), send
    `status` with `headers` and `body`, or (no status) answer as the fake itself would."""

    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0
    close: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Received:
    """One request as it arrived; header names are lower case."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    time: float

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """What a fake says to one request it processes."""

    status: int
    body: bytes
    content_type: str = "application/json"

    @classmethod
    def json(cls, status: int, document: object) -> Reply:
        return cls(status=status, body=json.dumps(document).encode())

    @classmethod
    def text(cls, status: int, text: str) -> Reply:
        return cls(status=status, body=text.encode(), content_type="text/plain; charset=utf-8")


class FakeService:
    """What every fake shares: its address, the requests it saw and the script of answers.
    A subclass says where it listens (`path`) and how it answers (`process`)."""

    path = "/"

    def __init__(self) -> None:
        self.port = 0
        self.requests: list[Received] = []
        self._script: deque[Answer] = deque()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def answer_next(self, *answers: Answer) -> None:
        """Answer the next requests so, in order; then answer as the real service again."""
        self._script.extend(answers)

    def process(self, request: Received) -> Reply:
        raise NotImplementedError

    def next_answer(self) -> Answer:
        return self._script.popleft() if self._script else Answer()


Service = TypeVar("Service", bound=FakeService)


async def serve_fake(service: Service, *,
                     task_status: trio.TaskStatus[Service] = trio.TASK_STATUS_IGNORED,
                     ) -> None:
    """Listen on a free 127.0.0.1 port and answer until cancelled; `task_status` gets the
    service once it listens, with its port set."""
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    service.port = listeners[0].socket.getsockname()[1]
    async with trio.open_nursery() as nursery:
        await nursery.start(trio.serve_listeners, lambda stream: _converse(service, stream),
                            listeners)
        task_status.started(service)


async def _converse(service: FakeService, stream: trio.SocketStream) -> None:
    """One connection: requests in turn, kept alive as the client asks."""
    connection = h11.Connection(h11.SERVER, max_incomplete_event_size=64_000)
    try:
        while True:
            request = await _read_request(connection, stream)
            if request is None:
                return
            service.requests.append(request)
            answer = service.next_answer()
            if answer.delay:
                await trio.sleep(answer.delay)
            if answer.close:
                return
            if answer.status is not None:
                content_type = next((value for name, value in answer.headers.items()
                                     if name.lower() == "content-type"), "text/plain")
                reply = Reply(status=answer.status, body=answer.body, content_type=content_type)
            else:
                reply = service.process(request)
            await _send(connection, stream, reply, answer.headers)
            if connection.our_state is not h11.DONE or connection.their_state is not h11.DONE:
                return
            connection.start_next_cycle()
    except (trio.BrokenResourceError, trio.ClosedResourceError, h11.ProtocolError):
        return  # the client went away (a timeout, a dropped connection): nothing to answer
    finally:
        await stream.aclose()


async def _read_request(connection: h11.Connection, stream: trio.SocketStream,
                        ) -> Received | None:
    head: h11.Request | None = None
    body = bytearray()
    while True:
        event = connection.next_event()
        if event is h11.NEED_DATA:
            connection.receive_data(await stream.receive_some(65_536))
        elif isinstance(event, h11.Request):
            head = event
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) > MAX_BODY:
                raise h11.LocalProtocolError("body too large")
        elif isinstance(event, h11.EndOfMessage) and head is not None:
            headers = {name.decode().lower(): value.decode("latin-1")
                       for name, value in head.headers}
            return Received(method=head.method.decode(), path=head.target.decode(),
                            headers=headers, body=bytes(body), time=trio.current_time())
        else:  # ConnectionClosed, or the client hung up between requests
            return None


async def _send(connection: h11.Connection, stream: trio.SocketStream, reply: Reply,
                extra: Mapping[str, str]) -> None:
    headers = [("Content-Type", reply.content_type), ("Content-Length", str(len(reply.body)))]
    headers += [(name, value) for name, value in extra.items()
                if name.lower() not in ("content-type", "content-length")]
    for event in (h11.Response(status_code=reply.status, headers=headers),
                  h11.Data(data=reply.body), h11.EndOfMessage()):
        data = connection.send(event)
        if data:
            await stream.send_all(data)


@contextmanager
def serve_in_thread(serve: Callable[..., Awaitable[None]]) -> Iterator[Any]:
    """Run `serve` (e.g. serve_fake_pagerduty) in a trio loop on a thread of its own, for a
    synchronous test; yields the fake and stops it on exit. Its lists may be read from the
    test's thread (appends are atomic), and `answer_next` called from it."""
    handed: queue.Queue[tuple[Any, trio.lowlevel.TrioToken, trio.Event] | BaseException] = (
        queue.Queue())

    async def main() -> None:
        stop = trio.Event()
        async with trio.open_nursery() as nursery:
            fake = await nursery.start(serve)
            handed.put((fake, trio.lowlevel.current_trio_token(), stop))
            await stop.wait()
            nursery.cancel_scope.cancel()

    def run() -> None:
        try:
            trio.run(main)
        except BaseException as error:  # handed to the test's thread
            handed.put(error)

    thread = threading.Thread(target=run, name="fake-service", daemon=True)
    thread.start()
    started = handed.get(timeout=10)
    if isinstance(started, BaseException):
        raise started
    fake, token, stop = started
    try:
        yield fake
    finally:
        with suppress(trio.RunFinishedError):  # the fake failed: its error is in `handed`
            trio.from_thread.run_sync(stop.set, trio_token=token)
        thread.join(timeout=10)
    if not handed.empty() and isinstance(failure := handed.get(), BaseException):
        raise failure
