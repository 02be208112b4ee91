"""Hypothesis strategies for fuzzing a running daemon: HTTP requests to every route the
daemon serves, raw HTTP/1.1 requests with broken framing, and unix socket lines.

Routes come from router.server.api.build_routes itself, so a new route is fuzzed without
anyone remembering to add it here. Bodies are, by the route: the real example payloads of
each inbound format (and of the lifecycle, silence and override endpoints) with one to three
fields replaced or deleted, random JSON, random bytes, unicode that is not UTF-8, and huge
or deep values.

Label values stay under 8 KB: the Alertmanager fingerprint is quadratic in a label's length
(issue 13, item 1; tests/faults/test_cpu_dos.py covers it), and a 30 KB label would stall
the daemon for seconds per request, making the fuzz a test of that one bug.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote, urlencode

from hypothesis import strategies as st

from router.server.api import build_routes
from tests.alerts.formats.test_robustness import DELETE, example, json_values, paths, replaced

MAX_BODY = 1_048_576  # settings.max_body_bytes by default
MAX_LINE = 1_048_576  # the socket's SocketLimits.max_line_bytes
LONGEST_LABEL = 8_000  # see the module docstring


def route_table() -> list[tuple[str, str]]:
    """Every (method, pattern) the daemon's API serves, e.g. ("POST", "/v1/silences")."""
    async def unused() -> Any:
        raise AssertionError("not called")
    stub: Any = SimpleNamespace()
    pages: Any = SimpleNamespace(show=unused, acknowledge=unused)
    routes = build_routes(stub, None, reload=unused, metrics=unused, link_pages=pages)
    table = [(method, path) for path, handlers in routes._static.items()
             for method in handlers]
    for bucket in routes._patterns.values():
        for pattern in bucket:
            text = "/".join(prefix + (f"{{{name}}}" if name else "") + suffix
                            for prefix, name, suffix in pattern.segments)
            table += [(method, text) for method in pattern.handlers]
    return sorted(table)


ROUTES = route_table()

PARAMETERS = ["INC1", "INC2", "1", "0", "-1", "INC0", "inc1", "INC" + "9" * 30, "primary",
              "ann", "log", "monitor", "nobody", "OVR-00000000", "%", "..", ".", "a" * 300,
              "ü", "😀", " ", "\x00", "INC1/acknowledge", "{id}"]
QUERY_NAMES = ["limit", "state", "service", "since", "from", "until", "at", "team", "failed",
               "incident", "channel", "all", "expires", "signature"]
QUERY_VALUES = ["", "0", "1", "1000", "1001", "-1", "true", "false", "yes", "INC1", "api",
                "triggered,acknowledged", "bogus", "2026-12-24T09:00", "2026-12-24T09:00Z",
                "0001-01-01T00:00", "9999-12-31T23:59:59+14:00", "1e309", "NaN",
                "9" * 40, "primary", "\x00", "😀"]
CONTENT_TYPES = ["application/json", "application/json; charset=utf-8", "text/plain",
                 "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                 "application/octet-stream", "", "json", "application/json; charset=latin-1",
                 "*/*", "application/json, text/plain"]
HEADER_NAMES = ["traceparent", "x-slack-signature", "x-slack-request-timestamp", "accept",
                "content-encoding", "origin", "user-agent", "x-forwarded-for", "cookie",
                "authorization", "host", "referer", "transfer-encoding-x"]
SOME_PATHS = ["/", "//", "/v1", "/v1/", "/api/v2/alerts/", "/V1/ALERTS", "/v1/incidents/",
              "/v1/incidents/INC1/", "/.well-known/security.txt", "/v1/ingest/generic/",
              "/metrics/", "/v1/rotas//shifts", "/%2e%2e/%2e%2e/etc/passwd", "/v1/alerts%00"]

header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7e), max_size=60).map(
    str.strip)  # h11 refuses to send a value with spaces around it


def _documents(names: list[str]) -> list[Any]:
    return [example(name) for name in names]


BODIES: dict[str, list[Any]] = {
    "/v1/alerts": _documents(["native_single.json", "native_list.json"]),
    "/v1/ingest/alertmanager": _documents(["alertmanager_firing.json",
                                           "alertmanager_resolved.json"]),
    "/api/v2/alerts": _documents(["alertmanager_v2_firing.json",
                                  "alertmanager_v2_resolved.json"]),
    "/v1/ingest/grafana": _documents(["grafana.json"]),
    "/v1/ingest/datadog": _documents(["datadog_triggered.json", "datadog_recovered.json",
                                      "datadog_default.json"]),
    "/v2/enqueue": _documents(["pagerduty_trigger.json", "pagerduty_acknowledge.json",
                               "pagerduty_resolve.json"]),
    "/v1/ingest/generic/{name}": [{"message": "Disk full", "priority": "P1", "id": "x",
                                   "details": {"host": "db-1"}}],
    "/v1/silences": [{"matchers": [{"name": "alertname", "operator": "=", "value": "Fuzz"}],
                      "ends_at": "2026-12-24T09:00:00Z", "reason": "fuzz",
                      "created_by": "fuzz"}],
    "/v1/rotas/{id}/overrides": [{"person": "ann", "from": "2026-12-24T09:00",
                                  "until": "2026-12-25T09:00", "reason": "fuzz",
                                  "replaces": "ann"}],
    "/v1/incidents/{id}/acknowledge": [{"by": "fuzz"}],
    "/v1/incidents/{id}/resolve": [{"by": "fuzz"}],
    "/v1/incidents/{id}/escalate": [{"by": "fuzz"}],
    "/v1/slack/actions": [{"payload": json.dumps({"type": "block_actions", "actions": [
        {"action_id": "acknowledge", "value": "INC1"}], "user": {"username": "fuzz"}})}],
}
"""Real bodies for the routes that read one, mutated by `mutated`."""


