"""The OpenAI-compatible provider (issue 21 item 4) against a stand-in `/v1/chat/completions`
on loopback (real HTTP): a good answer, JSON in a ```json fence, a 500, no answer in time,
and garbage; every failure falls back to the local provider with `fallback_used` and why.
And nothing leaves the host unless such a provider is configured."""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from router.analysis.local import LocalProvider
from router.analysis.model import Request, Result
from router.analysis.openai import ModelProvider, parse_answer
from router.config.model import Analysis, Secret

ANSWER = {"summary": "The disk filled with logs.", "probable_cause": "log rotation stopped",
          "confidence": 0.8, "recommendations": [
              {"type": "disk", "priority": "HIGH", "title": "Rotate the logs",
               "description": "logrotate has not run", "actions": ["logrotate -f /etc/x"]},
              {"type": "disk", "priority": "urgent!", "title": "Watch the disk"},
              {"priority": "low"}]}


class StandIn:
    """`/v1/chat/completions` on 127.0.0.1: answers what `reply` returns for each request."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self.reply: Callable[[], tuple[int, bytes]] = lambda: (200, b"{}")
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append((self.path, dict(self.headers), json.loads(body)))
                status, payload = outer.reply()
                self.send_response(status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, content: str, usage: dict[str, int] | None = None) -> None:
        document = {"choices": [{"message": {"role": "assistant", "content": content}}],
                    **({"usage": usage} if usage else {})}
        self.reply = lambda: (200, json.dumps(document).encode())


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    server = StandIn()
    yield server
    server.release.set()
    server.server.shutdown()
    server.server.server_close()


def provider(url: str, timeout: float = 4.0) -> ModelProvider:
    settings = Analysis(provider="openai_compatible", base_url=url + "/", model="llama3.1",
                        api_key=Secret("sk-local", "${file:model.key}"), max_tokens=300,
                        timeout=timedelta(seconds=timeout))
    return ModelProvider(settings, fallback=LocalProvider(settings))


REQUEST = Request(incident_id="INC3", title="Disk full on db1", severity="critical",
                  labels={"alertname": "DiskFull", "host": "db1"},
                  annotations={"runbook": "https://wiki/disk"},
                  checks={"disk": {"status": "critical", "message": "/ is 97% full"}},
                  past={"by_key": {"count": 2}})


def test_a_good_answer_is_the_result_with_its_token_counts(stand_in: StandIn) -> None:
    stand_in.answer(json.dumps(ANSWER), {"prompt_tokens": 412, "completion_tokens": 96,
                                         "total_tokens": 508})
    result = provider(stand_in.url).analyse(REQUEST)
    assert (result.fallback_used, result.error, result.model) == (False, "", "llama3.1")
    assert (result.summary, result.probable_cause, result.confidence) == (
        "The disk filled with logs.", "log rotation stopped", 0.8)
    assert [(item.priority, item.title, item.actions) for item in result.recommendations] == [
        ("high", "Rotate the logs", ("logrotate -f /etc/x",)),
        ("medium", "Watch the disk", ())]
    assert (result.prompt_tokens, result.completion_tokens, result.total_tokens) == (
        412, 96, 508)
    assert result.findings["local"]["recommendations"]  # the local findings, kept
    path, headers, body = stand_in.requests[0]
    assert path == "/v1/chat/completions"
    assert headers["Authorization"] == "Bearer sk-local"
    assert (body["model"], body["max_tokens"]) == ("llama3.1", 300)
    facts = json.loads(body["messages"][1]["content"])
    assert facts["incident"]["labels"] == {"alertname": "DiskFull", "host": "db1"}
    assert facts["check_results"]["disk"]["status"] == "critical"
    assert facts["past_incidents"] == {"by_key": {"count": 2}}
    assert "Check disk is critical" in [item["title"] for item in
                                        facts["host_findings"]["recommendations"]]


def test_json_in_a_code_fence_is_accepted(stand_in: StandIn) -> None:
    stand_in.answer("Here is my analysis:\n```json\n" + json.dumps(ANSWER) + "\n```\nGood luck")
    result = provider(stand_in.url).analyse(REQUEST)
    assert (result.fallback_used, result.summary) == (False, "The disk filled with logs.")
    assert result.prompt_tokens is None


@pytest.mark.parametrize(("reply", "error"), [
    (lambda: (500, b"internal error"), "the model answered 500"),
    (lambda: (200, b"<html>not json</html>"), "the model's answer is not a chat completion"),
    (None, "the model's answer is not the JSON asked for"),
])
def test_a_failed_answer_falls_back_to_the_local_provider(
        stand_in: StandIn, reply: Callable[[], tuple[int, bytes]] | None, error: str) -> None:
    if reply is None:
        stand_in.answer("I think the disk is full, maybe {restart it}.")
    else:
        stand_in.reply = reply
    result = provider(stand_in.url).analyse(REQUEST)
    local = LocalProvider(Analysis(provider="local")).analyse(REQUEST)
    assert (result.fallback_used, result.error, result.model) == (True, error, "llama3.1")
    assert [item.title for item in result.recommendations if item.type == "check"] == [
        item.title for item in local.recommendations if item.type == "check"]


def test_no_answer_in_time_falls_back(stand_in: StandIn) -> None:
    def hang() -> tuple[int, bytes]:
        stand_in.release.wait(10)
        return 200, b"{}"
    stand_in.reply = hang
    result = provider(stand_in.url, timeout=1.0).analyse(REQUEST)
    assert (result.fallback_used, result.error) == (
        True, "the model gave no answer in 0.75s")


def test_an_unreachable_model_falls_back() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = provider(f"http://127.0.0.1:{port}").analyse(REQUEST)
    assert (result.fallback_used, result.error) == (
        True, "the model could not be reached (ConnectError)")


def test_parse_answer_takes_the_object_out_of_prose() -> None:
    assert parse_answer('Sure! {"recommendations": [], "summary": "x"} Hope it helps.') == {
        "recommendations": [], "summary": "x"}


CONNECTS: list[object] = []
_WATCHING = threading.Event()


def _audit(event: str, arguments: tuple[object, ...]) -> None:
    if _WATCHING.is_set() and event == "socket.connect":
        CONNECTS.append(arguments[1])


sys.addaudithook(_audit)  # audit hooks stay for the process; this one records only while set


def test_the_local_provider_opens_no_connection() -> None:
    CONNECTS.clear()
    _WATCHING.set()
    try:
        result = LocalProvider(Analysis(provider="local")).analyse(Request(
            incident_id="INC3", title="Network timeout, disk and memory", severity="critical",
            labels={"alertname": "CpuLoad"}))
    finally:
        _WATCHING.clear()
    assert set(result.findings["kinds"]) == {"memory", "disk", "cpu", "network"}
    assert CONNECTS == []


def test_a_model_provider_connects_only_to_its_base_url(stand_in: StandIn) -> None:
    stand_in.answer(json.dumps(ANSWER))
    CONNECTS.clear()
    _WATCHING.set()
    try:
        provider(stand_in.url).analyse(REQUEST)
    finally:
        _WATCHING.clear()
    assert [("127.0.0.1", stand_in.server.server_address[1])] == CONNECTS


class Endless:
    """A server that answers 200 and then sends `chunk` every `pause` seconds, for ever
    (no Content-Length: the body ends when the connection does)."""

    def __init__(self, chunk: bytes, pause: float) -> None:
        self.stop = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(200)
                self.end_headers()
                try:
                    while not outer.stop.wait(pause):
                        self.wfile.write(chunk)
                        self.wfile.flush()
                except OSError:  # the client hung up: what the test wants
                    return

            def log_message(self, *args: object) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


def analyse_within(model: ModelProvider, seconds: float) -> Any:
    """The provider's result, or a failure if it has none after `seconds` (the thread is
    left to the stand-in's close)."""
    found: list[Any] = []
    worker = threading.Thread(target=lambda: found.append(model.analyse(REQUEST)),
                              daemon=True)
    worker.start()
    worker.join(seconds)
    assert found, f"the provider was still reading after {seconds}s"
    return found[0]


