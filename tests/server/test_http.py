"""server/http.py over real loopback sockets: httpx for well-behaved clients, raw bytes for the
slow, malformed and pipelining ones. Timeout tests run under `autojump_clock`, so no test waits
for real time."""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import timedelta
from functools import partial

import httpx
import pytest
import trio

from router.errors import BadRequest
from router.server.http import Limits, Request, Response, Routes, serve_http
from router.server.routes import split_target

# Deadlines are checked every min(timeouts) / 20 = 0.5 s here, hence `abs=0.5` on timings.
LIMITS = Limits(
    max_body_bytes=1000, max_header_bytes=2000, header_timeout=timedelta(seconds=10),
    body_timeout=timedelta(seconds=20), keep_alive_timeout=timedelta(seconds=60),
    handler_timeout=timedelta(seconds=30), grace=timedelta(seconds=10),
)
ICS = b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"


def make_routes(entered: trio.Event | None = None) -> Routes:
    async def echo(request: Request) -> Response:
        return Response.json(200, {"body": request.body.decode(), "type":
                                   request.headers.get("content-type", "")})

    async def incident(request: Request) -> Response:
        return Response.json(200, {"id": request.params["id"], "query": request.query})

    async def acknowledge(request: Request) -> Response:
        return Response.json(200, {"acknowledged": request.params["id"]})

    async def calendar(request: Request) -> Response:
        return Response(200, ICS, (("content-type", "text/calendar"),))

    async def boom(request: Request) -> Response:
        raise RuntimeError("secret detail")

    async def bad(request: Request) -> Response:
        raise BadRequest("labels.service", "is required")

    async def empty(request: Request) -> Response:
        return Response(204, request.body)

    async def large(request: Request) -> Response:
        return Response(200, b"x" * 64_000_000)

    async def inject(request: Request) -> Response:
        return Response(200, b"", (("x-echo", "a\r\nset-cookie: stolen=1"),))

    async def slow(request: Request) -> Response:
        if entered is not None:
            entered.set()
        await trio.sleep(float(request.query.get("seconds", ("5",))[0]))
        return Response.json(200, {"slept": True})

    routes = Routes()
    routes.add("POST", "/echo", echo)
    routes.add("GET", "/v1/incidents/{id}", incident)
    routes.add("DELETE", "/v1/incidents/{id}", incident)
    routes.add("POST", "/v1/incidents/{id}/acknowledge", acknowledge)
    routes.add("GET", "/v1/rotas/{id}", incident)
    routes.add("GET", "/v1/rotas/{id}.ics", calendar)
    routes.add("GET", "/boom", boom)
    routes.add("GET", "/bad", bad)
    routes.add("GET", "/slow", slow)
    routes.add("GET", "/large", large)
    routes.add("POST", "/empty", empty)
    routes.add("GET", "/inject", inject)
    return routes


async def start(nursery: trio.Nursery, limits: Limits = LIMITS, shutdown: trio.Event | None = None,
                entered: trio.Event | None = None) -> int:
    port: int = await nursery.start(partial(
        serve_http, make_routes(entered), host="127.0.0.1", port=0, limits=limits,
        shutdown=shutdown))
    return port


async def read_until_eof(stream: trio.SocketStream) -> bytes:
    chunks = []
    with trio.fail_after(100):
        while chunk := await stream.receive_some():
            chunks.append(chunk)
    return b"".join(chunks)


async def read_head(stream: trio.SocketStream) -> bytes:
    buffer = b""
    with trio.fail_after(100):
        while b"\r\n\r\n" not in buffer:
            buffer += await stream.receive_some()
    return buffer


async def exchange(port: int, data: bytes) -> bytes:
    """Send raw bytes, read until the server closes."""
    async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
        await stream.send_all(data)
        return await read_until_eof(stream)


def parse(raw: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """Split concatenated responses (Content-Length framed) into status, headers, body."""
    responses = []
    while raw:
        head, _, raw = raw.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in lines)
        length = int(headers.get("content-length", "0"))
        responses.append((int(status_line.split(" ")[1]), headers, raw[:length]))
        raw = raw[length:]
    return responses