@st.composite
def mutated(draw: st.DrawFn, documents: list[Any]) -> Any:
    """One of `documents` with one to three of its fields replaced or deleted."""
    document = copy.deepcopy(draw(st.sampled_from(documents)))
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from(list(paths(document))))
        document = replaced(document, path, draw(st.one_of(st.just(DELETE), json_values)))
    return document


@st.composite
def huge(draw: st.DrawFn) -> Any:
    """A big or deep native alert document, still under the body limit."""
    kind = draw(st.sampled_from(["summary", "label", "labels", "deep_list", "deep_object",
                                 "alerts", "details"]))
    size = draw(st.integers(1, 10))
    if kind == "summary":
        return {"summary": "x" * (size * 20_000), "severity": "critical"}
    if kind == "label":
        return {"summary": "big label", "labels": {"big": "y" * (size * LONGEST_LABEL // 10)}}
    if kind == "labels":
        return {"summary": "many labels", "labels": {f"l{n}": "v" for n in range(size * 300)}}
    if kind == "alerts":
        return [{"summary": f"many {n}", "labels": {"n": str(n)}} for n in range(size * 50)]
    if kind == "details":
        return {"summary": "big details", "details": {f"d{n}": "z" * 100 for n in
                                                      range(size * 900)}}
    depth = size * draw(st.sampled_from([10, 1000, 10_000]))
    opening, closing = ("[", "]") if kind == "deep_list" else ('{"a":', "}")
    return RawJson(opening * depth + "1" + closing * depth)


@dataclass(frozen=True)
class RawJson:
    """JSON text that json.dumps cannot write (too deep for its recursion)."""

    text: str


def encode(document: Any) -> bytes:
    if isinstance(document, RawJson):
        return document.text.encode()
    return json.dumps(document, ensure_ascii=False).encode("utf-8", "surrogatepass")


def body_for(pattern: str) -> st.SearchStrategy[bytes]:
    """A body for a request to `pattern`."""
    known = BODIES.get(pattern, [{}])
    return st.one_of(
        mutated(known).map(encode),
        mutated(known).map(encode),
        json_values.map(encode),
        st.binary(max_size=2_000),
        st.text(max_size=200).map(lambda text: text.encode("utf-8", "surrogatepass")),
        huge().map(encode),
        st.sampled_from([b"", b"null", b"{}", b"[]", b'"\\ud800"', b"\xff\xfe{", b"1e999",
                         b'{"a":1,"a":2}', b"[" * 5000, b"\x00" * 100, b"NaN", b"-Infinity"]),
        st.integers(MAX_BODY - 10, MAX_BODY + 10_000).map(lambda size: b"[" + b" " * size),
    )


@dataclass(frozen=True, slots=True)
class HttpCase:
    method: str
    target: str  # path and query, percent-encoded
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def __repr__(self) -> str:  # a failing example stays readable
        return (f"HttpCase({self.method} {self.target[:300]!r} headers={self.headers!r} "
                f"body[{len(self.body)}]={self.body[:300]!r})")


@st.composite
def parameter(draw: st.DrawFn) -> str:
    value = draw(st.one_of(st.sampled_from(PARAMETERS), st.text(min_size=1, max_size=30)))
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


@st.composite
def http_cases(draw: st.DrawFn) -> HttpCase:
    """A request to one of the routes (rarely to a path no route has), with odd headers."""
    method, pattern = draw(st.sampled_from(ROUTES))
    if draw(st.integers(0, 9)) == 0:
        method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD",
                                       "OPTIONS", "TRACE", "FOO"]))
    path = pattern
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        path = path[:start] + draw(parameter()) + path[end + 1:]
    if draw(st.integers(0, 19)) == 0:
        path = draw(st.one_of(st.sampled_from(SOME_PATHS),
                              parameter().map(lambda text: "/" + text)))
    query = draw(st.lists(st.tuples(st.sampled_from(QUERY_NAMES) | header_text,
                                    st.sampled_from(QUERY_VALUES) | st.text(max_size=30)),
                          max_size=4))
    target = path + ("?" + urlencode(query, encoding="utf-8", errors="surrogatepass")
                     if query else "")
    headers = dict(draw(st.lists(st.tuples(st.sampled_from(HEADER_NAMES), header_text),
                                 max_size=2)))
    content_type = draw(st.sampled_from([*CONTENT_TYPES, "application/json",
                                         "application/json", None]))
    if content_type is not None:
        headers["content-type"] = content_type
    body = draw(body_for(pattern)) if method in ("POST", "PUT", "PATCH", "DELETE") else b""
    return HttpCase(method, target, headers, body)


