"""Bad input over real HTTP: every mistake a sender can make is a 4xx with a JSON error
naming the field, never a 500 or a crash, and it stores nothing. One daemon serves the whole
module on each store (`backend`); the last test checks it is still healthy after all of it."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Backend, Daemon, Daemons

LIMIT = 1024 * 1024  # settings.max_body_bytes by default
HEADER_TIMEOUT = 10.0  # server/http.py Limits.header_timeout; not a config setting


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, backend: Backend) -> Iterator[Daemon]:
    daemons = Daemons(tmp_path_factory.mktemp("bad-input"), backend)
    try:
        yield daemons.start()
    finally:
        daemons.close()


@pytest.fixture
def client(daemon: Daemon) -> Iterator[httpx.Client]:
    with daemon.client() as client:
        yield client


def refused(response: httpx.Response, status: int, field: str | None = None) -> str:
    """The error message of a JSON error answer with `status` (and `field`)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    if field is not None:
        assert body == {"error": body["error"], "field": field}
    message: str = body["error"]
    return message


UNQUOTED = "invalid JSON at line 1, column 17: Expecting property name enclosed in double quotes"
LABELS_LIST = "expected a mapping of label names to text, got a list"


@pytest.mark.parametrize(("path", "body", "field", "message"), [
    pytest.param("/v1/alerts", b'{"summary": "x",', "", UNQUOTED, id="unfinished"),
    pytest.param("/v1/alerts", b'{"summary": "x",}', "", UNQUOTED, id="trailing-comma"),
    pytest.param("/v1/alerts", b'{"summary": NaN}', "", "invalid JSON: NaN is not a JSON number",
                 id="nan"),
    pytest.param("/v1/alerts", b"", "", "invalid JSON at line 1, column 1: Expecting value",
                 id="empty"),
    pytest.param("/v1/alerts", b'{"summary": "\xff"}', "",
                 "the body is not valid UTF-8 (byte 13)", id="not-utf8"),
    pytest.param("/v1/alerts", b'{"summary": 5}', "summary", "expected text, got a number",
                 id="wrong-type"),
    pytest.param("/v1/alerts", b'{"summary": "x", "severity": "loud"}', "severity",
                 "expected one of critical, error, warning, info; got 'loud'",
                 id="unknown-severity"),
    pytest.param("/v1/alerts", b'[{"summary": "a"}, {"summary": "b", "labels": ["x"]}]',
                 "[1].labels", LABELS_LIST, id="second-of-list"),
    pytest.param("/v1/ingest/alertmanager", b'{"alerts": "nope"}', "alerts",
                 "expected a list of alerts, got text", id="alertmanager"),
    pytest.param("/api/v2/alerts", b'[{"labels": {}}]', "[0].labels", None, id="v2"),
    pytest.param("/v1/ingest/grafana", b'"just text"', "", None, id="grafana"),
    pytest.param("/v1/ingest/datadog", b'{"title": 3}', "title", None, id="datadog"),
])
def test_bad_body(client: httpx.Client, path: str, body: bytes, field: str,
                  message: str | None) -> None:
    response = client.post(path, content=body, headers={"content-type": "application/json"})
    text = refused(response, 400, field)
    if message is not None:
        assert text == message


