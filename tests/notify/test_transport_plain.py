"""The transport's own HTTP/1.1 client for plain-http receivers (issue 15 item 3), against
raw loopback servers that answer exactly as scripted: kept-alive connections, a kept
connection the receiver closed, chunked answers after 100 Continue, a receiver that never
answers, and a proxy in the environment (then httpx, which honours it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
import trio
import trio.testing

from router.notify.http_client import PlainClient
from router.notify.transport import Transport
from router.notify.wire import HttpRequest, HttpResponse

Handler = Callable[[trio.SocketStream], Awaitable[None]]
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


async def serve(nursery: trio.Nursery, handler: Handler) -> str:
    listeners = await nursery.start(trio.serve_tcp, handler, 0)
    return f"http://127.0.0.1:{listeners[0].socket.getsockname()[1]}/hook?token=x"


async def read_request(stream: trio.SocketStream) -> bytes:
    """One request (head and Content-Length body) off the stream; b"" when it closed."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = await stream.receive_some(65536)
        if not chunk:
            return b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        body += await stream.receive_some(65536)
    return data


async def post(url: str, seconds: float = 5) -> tuple[HttpResponse | None, str | None]:
    transport = Transport()
    try:
        return await send(transport, url, seconds)
    finally:
        await transport.aclose()


async def send(transport: Transport, url: str, seconds: float = 5
               ) -> tuple[HttpResponse | None, str | None]:
    sent = await transport.send(HttpRequest(
        method="POST", url=url, body=b'{"a": 1}', target="receiver",
        headers={"Content-Type": "application/json"}, timeout=timedelta(seconds=seconds)))
    assert sent.response is None or isinstance(sent.response, HttpResponse)
    return sent.response, sent.outcome.reason if sent.outcome else None


async def test_requests_to_one_receiver_share_a_kept_connection(
        nursery: trio.Nursery) -> None:
    connections, requests = 0, []

    async def handler(stream: trio.SocketStream) -> None:
        nonlocal connections
        connections += 1
        while request := await read_request(stream):
            requests.append(request)
            await stream.send_all(OK)

    url = await serve(nursery, handler)
    transport = Transport()
    answers = [await send(transport, url) for _ in range(3)]
    await transport.aclose()
    assert [(response.status, response.body) for response, _ in answers
            if response is not None] == [(200, b"ok")] * 3
    assert connections == 1
    head = requests[0].split(b"\r\n\r\n")[0].split(b"\r\n")
    assert head[0] == b"POST /hook?token=x HTTP/1.1"
    assert b"Content-Type: application/json" in head
    assert requests[0].endswith(b'\r\n\r\n{"a": 1}')


async def test_a_kept_connection_the_receiver_closed_is_replaced_once(
        nursery: trio.Nursery) -> None:
    connections = 0

    async def handler(stream: trio.SocketStream) -> None:
        nonlocal connections
        connections += 1
        if await read_request(stream):
            await stream.send_all(OK)  # keep-alive by default, but it closes anyway

    url = await serve(nursery, handler)
    transport = Transport()
    first, second = await send(transport, url), await send(transport, url)
    await transport.aclose()
    assert first[0] is not None and second[0] is not None
    assert (first[0].status, second[0].status, connections) == (200, 200, 2)


async def test_a_chunked_answer_after_100_continue_is_read_whole(
        nursery: trio.Nursery) -> None:
    async def handler(stream: trio.SocketStream) -> None:
        await read_request(stream)
        await stream.send_all(b"HTTP/1.1 100 Continue\r\n\r\n")
        await stream.send_all(b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\n"
                              b"Transfer-Encoding: chunked\r\n\r\n"
                              b"5\r\nslow \r\n5;x=y\r\ndown!\r\n0\r\n\r\n")

    response, reason = await post(await serve(nursery, handler))
    assert reason is None and response is not None
    assert (response.status, response.headers["retry-after"], response.body) == (
        429, "7", b"slow down!")


async def test_a_broken_answer_is_a_retry_with_the_reason(nursery: trio.Nursery) -> None:
    async def handler(stream: trio.SocketStream) -> None:
        await read_request(stream)
        await stream.send_all(b"SMTP ready\r\n\r\n")

    response, reason = await post(await serve(nursery, handler))
    assert response is None
    assert reason == "receiver: RemoteProtocolError: bad status line 'SMTP ready'"


async def test_a_receiver_that_never_answers_times_out(
        nursery: trio.Nursery, autojump_clock: trio.testing.MockClock) -> None:
    async def handler(stream: trio.SocketStream) -> None:
        await read_request(stream)
        await trio.sleep_forever()

    response, reason = await post(await serve(nursery, handler), seconds=10)
    assert response is None
    assert reason == "receiver: no answer within 10s"


