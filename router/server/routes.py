"""The route table, the request and response values, and request-target parsing (room: server;
imports errors only).

Pure: no sockets, no trio. `server/http.py` reads requests off the wire into `Request`, asks
`Routes.find` for a handler, and writes the `Response` it returns.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from router.errors import BadRequest

_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)  # stateless; reused
_JSON_TYPE = ("content-type", "application/json")
LISTING_LIMIT, LISTING_MOST = 100, 10_000
"""A listing's `?limit=` when none is given, and the most it may ask for (GET /v1/silences,
/v1/jobs, /v1/rotas/{id}/overrides): each answer also says how many it left out (issue 22:
one request's work stays bounded however long the history)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    """One request, body read in full. Header names are lower case; repeats are comma-joined."""

    method: str
    path: str  # percent-decoded, without the query
    query: Mapping[str, tuple[str, ...]]
    headers: Mapping[str, str]
    body: bytes
    params: Mapping[str, str]  # the `{name}` segments of the matched route
    client: tuple[str, int] | None  # peer address of a TCP connection

    def limit(self, default: int, most: int) -> int:
        """The `limit` query parameter of a listing, 1 to `most` (ASCII digits only: "²" is
        a digit to str.isdigit() but not to int())."""
        text = (self.query.get("limit") or [str(default)])[-1]
        if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= most:
            raise BadRequest("limit", f"expected a whole number from 1 to {most}")
        return int(text)

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object, or a BadRequest saying why it is not one."""
        try:
            document = json.loads(self.body)
        # ValueError: not UTF-8, not JSON, or a number of more than 4300 digits (int());
        # RecursionError: nested deeper than the interpreter's recursion limit.
        except (ValueError, RecursionError) as error:
            raise BadRequest("", f"expected a JSON object: {error}") from None
        if not isinstance(document, dict):
            raise BadRequest("", "expected a JSON object")
        return document


@dataclass(frozen=True, slots=True)
class Response:
    """What a handler answers; the server adds Content-Length, Date and Connection."""

    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def json(cls, status: int, value: Any, *, headers: Sequence[tuple[str, str]] = ()) -> Response:
        body = _ENCODER.encode(value).encode()
        return cls(status, body, (_JSON_TYPE, *headers) if headers else (_JSON_TYPE,))

    @classmethod
    def error(
        cls, status: int, message: str, *, headers: Sequence[tuple[str, str]] = (),
    ) -> Response:
        return cls.json(status, {"error": message}, headers=headers)


Handler = Callable[[Request], Awaitable[Response]]


@dataclass(slots=True)
class _Pattern:
    segments: tuple[tuple[str, str, str], ...]  # (prefix, name, suffix); name "" is literal
    handlers: dict[str, Handler] = field(default_factory=dict)

    def match(self, parts: list[str]) -> dict[str, str] | None:
        params = {}
        for part, (prefix, name, suffix) in zip(parts, self.segments, strict=True):
            if not name:
                if part != prefix:
                    return None
            elif (len(part) > len(prefix) + len(suffix) and part.startswith(prefix)
                  and part.endswith(suffix)):
                params[name] = part[len(prefix):len(part) - len(suffix)]
            else:
                return None
        return params


def _parse_segment(segment: str, pattern: str) -> tuple[str, str, str]:
    prefix, brace, rest = segment.partition("{")
    if not brace:
        return (segment, "", "")
    name, closing, suffix = rest.partition("}")
    if not closing or not name.isidentifier() or "{" in suffix or "}" in prefix + suffix:
        raise ValueError(f"route {pattern!r}: a segment holds at most one {{name}}")
    return (prefix, name, suffix)


class Routes:
    """Method and path -> handler. Static paths are one dict lookup; patterns with `{name}`
    segments are grouped by segment count and tried most-literal first."""

    def __init__(self) -> None:
        self._static: dict[str, dict[str, Handler]] = {}
        self._patterns: dict[int, list[_Pattern]] = {}
        self.table: list[tuple[str, str, str]] = []
        """(method, pattern, access) of every route, in the order added: who may call each
        (server/api_access.py), for the test that walks them and docs/security.md."""

    def add(self, method: str, pattern: str, handler: Handler, *, access: str = "") -> None:
        """Raises: ValueError for a malformed pattern or a method and pattern added twice."""
        if not pattern.startswith("/"):
            raise ValueError(f"route {pattern!r} must start with '/'")
        if "{" not in pattern:
            handlers = self._static.setdefault(pattern, {})
        else:
            handlers = self._pattern_handlers(pattern)
        if method in handlers:
            raise ValueError(f"route {method} {pattern} added twice")
        handlers[method] = handler
        self.table.append((method, pattern, access))

    def _pattern_handlers(self, pattern: str) -> dict[str, Handler]:
        segments = tuple(_parse_segment(segment, pattern) for segment in pattern.split("/"))
        bucket = self._patterns.setdefault(len(segments), [])
        for known in bucket:
            if known.segments == segments:
                return known.handlers
        entry = _Pattern(segments)
        bucket.append(entry)
        # Most literal characters first, so `/rotas/{id}.ics` wins over `/rotas/{id}`.
        bucket.sort(key=lambda known: -sum(len(p) + len(s) for p, _, s in known.segments))
        return entry.handlers

    def find(self, method: str, path: str) -> tuple[Handler, Mapping[str, str]] | Response:
        """The handler and its params, or the 404 or 405 (with Allow) to answer instead."""
        allowed: set[str] = set()
        handlers = self._static.get(path)
        if handlers is not None:
            handler = _pick(handlers, method)
            if handler is not None:
                return handler, {}
            allowed.update(handlers)
        parts = path.split("/")
        for pattern in self._patterns.get(len(parts), ()):
            params = pattern.match(parts)
            if params is not None:
                handler = _pick(pattern.handlers, method)
                if handler is not None:
                    return handler, params
                allowed.update(pattern.handlers)
        if not allowed:
            return Response.error(404, "not found")
        if "GET" in allowed:
            allowed.add("HEAD")
        allow = ", ".join(sorted(allowed))
        return Response.error(405, "method not allowed", headers=(("allow", allow),))


def _pick(handlers: dict[str, Handler], method: str) -> Handler | None:
    handler = handlers.get(method)
    if handler is None and method == "HEAD":
        return handlers.get("GET")
    return handler


def split_target(target: bytes) -> tuple[str, Mapping[str, tuple[str, ...]]]:
    """Path (percent-decoded) and query of a request target; absolute-form is accepted.

    Raises:
        UnicodeDecodeError: the path's percent-escapes are not UTF-8.
    """
    text = target.decode("ascii")
    if not text.startswith("/"):
        parts = urlsplit(text)
        text = (parts.path or "/") + ("?" + parts.query if parts.query else "")
    path, _, query_text = text.partition("?")
    if "%" in path:
        path = unquote(path, errors="strict")
    if not query_text:
        return path, {}
    query = parse_qs(query_text, keep_blank_values=True)
    return path, {name: tuple(values) for name, values in query.items()}


def header_map(raw: Sequence[tuple[bytes, bytes]]) -> tuple[dict[str, str], int]:
    """Headers by lower-case name (repeats comma-joined) and their size in bytes."""
    headers: dict[str, str] = {}
    size = 0
    for name, value in raw:
        key = name.decode("latin-1")
        text = value.decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
        size += len(key) + len(text) + 4
    return headers, size
