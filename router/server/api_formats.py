"""`POST /v1/ingest` (the format detected from the payload) and `POST /v1/ingest/{format}`
(the format named) (room: server; imports engine, alerts.formats, errors).

Any tool's webhook can point at one URL: alerts/formats/detect.py picks the format from the
body's top-level fields, most specific first, and only that format parses the body. The
answer says which was chosen; a body no format claims is a 400 listing what each looked
for, and one the chosen format refuses is a 400 naming the field and the format.

`POST /v1/ingest/alertmanager`, `/grafana` and `/datadog` are static routes (a dict lookup
on the hot path, not a pattern tried) to the very handler `{format}` gives that name, so
they answer as it does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

import msgspec

from router.alerts.formats import FieldLimits, Format, detect
from router.engine import Accepted, Engine
from router.server.api_access import Gate
from router.server.routes import Handler, Request, Response

_ENCODE = msgspec.json.Encoder().encode
JSON_HEADERS = (("content-type", "application/json"),)


def accepted_json(items: Sequence[Accepted], chosen: str | None = None) -> bytes:
    """A 202 answer's body, encoded by msgspec (the same compact UTF-8 JSON as
    `Response.json`, in a fraction of the time: it is written once per ingest request);
    `chosen` names the format, where the endpoint takes more than one."""
    head: dict[str, Any] = {"status": "accepted"}
    if chosen is not None:
        head["format"] = chosen
    return _ENCODE({**head, "incidents": [
        {"incident_id": item.incident_id, "dedup_key": item.dedup_key, "action": item.action,
         "suppressed_by": item.suppressed_by} for item in items]})


class IngestLike(Protocol):
    """What these endpoints use of api.py's ingest: the engine, the parse (in a worker
    thread when the body is large) and the metrics' count."""

    engine: Engine

    async def parse(self, inbound: Format, request: Request) -> Sequence[Any]: ...

    def count(self, inbound_format: str, request: Request, alerts: int) -> None: ...


class _Detecting:
    """A `Format` that detects, remembering what it chose (one per request)."""

    def __init__(self) -> None:
        self.chosen = ""

    def parse(self, body: bytes, headers: Mapping[str, str], *, limits: FieldLimits,
              now: datetime) -> list[Any]:
        self.chosen, alerts = detect.parse(body, headers, limits=limits, now=now)
        return alerts


class FormatIngest:
    """The two endpoints over api.py's ingest."""

    def __init__(self, ingest: IngestLike, gate: Gate,
                 trace_id: Callable[[Request], str]) -> None:
        self.ingest = ingest
        self.gate = gate
        self.trace_id = trace_id  # api.trace_id: the request's W3C trace id or a fresh one
        self._named = {name: self._naming(name, inbound)
                       for name, inbound in detect.FORCED.items()}

    async def detected(self, request: Request) -> Response:
        """POST /v1/ingest: the format the payload's fields name."""
        detecting = _Detecting()
        try:
            alerts = await self.ingest.parse(detecting, request)
        except detect.Undetected as undetected:
            return Response.json(400, {
                "error": "no format accepts this payload", "field": "",
                "formats": [{"format": name, "looks_for": what}
                            for name, what in undetected.looked_for]})
        except detect.Refused as refused:
            return Response.json(400, {"error": refused.message, "field": refused.field,
                                       "format": refused.format})
        # The gate let any ingest token through (api_access.DETECTED); one limited to some
        # sources may post only those, and nothing is stored before this check.
        refusal = self.gate.refuses_source(request, detecting.chosen)
        if refusal is not None:
            return refusal
        return await self._accept(detecting.chosen, alerts, request)

    async def forced(self, request: Request) -> Response:
        """POST /v1/ingest/{format}: the format named, whatever the payload looks like."""
        name = request.params["format"]
        handler = self._named.get(name)
        if handler is None:
            return Response.error(404, f"no format {name!r}; expected one of: "
                                       f"{', '.join(sorted(detect.FORCED))}")
        return await handler(request)

    def named(self, name: str) -> Handler:
        """POST /v1/ingest/NAME: `forced`'s handler for one format, for a static route."""
        return self._named[name]

    def _naming(self, name: str, inbound: Format) -> Handler:
        async def handle(request: Request) -> Response:
            alerts = await self.ingest.parse(inbound, request)
            return await self._accept(name, alerts, request)
        return handle

    async def _accept(self, chosen: str, alerts: Sequence[Any], request: Request) -> Response:
        accepted: Sequence[Accepted] = await self.ingest.engine.ingest(
            alerts, trace_id=self.trace_id(request))
        self.ingest.count(chosen, request, len(alerts))
        return Response(202, accepted_json(accepted, chosen), JSON_HEADERS)