async def test_a_proxy_in_the_environment_is_used(
        nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []

    async def proxy(stream: trio.SocketStream) -> None:
        seen.append(await read_request(stream))
        await stream.send_all(OK)

    proxy_url = (await serve(nursery, proxy)).split("/hook")[0]
    monkeypatch.setenv("HTTP_PROXY", proxy_url)
    monkeypatch.setenv("NO_PROXY", "")
    response, _ = await post("http://receiver.invalid:8080/hook")
    assert response is not None and response.status == 200
    assert seen[0].startswith(b"POST http://receiver.invalid:8080/hook HTTP/1.1")


def answering(*answers: bytes, close: bool = False) -> Handler:
    """A receiver that reads each request and sends the next scripted answer (closing
    after the last one when `close`)."""
    async def handler(stream: trio.SocketStream) -> None:
        for answer in answers:
            if not await read_request(stream):
                return
            await stream.send_all(answer)
        if close:
            await stream.aclose()
        else:
            await trio.sleep_forever()
    return handler


@pytest.mark.parametrize(("answer", "why"), [
    (b"HTTP/1.1 200 OK\r\nX-Bad\x01Name: 1\r\nContent-Length: 2\r\n\r\nok",
     "malformed answer: Invalid header token"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=\x01\r\nhello\r\n0\r\n\r\n",
     "malformed answer: "),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
     "malformed answer: "),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!",
     "malformed answer: "),
])
async def test_what_the_parser_refuses_is_a_retry_with_the_reason(
        nursery: trio.Nursery, answer: bytes, why: str) -> None:
    response, reason = await post(await serve(nursery, answering(answer)))
    assert response is None
    assert reason is not None and reason.startswith(f"receiver: RemoteProtocolError: {why}")


async def test_an_answer_cut_short_is_not_sent_again(nursery: trio.Nursery) -> None:
    requests = 0

    async def handler(stream: trio.SocketStream) -> None:
        nonlocal requests
        while await read_request(stream):
            requests += 1
            await stream.send_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
            await stream.aclose()
            return

    transport = Transport()
    url = await serve(nursery, handler)
    response, reason = await send(transport, url)
    await transport.aclose()
    assert response is None
    assert reason == "receiver: RemoteProtocolError: the connection closed mid-body"
    assert requests == 1


async def test_a_body_delimited_by_close_is_read_whole_and_the_connection_dropped(
        nursery: trio.Nursery) -> None:
    connections = 0

    async def handler(stream: trio.SocketStream) -> None:
        nonlocal connections
        connections += 1
        await read_request(stream)
        await stream.send_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall ")
        await stream.send_all(b"of it")
        await stream.aclose()

    url = await serve(nursery, handler)
    transport = Transport()
    first, second = await send(transport, url), await send(transport, url)
    await transport.aclose()
    assert first[0] is not None and second[0] is not None
    assert (first[0].body, second[0].body, connections) == (b"all of it", b"all of it", 2)


async def test_a_204_has_no_body_and_keeps_the_connection(nursery: trio.Nursery) -> None:
    connections = 0
    inner = answering(b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", OK)

    async def handler(stream: trio.SocketStream) -> None:
        nonlocal connections
        connections += 1
        await inner(stream)

    url = await serve(nursery, handler)
    transport = Transport()
    first, second = await send(transport, url), await send(transport, url)
    await transport.aclose()
    assert first[0] is not None and second[0] is not None
    assert (first[0].status, first[0].body, second[0].status, connections) == (
        204, b"", 200, 1)


async def test_an_http_1_0_answer_is_not_kept(nursery: trio.Nursery) -> None:
    connections = 0
    inner = answering(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", OK)

    async def handler(stream: trio.SocketStream) -> None:
        nonlocal connections
        connections += 1
        await inner(stream)

    url = await serve(nursery, handler)
    transport = Transport()
    first, second = await send(transport, url), await send(transport, url)
    await transport.aclose()
    assert first[0] is not None and second[0] is not None
    assert (first[0].body, second[0].body, connections) == (b"ok", b"ok", 2)


@pytest.mark.parametrize("answer", [
    b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 100,
    b"HTTP/1.1 200 OK\r\nX-Long: " + b"x" * 100 + b"\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 100,
])
async def test_an_answer_over_the_limit_is_a_failed_send(
        nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch, answer: bytes) -> None:
    monkeypatch.setattr(PlainClient, "LIMIT", 64)
    response, reason = await post(await serve(nursery, answering(answer, close=True)))
    assert response is None
    assert reason == "receiver: RemoteProtocolError: the answer is too long"


@pytest.mark.parametrize("answer", [
    OK + b"garbage after the answer",
    b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
])
async def test_a_connection_llhttp_would_not_reuse_is_not_kept(
        nursery: trio.Nursery, answer: bytes) -> None:
    connections = 0
    inner = answering(answer, OK)

    async def handler(stream: trio.SocketStream) -> None:
        nonlocal connections
        connections += 1
        await inner(stream)

    url = await serve(nursery, handler)
    transport = Transport()
    first, second = await send(transport, url), await send(transport, url)
    await transport.aclose()
    assert first[0] is not None and second[0] is not None
    assert (first[0].body, second[0].body, connections) == (b"ok", b"ok", 2)
