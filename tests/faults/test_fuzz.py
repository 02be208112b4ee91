"""Fuzzing one running daemon at every HTTP route and its unix socket (tests/faults/
strategies.py says what is sent): no answer is a 5xx (but a 503 with Retry-After), no
request goes unanswered, the daemon stays alive and its memory bounded.

One daemon serves the whole module, so thousands of requests pile up in one process as they
would in production. Examples are derandomized, so a failure reproduces on the next run;
FAULTS_FUZZ_RANDOM=1 explores new ones, FAULTS_FUZZ_SCALE=4 sends four times as many.
"""

from __future__ import annotations

import os
import re
import socket
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings

from tests.e2e.conftest import Daemon, Daemons, LineClient, incident_ids
from tests.faults.strategies import (
    MAX_BODY,
    MAX_LINE,
    ROUTES,
    HttpCase,
    http_cases,
    raw_requests,
    socket_lines,
)
from tests.faults.support import alive, api, auth_headers, config, rss_bytes

SCALE = float(os.environ.get("FAULTS_FUZZ_SCALE", "1"))
HTTP_EXAMPLES = int(1500 * SCALE)
RAW_EXAMPLES = int(300 * SCALE)
SOCKET_EXAMPLES = int(1500 * SCALE)
RSS_LIMIT = 200 * 1024 * 1024
RAW_TIMEOUT = 10.0  # seconds for the daemon to answer or close a raw request

FUZZ = settings(deadline=None, derandomize=os.environ.get("FAULTS_FUZZ_RANDOM") != "1",
                database=None, print_blob=True, suppress_health_check=list(HealthCheck))

GENERIC = """\
  public_url: http://127.0.0.1:9080
  generic_webhooks:
    - name: monitor
      summary: message
      severity: priority
      dedup_key: id
      labels: details
"""
CHANNELS = """\
  - {id: log, type: log}
  - {id: slack, type: slack, webhook_url: "http://127.0.0.1:9/slack", retry_for: 1m}
"""


@dataclass
class Tally:
    """What the daemon answered, and how much memory it held at most."""

    daemon: Daemon
    statuses: Counter[int] = field(default_factory=Counter)
    reset_oversized: int = 0  # connections reset on a body over the limit (issue 13, item 8)
    peak_rss: int = 0
    sent: int = 0
    log_start: int = field(init=False)

    def __post_init__(self) -> None:
        self.log_start = len(self.daemon.log())

    def new_log(self) -> str:
        """What the daemon logged since this tally began."""
        return self.daemon.log()[self.log_start:]

    def count(self, status: int) -> None:
        self.statuses[status] += 1
        self.sent += 1
        if self.sent % 100 == 0:
            assert alive(self.daemon), f"the daemon died; its log:\n{self.daemon.log()[-5000:]}"
            self.peak_rss = max(self.peak_rss, rss_bytes(self.pid))

    @property
    def pid(self) -> int:
        assert self.daemon.process is not None
        return self.daemon.process.pid


@pytest.fixture(scope="module")
def daemon(module_daemons: Daemons) -> Daemon:
    """One daemon for the module, with one incident (INC1) to act on."""
    started = module_daemons.start(config(CHANNELS, service_channels="log", settings=GENERIC))
    with api(started) as client:
        assert incident_ids(client.post("/v1/alerts", json={
            "summary": "Seed", "severity": "critical", "labels": {"seed": "1"}})) == ["INC1"]
    return started


def server_error(status: int, headers: httpx.Headers | dict[str, str]) -> bool:
    """A 5xx, but for a 503 that says when to come back."""
    return status >= 500 and not (status == 503 and "retry-after" in headers)


def check_finally(tally: Tally) -> None:
    assert alive(tally.daemon)
    tally.peak_rss = max(tally.peak_rss, rss_bytes(tally.pid))
    print(f"{tally.sent} sent; answers {sorted(tally.statuses.items())}; "
          f"{tally.reset_oversized} oversized resets; peak RSS {tally.peak_rss >> 20} MB")
    assert tally.peak_rss < RSS_LIMIT
    with api(tally.daemon) as client:
        assert client.get("/healthz").status_code == 200
    failures = [line for line in tally.new_log().splitlines() if "Traceback" in line]
    assert failures == [], failures[:3]


def test_the_route_table_is_complete() -> None:
    """The fuzz reaches every route (a sanity check on reading build_routes)."""
    assert len(ROUTES) >= 30
    assert {("POST", "/v1/alerts"), ("POST", "/v1/incidents/{id}/acknowledge"),
            ("GET", "/v1/rotas/{id}.ics"), ("POST", "/-/reload"),
            ("GET", "/metrics")} <= set(ROUTES)


JSON_ENDPOINTS = ["/v1/rotas/primary/overrides", "/v1/silences",
                  "/v1/incidents/INC1/acknowledge"]
BAD_JSON = {
    "deep list": b"[" * 5000 + b"]" * 5000,
    "deep object": b'{"a":' * 5000 + b"1" + b"}" * 5000,
    "a number of 5000 digits": b'{"by": ' + b"1" * 5000 + b"}",
    "not UTF-8": b"{\"by\": \"\xff\"}",
}