# Raw requests: framing an HTTP client library would never send.


@st.composite
def raw_requests(draw: st.DrawFn) -> bytes:
    """One request as bytes, with `Connection: close`, often framed wrongly."""
    # mostly a well-formed request line, so the framing below is what is tested
    method = draw(st.sampled_from(["POST"] * 6 + ["GET"] * 2 + ["post", "G ET", "", "POST\x00"]))
    target = draw(st.sampled_from(["/v1/alerts"] * 4 + ["/v1/silences", "/healthz", "*",
                                   "http://127.0.0.1/v1/alerts", "/v1/alerts?%zz",
                                   "/%ff%fe", "/" + "a" * 20_000, "", "/v1/alerts#x"]))
    version = draw(st.sampled_from(["HTTP/1.1"] * 6 + ["HTTP/1.0", "HTTP/2.0", "HTTP/1.1x", ""]))
    body = draw(st.one_of(st.just(b'{"summary": "raw", "labels": {"r": "1"}}'),
                          st.binary(max_size=200)))
    lines = [f"{method} {target} {version}".encode(), b"Host: 127.0.0.1",
             b"Connection: close"]
    framing = draw(st.sampled_from(["length", "short", "long", "twice", "text", "negative",
                                    "chunked", "bad-chunked", "none", "header-junk",
                                    "big-header", "expect"]))
    length = len(body)
    extra: dict[str, list[bytes]] = {
        "length": [b"Content-Length: %d" % length],
        "short": [b"Content-Length: %d" % max(length - 5, 0)],
        "long": [b"Content-Length: %d" % (length + 10)],  # the rest never comes: EOF
        "twice": [b"Content-Length: %d" % length, b"Content-Length: %d" % (length + 1)],
        "text": [b"Content-Length: ten"],
        "negative": [b"Content-Length: -1"],
        "chunked": [b"Transfer-Encoding: chunked"],
        "bad-chunked": [b"Transfer-Encoding: chunked"],
        "none": [],
        "header-junk": [b"Content-Length: %d" % length, b"Bad Header: x", b" folded",
                        b"\x00: \x01"],
        "big-header": [b"Content-Length: %d" % length, b"X-Big: " + b"b" * 20_000],
        "expect": [b"Content-Length: %d" % length, b"Expect: 100-continue"],
    }
    if framing == "chunked":
        body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    elif framing == "bad-chunked":
        body = b"zz\r\n" + body + b"\r\n"
    lines += extra[framing]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


# Socket lines


ENVELOPE_BODIES: list[Any] = [
    {"type": "create_incident", "msg_id": 1, "title": "Fuzz", "service": "api",
     "severity": "critical", "description": "fuzzing"},
    {"type": "send_alert", "msg_id": 2, "channel": "#alerts", "severity": "info",
     "title": "Fuzz", "service": "api"},
    {"type": "escalate_incident", "msg_id": 3, "incident_id": "INC1", "current_level": 1},
    {"type": "get_on_call", "msg_id": 4, "team": "primary", "at": "2026-12-24T09:00:00Z"},
    {"type": "acknowledge_incident", "msg_id": 5, "incident_id": "INC1", "by": "fuzz"},
    {"type": "resolve_incident", "msg_id": 6, "incident_id": "INC1"},
]


def _envelope(body: Any) -> Any:
    return {"src": "fuzz", "dest": "router", "body": body}


ENVELOPES = [_envelope(body) for body in ENVELOPE_BODIES]
NATIVE = _documents(["native_single.json", "native_list.json"])


def _line(data: bytes) -> bytes:
    """`data` as one line: no newline inside, not blank (a blank line gets no answer)."""
    data = data.replace(b"\n", b" ")
    return data if data.strip() else b"{}"


socket_lines: st.SearchStrategy[bytes] = st.one_of(
    mutated(ENVELOPES).map(encode),
    mutated(ENVELOPES).map(encode),
    mutated(ENVELOPES).map(encode),
    mutated(NATIVE).map(encode),
    json_values.map(encode),
    st.binary(min_size=1, max_size=500),
    huge().map(encode),
    st.builds(_envelope, huge()).map(lambda document: encode(document)
                                     if not isinstance(document["body"], RawJson)
                                     else b'{"src":"f","body":' + document["body"].text.encode()
                                     + b"}"),
    st.integers(MAX_LINE - 10, MAX_LINE + 10_000).map(lambda size: b"[" + b" " * size),
).map(_line)