@pytest.mark.parametrize(("chunk", "pause", "error"), [
    # a model that streams without end: read up to the limit, never all into memory
    (b"x" * 65536, 0.0, "the model's answer is too long"),
    # a model that drips a byte at a time: each read is quick, the whole is not
    (b"x", 0.05, "the model gave no answer in 0.75s"),
])
def test_an_endless_answer_is_cut_at_its_size_or_its_time(
        chunk: bytes, pause: float, error: str) -> None:
    server = Endless(chunk, pause)
    try:
        result = analyse_within(provider(server.url, timeout=1.0), 10)
    finally:
        server.close()
    assert (result.fallback_used, result.error) == (True, error)


def test_values_of_the_wrong_type_are_left_out_not_shown_as_python_text(
        stand_in: StandIn) -> None:
    stand_in.answer(json.dumps({
        "summary": ["a", "b"], "probable_cause": {"x": 1}, "confidence": "0.9",
        "recommendations": [
            {"type": 5, "priority": None, "title": {"t": 1}, "actions": "rm -rf /"},
            "check the disk",
            {"type": ["disk"], "title": "Rotate the logs", "description": 7,
             "actions": ["logrotate -f /etc/x", 1, None]}]}))
    result = provider(stand_in.url).analyse(REQUEST)
    local = LocalProvider(Analysis(provider="local")).analyse(REQUEST)
    assert (result.fallback_used, result.summary, result.probable_cause,
            result.confidence) == (False, local.summary, "", None)
    assert [(item.type, item.priority, item.title, item.description, item.actions)
            for item in result.recommendations] == [
        ("general", "medium", "Rotate the logs", "", ("logrotate -f /etc/x",))]