def test_pagerduty_bad_event(client: httpx.Client) -> None:
    response = client.post("/v2/enqueue", content=b'{"routing_key": 32}',
                           headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json() == {"status": "invalid event", "message": "Event object is invalid",
                               "errors": ["routing_key: expected text, got a number"]}


def test_too_many_alerts(client: httpx.Client) -> None:
    alerts = [{"summary": f"alert {number}", "status": "resolved"} for number in range(1001)]
    response = client.post("/v1/alerts", json=alerts)
    assert refused(response, 400, "") == "at most 1000 alerts per request, got 1001"
    # The limit itself is fine (resolved alerts of no open incident store no incident).
    response = client.post("/v1/alerts", json=alerts[:1000])
    assert response.status_code == 202, response.text
    assert {item["incident_id"] for item in response.json()["incidents"]} == {None}


def test_body_over_the_limit(client: httpx.Client) -> None:
    body = b'{"summary": "' + b"x" * LIMIT + b'"}'
    message = f"request body is over {LIMIT} bytes"
    assert refused(client.post("/v1/alerts", content=body), 413) == message

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is found while reading
        for start in range(0, len(body), 65536):
            yield body[start:start + 65536]

    assert refused(client.post("/v1/alerts", content=chunks()), 413) == message


@pytest.mark.parametrize(("method", "path", "status"), [
    ("POST", "/v1/ingest/nagios", 404),
    ("GET", "/nope", 404),
    ("POST", "/v1/incidents/INC999/acknowledge", 404),
    ("GET", "/v1/alerts", 405),
])
def test_unknown_path_or_method(client: httpx.Client, method: str, path: str,
                                status: int) -> None:
    response = client.request(method, path)
    message = refused(response, status)
    if status == 405:
        assert response.headers["allow"] == "POST"
        assert message == "method not allowed"
    elif path.startswith("/v1/incidents"):
        assert message == "no incident INC999"
    elif path.startswith("/v1/ingest/"):  # POST /v1/ingest/{format} names the known ones
        assert message.startswith("no format 'nagios'; expected one of: ")
    else:
        assert message == "not found"


@pytest.mark.parametrize(("path", "field", "message"), [
    # Once a 500: the number overflowed SQLite's INTEGER in the store.
    ("/v1/incidents/INC99999999999999999999999", "incident_id",
     "expected an incident id like INC12, got 'INC99999999999999999999999'"),
    # Once a 409: isdigit() takes '²' as a digit, int() does not.
    ("/v1/incidents/INC%C2%B2", "incident_id", "expected an incident id like INC12, got 'INC²'"),
    # Once a 500: the next handoff after the instant is past datetime.max (or before min).
    ("/v1/oncall?at=9999-12-31T23:59:59Z", "at",
     "expected an instant between the years 1000 and 9000, got '9999-12-31T23:59:59Z'"),
    ("/v1/rotas/primary/shifts?from=0001-01-01T00:00:00%2B14:00", "from",
     "expected an instant between the years 1000 and 9000, got '0001-01-01T00:00:00+14:00'"),
    ("/v1/fatigue?until=9999-01-01T00:00:00Z", "until",
     "expected an instant between the years 1000 and 9000, got '9999-01-01T00:00:00Z'"),
])
def test_bad_query(client: httpx.Client, path: str, field: str, message: str) -> None:
    assert refused(client.get(path), 400, field) == message


def test_socket_bad_values(daemon: Daemon) -> None:
    with daemon.connect() as connection:
        resolve = connection.ask({"src": "a", "dest": "router", "body": {
            "type": "resolve_incident", "msg_id": 1, "incident_id": "INC" + "9" * 30}})
        assert resolve["body"]["code"] == 400, resolve
        on_call = connection.ask({"src": "a", "dest": "router", "body": {
            "type": "get_on_call", "msg_id": 2, "team": "primary", "at": "9999-12-31T23:59Z"}})
        assert on_call["body"] == {
            "type": "error", "in_reply_to": 2, "code": 400,
            "text": "at: expected an instant between the years 1000 and 9000, got "
                    "'9999-12-31T23:59Z'"}


def raw_exchange(daemon: Daemon, data: bytes, timeout: float = 5.0) -> bytes:
    """Send bytes on a fresh connection and read until the server closes it."""
    with socket.create_connection(("127.0.0.1", daemon.port), timeout=timeout) as connection:
        connection.sendall(data)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    return received


def answer_of(raw: bytes) -> tuple[bytes, Any]:
    """The status line and JSON body of one raw HTTP answer."""
    head, _, body = raw.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0], json.loads(body)


def test_malformed_request_line(daemon: Daemon) -> None:
    status, body = answer_of(raw_exchange(daemon, b"NOT HTTP AT ALL\r\n\r\n"))
    assert status == b"HTTP/1.1 400 Bad Request"
    assert body["error"].startswith("malformed request: ")


def test_slow_clients_are_answered_408_and_closed(daemon: Daemon) -> None:
    """One client sends half a head, another nothing; neither may hold its connection past
    the header timeout (10 s, not configurable: this test waits that long)."""
    started = time.monotonic()
    half, silent = (socket.create_connection(("127.0.0.1", daemon.port),
                                             timeout=HEADER_TIMEOUT + 5) for _ in range(2))
    with half, silent:
        half.sendall(b"POST /v1/alerts HTTP/1.1\r\nHost: router\r\nContent-Type: applic")
        for connection in (half, silent):
            received = b""
            while chunk := connection.recv(65536):
                received += chunk
            status, body = answer_of(received)
            assert status == b"HTTP/1.1 408 Request Timeout"
            assert body == {"error": "request head not received in time"}
    assert HEADER_TIMEOUT - 0.5 < time.monotonic() - started < HEADER_TIMEOUT + 3


def test_still_healthy_and_nothing_stored(daemon: Daemon, client: httpx.Client) -> None:
    assert daemon.process is not None and daemon.process.poll() is None
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/v1/incidents").json() == {"incidents": []}
    log = daemon.log()
    assert "Traceback" not in log and '"level": "ERROR"' not in log, log