@pytest.mark.parametrize("path", JSON_ENDPOINTS)
@pytest.mark.parametrize("name", sorted(BAD_JSON))
def test_a_body_python_cannot_read_is_a_400(daemon: Daemon, path: str, name: str) -> None:
    """Found by the fuzz: json.loads raises RecursionError (500) or a plain ValueError (409)
    for these, which the ingest formats already answer 400."""
    with api(daemon) as client:
        answer = client.post(path, content=BAD_JSON[name],
                             headers={"content-type": "application/json"})
    assert answer.status_code == 400, answer.text
    assert answer.json()["field"] == ""
    assert answer.json()["error"].startswith("expected a JSON object: ")


def test_http_fuzz_every_route(daemon: Daemon) -> None:
    tally = Tally(daemon)
    with api(daemon, timeout=30.0) as client:

        @settings(FUZZ, max_examples=HTTP_EXAMPLES)
        @given(case=http_cases())
        def fuzz(case: HttpCase) -> None:
            headers = {**auth_headers(daemon), **case.headers}
            try:
                answer = client.request(case.method, case.target, content=case.body,
                                        headers=headers)
            except httpx.TransportError as error:
                if len(case.body) > MAX_BODY:
                    tally.reset_oversized += 1
                    return
                raise AssertionError(f"no answer: {error!r}") from error
            tally.count(answer.status_code)
            assert not server_error(answer.status_code, answer.headers), answer.text[:2000]

        fuzz()
    check_finally(tally)


_STATUS = re.compile(rb"HTTP/1\.[01] ([0-9]{3}) ")


def statuses(data: bytes) -> list[tuple[int, bytes]]:
    """The status and head of every response in `data`."""
    found = []
    for match in _STATUS.finditer(data):
        head_end = data.find(b"\r\n\r\n", match.start())
        found.append((int(match.group(1)), data[match.start():head_end]))
    return found


def send_raw(port: int, request: bytes) -> bytes:
    """Send `request`, close our side, and read until the daemon closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=RAW_TIMEOUT) as connection:
        try:
            connection.sendall(request)
            connection.shutdown(socket.SHUT_WR)
        except OSError:  # it answered and closed before reading everything
            pass
        received = bytearray()
        while True:
            try:
                data = connection.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            received += data
    return bytes(received)


def test_raw_http_framing_fuzz(daemon: Daemon) -> None:
    tally = Tally(daemon)

    @settings(FUZZ, max_examples=RAW_EXAMPLES)
    @given(request=raw_requests())
    def fuzz(request: bytes) -> None:
        for name, value in auth_headers(daemon).items():  # after the request line
            request = request.replace(b"\r\n", f"\r\n{name}: {value}\r\n".encode(), 1)
        try:
            answer = send_raw(daemon.port, request)
        except TimeoutError:
            raise AssertionError(f"neither answered nor closed in {RAW_TIMEOUT:g} s") from None
        assert statuses(answer), f"closed without an answer: {answer[:300]!r}"
        for status, head in statuses(answer):
            tally.count(status)
            assert not server_error(status, {"retry-after": ""} if b"retry-after" in
                                    head.lower() else {}), answer[:2000]

    fuzz()
    check_finally(tally)


def socket_error(reply: dict[str, Any]) -> bool:
    """A reply that reports the daemon's own failure (code 500; not a 503, which says the
    line took too long)."""
    body = reply.get("body")
    if isinstance(body, dict) and body.get("type") == "error":
        code = body.get("code")
        return not isinstance(code, int) or (code >= 500 and code != 503)
    return reply.get("error") == "internal error"


def test_socket_fuzz(daemon: Daemon) -> None:
    tally = Tally(daemon)
    holder: list[LineClient] = [daemon.connect()]

    def ask(line: bytes) -> dict[str, Any] | None:
        """The reply, or None when the daemon reset a connection it had answered 413."""
        try:
            holder[0].send_line(line)
        except (BrokenPipeError, ConnectionResetError):
            assert len(line) > MAX_LINE, f"connection lost on a line of {len(line)} bytes"
        try:
            return holder[0].receive()
        except ConnectionResetError:
            assert len(line) > MAX_LINE
            tally.reset_oversized += 1
            return None

    @settings(FUZZ, max_examples=SOCKET_EXAMPLES)
    @given(line=socket_lines)
    def fuzz(line: bytes) -> None:
        reply = ask(line)
        if reply is None or len(line) > MAX_LINE:  # answered 413, and closed
            if reply is not None:
                assert reply["body"]["code"] == 413, reply
            holder[0].close()
            holder[0] = daemon.connect()
            return
        body = reply.get("body")
        tally.count(body.get("code", 200) if isinstance(body, dict) else 200)
        assert not socket_error(reply), (line[:500], reply)

    try:
        fuzz()
    finally:
        holder[0].close()
    check_finally(tally)