@pytest.mark.parametrize("confidence", ["NaN", "Infinity", "-Infinity"])
def test_a_confidence_that_is_no_number_is_none(stand_in: StandIn, confidence: str) -> None:
    stand_in.answer('{"summary": "s", "confidence": ' + confidence
                    + ', "recommendations": [{"title": "t"}]}')
    assert provider(stand_in.url).analyse(REQUEST).confidence is None


def test_an_answer_none_of_whose_recommendations_is_usable_falls_back(
        stand_in: StandIn) -> None:
    stand_in.answer(json.dumps({"summary": "s", "recommendations": [{"title": 3}, "x"]}))
    result = provider(stand_in.url).analyse(REQUEST)
    assert (result.fallback_used, result.error) == (
        True, "the model's answer is not the JSON asked for")


class SlowLocal:
    """A fallback that takes most of the analysis's time (a long `scan_time`)."""

    name = "local"

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def analyse(self, request: Request) -> Result:
        time.sleep(self.seconds)
        return Result(summary="looked at the host", recommendations=())


def test_the_model_s_share_counts_from_the_start_so_the_fallback_fits_the_timeout(
        stand_in: StandIn) -> None:
    """The local provider runs first: the model's three quarters of `timeout` count from
    the analysis's start, else a slow local scan plus the model's whole share overran the
    timeout and the run failed with no result instead of falling back."""
    def hang() -> tuple[int, bytes]:
        stand_in.release.wait(10)
        return 200, b"{}"
    stand_in.reply = hang
    settings = provider(stand_in.url, timeout=2.0).settings
    started = time.monotonic()
    result = ModelProvider(settings, fallback=SlowLocal(1.2)).analyse(REQUEST)
    assert time.monotonic() - started < 2.0
    assert (result.fallback_used, result.summary) == (True, "looked at the host")
    assert result.error == "the model gave no answer in 1.5s"


def test_a_local_analysis_that_took_the_model_s_share_leaves_the_model_out(
        stand_in: StandIn) -> None:
    settings = provider(stand_in.url, timeout=1.0).settings
    result = ModelProvider(settings, fallback=SlowLocal(0.8)).analyse(REQUEST)
    assert (result.fallback_used, result.error) == (True, "the model gave no answer in 0.75s")
    assert stand_in.requests == []


@pytest.mark.parametrize(("body", "error"), [
    (b"[" * 100_000, "the model's answer is not a chat completion"),
    (json.dumps({"choices": [{"message": {"content": "[" * 100_000}}]}).encode(),
     "the model's answer is not the JSON asked for"),
])
def test_a_deeply_nested_answer_falls_back(stand_in: StandIn, body: bytes,
                                          error: str) -> None:
    """json raises RecursionError (no ValueError) on deep nesting: it is a bad answer like
    any other, not the run's failure."""
    stand_in.reply = lambda: (200, body)
    result = provider(stand_in.url).analyse(REQUEST)
    assert (result.fallback_used, result.error) == (True, error)