def request(method: str, path: str, body: bytes = b"", *extra: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: test", *extra]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def test_routes_pass_params_and_query(nursery: trio.Nursery) -> None:
    port = await start(nursery)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        incident = await client.get("/v1/incidents/INC7", params={"state": "open"})
        acknowledged = await client.post("/v1/incidents/INC%207/acknowledge")
        calendar = await client.get("/v1/rotas/primary.ics")
        rota = await client.get("/v1/rotas/primary")
    assert incident.json() == {"id": "INC7", "query": {"state": ["open"]}}
    assert acknowledged.json() == {"acknowledged": "INC 7"}
    assert (calendar.content, calendar.headers["content-type"]) == (ICS, "text/calendar")
    assert rota.json() == {"id": "primary", "query": {}}


async def test_unknown_path_is_404_json(nursery: trio.Nursery) -> None:
    port = await start(nursery)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        response = await client.get("/v1/nothing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"error": "not found"}


async def test_wrong_method_is_405_with_allow(nursery: trio.Nursery) -> None:
    port = await start(nursery)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        response = await client.post("/v1/incidents/INC1", content=b"{}")
        # The 405 did not read the body, so the server closed; httpx reconnects.
        after = await client.post("/echo", content=b"still here")
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET, HEAD"
    assert response.json() == {"error": "method not allowed"}
    assert after.json()["body"] == "still here"


async def test_keep_alive_serves_two_requests_on_one_connection(nursery: trio.Nursery) -> None:
    port = await start(nursery)
    async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
        await stream.send_all(request("POST", "/echo", b"one"))
        first = parse(await read_head(stream))
        await stream.send_all(request("POST", "/echo", b"two", "Connection: close"))
        rest = parse(await read_until_eof(stream))
    # read_head may cut the first body short; the second arrives whole before EOF.
    assert first[0][0] == 200
    assert "connection" not in first[0][1]
    assert [(status, json.loads(body)["body"]) for status, _, body in rest] == [(200, "two")]
    assert rest[0][1]["connection"] == "close"


async def test_pipelined_requests_are_answered_in_order(nursery: trio.Nursery) -> None:
    port = await start(nursery)
    raw = await exchange(port, request("POST", "/echo", b"one") + request("GET", "/v1/incidents/X")
                         + request("POST", "/echo", b"three", "Connection: close"))
    bodies = [json.loads(body) for _, _, body in parse(raw)]
    assert bodies == [{"body": "one", "type": ""}, {"id": "X", "query": {}},
                      {"body": "three", "type": ""}]


async def test_content_length_over_limit_is_413_before_the_body(nursery: trio.Nursery) -> None:
    port = await start(nursery)
    raw = await exchange(port, b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n")
    [(status, headers, body)] = parse(raw)
    assert (status, headers["connection"]) == (413, "close")
    assert json.loads(body) == {"error": "request body is over 1000 bytes"}


async def test_a_50_mb_body_without_expect_gets_a_413_the_client_can_read(
        nursery: trio.Nursery) -> None:
    """httpx, as most clients, sends the whole body before it reads the answer. The server
    must keep reading (and discarding) it after the 413: a socket closed with unread bytes
    is reset, and the reset destroys the answer before the client reads it."""
    port = await start(nursery)
    async with httpx.AsyncClient() as client:
        answer = await client.post(f"http://127.0.0.1:{port}/echo", content=b"x" * 50_000_000)
    assert (answer.status_code, answer.json()) == (413, {"error": "request body is over 1000 "
                                                                  "bytes"})


async def test_a_raw_client_sending_50_mb_then_reading_gets_the_413(
        nursery: trio.Nursery) -> None:
    port = await start(nursery)
    head = b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 50000000\r\n\r\n"
    async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
        await stream.send_all(head)
        for _ in range(50):
            await stream.send_all(b"x" * 1_000_000)
        [(status, headers, body)] = parse(await read_until_eof(stream))
    assert (status, headers["connection"], json.loads(body)) == (
        413, "close", {"error": "request body is over 1000 bytes"})


async def test_lingering_ends_when_the_client_pauses(
        nursery: trio.Nursery, autojump_clock: trio.testing.MockClock) -> None:
    """A client that stops sending but keeps the connection open is closed after
    `linger_idle`; one that keeps trickling, after `linger` in all."""
    limits = dataclasses.replace(LIMITS, linger=timedelta(seconds=30),
                                 linger_idle=timedelta(seconds=5))
    port = await start(nursery, limits)
    head = b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n"
    async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
        await stream.send_all(head + b"x" * 100)
        start_time = trio.current_time()
        assert parse(await read_until_eof(stream))[0][0] == 413  # our side shut at once
        with trio.fail_after(100):
            await trio.sleep(6)
            with pytest.raises(trio.BrokenResourceError):
                for _ in range(10):  # the server closed: a reset answers these
                    await stream.send_all(b"x")
                    await trio.sleep(0.1)
        assert trio.current_time() - start_time < 10
    async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
        await stream.send_all(head)
        start_time = trio.current_time()
        with pytest.raises(trio.BrokenResourceError):
            for _ in range(100):
                await stream.send_all(b"x")
                await trio.sleep(1)
        assert trio.current_time() - start_time == pytest.approx(30, abs=2)


async def test_chunked_body_over_limit_is_413(nursery: trio.Nursery) -> None:
    port = await start(nursery)
    chunk = b"3e8\r\n" + b"x" * 1000 + b"\r\n"
    head = b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
    raw = await exchange(port, head + chunk + chunk + b"0\r\n\r\n")
    [(status, _, body)] = parse(raw)
    assert (status, json.loads(body)) == (413, {"error": "request body is over 1000 bytes"})


async def test_chunked_body_within_limit_is_read(nursery: trio.Nursery) -> None:
    port = await start(nursery)
    raw = await exchange(port, b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                         b"Connection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
    [(status, _, body)] = parse(raw)
    assert (status, json.loads(body)["body"]) == (200, "abcde")


async def test_expect_continue_is_answered_then_the_body_read(nursery: trio.Nursery) -> None:
    port = await start(nursery)
    async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
        await stream.send_all(request("POST", "/echo", b"", "Content-Length: 5",
                                      "Expect: 100-continue", "Connection: close"))
        interim = await read_head(stream)
        await stream.send_all(b"hello")
        final = await read_until_eof(stream)
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    [(status, _, body)] = parse(final)
    assert (status, json.loads(body)["body"]) == (200, "hello")


@pytest.mark.parametrize(("path", "length", "expected"), [
    ("/echo", 5000, 413), ("/nowhere", 5, 404), ("/v1/incidents/X", 5, 405),
])
async def test_expect_continue_is_refused_without_100(
    nursery: trio.Nursery, path: str, length: int, expected: int,
) -> None:
    port = await start(nursery)
    raw = await exchange(port, request("POST", path, b"", f"Content-Length: {length}",
                                       "Expect: 100-continue"))
    [(status, headers, _)] = parse(raw)
    assert (status, headers["connection"]) == (expected, "close")


async def test_slow_head_is_408(nursery: trio.Nursery, autojump_clock: trio.testing.MockClock,
                                ) -> None:
    port = await start(nursery)
    async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
        await stream.send_all(b"POST /echo HTTP/1.1\r\nHost: t\r\n")
        raw = await read_until_eof(stream)
    [(status, _, body)] = parse(raw)
    assert (status, json.loads(body)) == (408, {"error": "request head not received in time"})
    assert trio.current_time() == pytest.approx(10, abs=0.5)


async def test_silent_connection_is_408_after_the_header_timeout(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock,
) -> None:
    port = await start(nursery)
    async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
        [(status, _, _)] = parse(await read_until_eof(stream))
    assert status == 408


async def test_slow_body_is_408(nursery: trio.Nursery, autojump_clock: trio.testing.MockClock,
                                ) -> None:
    port = await start(nursery)
    async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
        await stream.send_all(request("POST", "/echo", b"", "Content-Length: 10") + b"abc")
        raw = await read_until_eof(stream)
    [(status, _, body)] = parse(raw)
    assert (status, json.loads(body)) == (408, {"error": "request body not received in time"})
    assert trio.current_time() == pytest.approx(20, abs=0.5)


async def test_idle_keep_alive_connection_is_closed_silently(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock,
) -> None:
    port = await start(nursery)
    async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
        await stream.send_all(request("GET", "/v1/incidents/X"))
        first = await read_head(stream)
        rest = await read_until_eof(stream)
    assert first.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"HTTP/1.1" not in rest
    assert trio.current_time() == pytest.approx(60, abs=0.5)


@pytest.mark.parametrize(("data", "expected"), [
    (b"GARBAGE\r\n\r\n", 400),
    (b"GET /x HTTP/1.1\r\nHost: t\r\nBad Header: x\r\n\r\n", 400),
    (b"GET /x HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 3000 + b"\r\n\r\n", 431),
])
async def test_malformed_request_is_answered_then_closed(
    nursery: trio.Nursery, data: bytes, expected: int,
) -> None:
    port = await start(nursery)
    [(status, headers, body)] = parse(await exchange(port, data))
    assert (status, headers["content-type"], headers["connection"]) == (
        expected, "application/json", "close")
    message = json.loads(body)["error"]
    assert message.startswith("malformed request: ") or message == (
        "request head is over 2000 bytes")


async def test_path_that_is_not_utf8_is_400(nursery: trio.Nursery) -> None:
    port = await start(nursery)
    raw = await exchange(port, request("GET", "/v1/incidents/%ff", b"", "Connection: close"))
    [(status, _, body)] = parse(raw)
    assert (status, json.loads(body)) == (400, {"error": "request path is not valid UTF-8"})


async def test_handler_exception_is_500_json_and_logged(
    nursery: trio.Nursery, caplog: pytest.LogCaptureFixture,
) -> None:
    port = await start(nursery)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        with caplog.at_level(logging.ERROR, logger="router.server.http"):
            failed = await client.get("/boom")
        after = await client.get("/v1/incidents/INC1")
    assert (failed.status_code, failed.json()) == (500, {"error": "internal error"})
    assert "secret detail" not in failed.text
    assert after.status_code == 200
    [record] = caplog.records
    assert record.getMessage() == "handler failed: GET /boom"
    assert record.exc_info is not None


async def test_bad_request_from_a_handler_is_400_naming_the_field(nursery: trio.Nursery) -> None:
    port = await start(nursery)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        response = await client.get("/bad")
    assert (response.status_code, response.json()) == (
        400, {"error": "labels.service: is required"})


async def test_slow_handler_is_503(nursery: trio.Nursery, autojump_clock: trio.testing.MockClock,
                                   caplog: pytest.LogCaptureFixture) -> None:
    port = await start(nursery)
    with caplog.at_level(logging.ERROR, logger="router.server.http"):
        raw = await exchange(port, request("GET", "/slow?seconds=99", b"", "Connection: close"))
    [(status, _, body)] = parse(raw)
    assert (status, json.loads(body)) == (503, {"error": "request not handled in time"})
    assert [record.getMessage() for record in caplog.records] == [
        "handler timed out: GET /slow"]


async def test_head_answers_get_headers_without_body(nursery: trio.Nursery) -> None:
    port = await start(nursery)
    raw = await exchange(port, request("HEAD", "/v1/rotas/primary.ics", b"", "Connection: close"))
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert f"content-length: {len(ICS)}".encode() in head.lower()
    assert body == b""


async def test_204_has_no_body_and_a_204_with_one_is_500(
    nursery: trio.Nursery, caplog: pytest.LogCaptureFixture,
) -> None:
    port = await start(nursery)
    with caplog.at_level(logging.ERROR, logger="router.server.http"):
        raw = await exchange(port, request("POST", "/empty") + request("POST", "/empty", b"x")
                             + request("POST", "/empty", b"", "Connection: close"))
    assert raw.startswith(b"HTTP/1.1 204 No Content\r\n")
    assert b"content-length" not in raw.partition(b"\r\n\r\n")[0]
    assert [status for status, _, _ in parse(raw)] == [204, 500, 204]
    assert [record.getMessage() for record in caplog.records] == [
        "handler answered an invalid response: 204"]


async def test_connection_close_is_honoured(nursery: trio.Nursery) -> None:
    port = await start(nursery)
    raw = await exchange(port, request("GET", "/v1/incidents/X", b"", "Connection: close"))
    [(status, headers, _)] = parse(raw)
    assert (status, headers["connection"]) == (200, "close")


async def test_excess_connections_wait_for_a_slot(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock,
) -> None:
    port = await start(nursery, Limits(max_connections=1, header_timeout=timedelta(seconds=10)))
    async with await trio.open_tcp_stream("127.0.0.1", port) as holder:
        raw = await exchange(port, request("GET", "/v1/incidents/X", b"", "Connection: close"))
        assert trio.current_time() == pytest.approx(10, abs=0.5)  # holder timed out: 408
        assert parse(await read_until_eof(holder))[0][0] == 408
    assert parse(raw)[0][0] == 200


async def test_client_that_does_not_read_is_dropped_after_the_send_timeout(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock,
) -> None:
    limits = Limits(max_connections=1, send_timeout=timedelta(seconds=10))
    port = await start(nursery, limits)
    async with await trio.open_tcp_stream("127.0.0.1", port) as stalled:
        await stalled.send_all(request("GET", "/large"))
        # The only slot frees when the server gives up on `stalled`, 10 s on.
        raw = await exchange(port, request("GET", "/v1/incidents/X", b"", "Connection: close"))
        assert trio.current_time() == pytest.approx(10, abs=0.5)
    assert parse(raw)[0][0] == 200


async def test_shutdown_finishes_in_flight_and_closes_idle(
    autojump_clock: trio.testing.MockClock,
) -> None:
    shutdown, entered = trio.Event(), trio.Event()
    results: dict[str, bytes] = {}
    async with trio.open_nursery() as server:
        port = await start(server, shutdown=shutdown, entered=entered)
        idle = await trio.open_tcp_stream("127.0.0.1", port)
        await idle.send_all(request("GET", "/v1/incidents/X"))
        await read_head(idle)

        async def slow_client() -> None:
            results["slow"] = await exchange(port, request("GET", "/slow?seconds=5"))

        async with trio.open_nursery() as clients:
            clients.start_soon(slow_client)
            await entered.wait()
            shutdown.set()
            results["idle"] = await read_until_eof(idle)
            assert trio.current_time() < 1  # idle connection closed at once
    await idle.aclose()
    assert trio.current_time() == pytest.approx(5, abs=0.5)  # returned after the slow one
    assert results["idle"] == b""
    [(status, headers, body)] = parse(results["slow"])
    assert (status, headers["connection"], json.loads(body)) == (200, "close", {"slept": True})
    with pytest.raises(OSError):
        await trio.open_tcp_stream("127.0.0.1", port)


async def test_shutdown_cuts_requests_that_outlive_the_grace(
    autojump_clock: trio.testing.MockClock,
) -> None:
    shutdown, entered = trio.Event(), trio.Event()
    async with trio.open_nursery() as server:
        port = await start(server, shutdown=shutdown, entered=entered)
        async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
            await stream.send_all(request("GET", "/slow?seconds=600"))
            await entered.wait()
            shutdown.set()
            assert await read_until_eof(stream) == b""
    assert trio.current_time() == pytest.approx(10, abs=0.5)


def test_routes_prefer_static_then_most_literal_pattern() -> None:
    async def handler(request: Request) -> Response:
        return Response(204)

    routes = Routes()
    for pattern in ("/v1/rotas/{id}", "/v1/rotas/{id}.ics", "/v1/rotas/current"):
        routes.add("GET", pattern, handler)
    assert routes.find("GET", "/v1/rotas/current") == (handler, {})
    assert routes.find("GET", "/v1/rotas/a.ics") == (handler, {"id": "a"})
    assert routes.find("GET", "/v1/rotas/.ics") == (handler, {"id": ".ics"})
    assert routes.find("GET", "/v1/rotas/b") == (handler, {"id": "b"})
    assert routes.find("GET", "/v1/rotas/") == Response.error(404, "not found")


@pytest.mark.parametrize(("pattern", "message"), [
    ("/v1/{a}{b}", "route '/v1/{a}{b}': a segment holds at most one {name}"),
    ("/v1/{}", "route '/v1/{}': a segment holds at most one {name}"),
    ("v1", "route 'v1' must start with '/'"),
    ("/echo", "route GET /echo added twice"),
])
def test_routes_reject_bad_patterns(pattern: str, message: str) -> None:
    async def handler(request: Request) -> Response:
        return Response(204)

    routes = Routes()
    routes.add("GET", "/echo", handler)
    with pytest.raises(ValueError) as raised:
        routes.add("GET", pattern, handler)
    assert str(raised.value) == message


@pytest.mark.parametrize(("target", "expected"), [
    (b"/v1/alerts", ("/v1/alerts", {})),
    (b"/v1/incidents?state=open&state=acknowledged&since=", (
        "/v1/incidents", {"state": ("open", "acknowledged"), "since": ("",)})),
    (b"/v1/rotas/on%20call.ics", ("/v1/rotas/on call.ics", {})),
    (b"http://router.example:8080/healthz?x=1", ("/healthz", {"x": ("1",)})),
])
def test_split_target(target: bytes, expected: tuple[str, dict[str, tuple[str, ...]]]) -> None:
    assert split_target(target) == expected


# What the parser (httptools, llhttp) decides, each answered without a traceback.

async def test_a_request_line_over_the_head_limit_is_431(nursery: trio.Nursery) -> None:
    port = await start(nursery)
    [(status, headers, body)] = parse(await exchange(
        port, request("GET", "/v1/incidents/" + "x" * 3000)))
    assert (status, headers["connection"], json.loads(body)) == (
        431, "close", {"error": "request head is over 2000 bytes"})


async def test_a_header_that_never_ends_is_431_before_it_is_whole(
        nursery: trio.Nursery, autojump_clock: trio.testing.MockClock) -> None:
    """llhttp shows a header only once its line ends; the bytes received for an unfinished
    head count against the limit, so a client cannot grow one without bound."""
    port = await start(nursery)
    async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
        await stream.send_all(b"GET /v1/incidents/X HTTP/1.1\r\nHost: t\r\nX-Big: ")
        for _ in range(3):
            await trio.sleep(0.1)
            await stream.send_all(b"a" * 1000)
        [(status, _, body)] = parse(await read_until_eof(stream))
    assert (status, json.loads(body)) == (431, {"error": "request head is over 2000 bytes"})
    assert trio.current_time() < 1  # refused at once, not at the header timeout


async def test_a_bad_chunk_size_is_400(nursery: trio.Nursery) -> None:
    port = await start(nursery)
    raw = await exchange(port, b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked"
                         b"\r\n\r\nzz\r\nabc\r\n0\r\n\r\n")
    [(status, headers, body)] = parse(raw)
    assert (status, headers["connection"]) == (400, "close")
    assert json.loads(body) == {"error": "malformed request: Invalid character in chunk size"}


@pytest.mark.parametrize(("data", "message"), [
    (b"GET /v1/incidents/X HTTP/2.0\r\nHost: t\r\n\r\n",
     "malformed request: HTTP/2.0 is not supported: use HTTP/1.1"),
    (b"GET /v1/incidents/X HTTP/1.1\r\n\r\n", "malformed request: no Host header"),
    (b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
     "malformed request: Duplicate Content-Length"),
    (b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked"
     b"\r\n\r\n0\r\n\r\n", "malformed request: Transfer-Encoding can't be present with "
     "Content-Length"),
    (b"POST /echo HTTP/1.1\r\nHost: t\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n"
     b"Content-Length: 3\r\n\r\nabc",
     "malformed request: an upgrade request cannot carry a body here"),
])
async def test_requests_llhttp_or_the_reader_refuse_are_400(
        nursery: trio.Nursery, data: bytes, message: str) -> None:
    port = await start(nursery)
    [(status, headers, body)] = parse(await exchange(port, data))
    assert (status, headers["connection"], json.loads(body)) == (
        400, "close", {"error": message})


async def test_an_upgrade_is_not_made_the_request_is_answered_then_closed(
        nursery: trio.Nursery) -> None:
    """`curl --http2 http://...` asks for h2c: it gets its answer over HTTP/1.1, no 101,
    and the connection closes, since what follows an upgrade request is not HTTP."""
    port = await start(nursery)
    raw = await exchange(port, request(
        "GET", "/v1/incidents/X", b"", "Upgrade: h2c", "Connection: Upgrade, HTTP2-Settings",
        "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA") + request("GET", "/v1/incidents/Y"))
    [(status, headers, body)] = parse(raw)
    assert (status, headers["connection"], json.loads(body)["id"]) == (200, "close", "X")


async def test_http_1_0_is_closed_unless_it_asks_for_keep_alive(nursery: trio.Nursery) -> None:
    port = await start(nursery)
    [(status, headers, _)] = parse(await exchange(port, b"GET /v1/incidents/X HTTP/1.0\r\n\r\n"))
    assert (status, headers["connection"]) == (200, "close")
    kept = b"GET /v1/incidents/A HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
    raw = await exchange(port, kept + b"GET /v1/incidents/B HTTP/1.0\r\n\r\n")
    [first, second] = parse(raw)
    assert first[1]["connection"] == "keep-alive"
    assert [json.loads(body)["id"] for _, _, body in (first, second)] == ["A", "B"]
    assert second[1]["connection"] == "close"


async def test_pipelined_requests_before_a_refused_one_are_answered_first(
        nursery: trio.Nursery) -> None:
    port = await start(nursery)
    raw = await exchange(port, request("POST", "/echo", b"one") + request(
        "GET", "/v1/incidents/X") + b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000"
        b"\r\n\r\n")
    answers = parse(raw)
    assert [status for status, _, _ in answers] == [200, 200, 413]
    assert answers[2][1]["connection"] == "close"


async def test_header_values_lose_surrounding_whitespace(nursery: trio.Nursery) -> None:
    port = await start(nursery)
    raw = await exchange(port, request("POST", "/echo", b"x", "Content-Type:   text/plain \t",
                                       "Connection: close"))
    [(_, _, body)] = parse(raw)
    assert json.loads(body) == {"body": "x", "type": "text/plain"}


async def test_a_response_header_with_cr_lf_is_500_not_sent(
        nursery: trio.Nursery, caplog: pytest.LogCaptureFixture) -> None:
    port = await start(nursery)
    with caplog.at_level(logging.ERROR, logger="router.server.http"):
        raw = await exchange(port, request("GET", "/inject", b"", "Connection: close"))
    [(status, headers, _)] = parse(raw)
    assert status == 500 and "set-cookie" not in headers
    assert [record.getMessage() for record in caplog.records] == [
        "handler answered an invalid response: 200"]


async def test_a_client_that_ends_mid_request_gets_400(nursery: trio.Nursery) -> None:
    port = await start(nursery)
    async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
        await stream.send_all(request("POST", "/echo", b"", "Content-Length: 10") + b"abc")
        await stream.send_eof()
        [(status, _, body)] = parse(await read_until_eof(stream))
    assert (status, json.loads(body)) == (
        400, {"error": "malformed request: the connection ended mid-request"})


async def test_trailers_do_not_reach_the_request_headers(nursery: trio.Nursery) -> None:
    """llhttp shows a chunked body's trailer fields as headers, after the head: they are
    dropped, as h11 dropped them, so nothing sent after the head can change it."""
    port = await start(nursery)
    raw = await exchange(port, b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                         b"Connection: close\r\n\r\n3\r\nabc\r\n0\r\n"
                         b"Content-Type: text/evil\r\n\r\n")
    [(status, _, body)] = parse(raw)
    assert (status, json.loads(body)) == (200, {"body": "abc", "type": ""})
