"""Alertmanager's API v2 reads and silences, so amtool and Grafana's Alertmanager data source
work against router (room: server; imports engine, views, alerts.formats, errors).

Shapes and status codes follow Alertmanager's OpenAPI spec (api/v2/openapi.yaml, 0.25):
errors are a JSON string, as Alertmanager answers, and a 404 for an unknown silence. There is
one store of silences: those added here are router's own (`router silences`,
`GET /v1/silences`) and mute as those do. An alert is an open incident as Alertmanager would
show it: its labels, the last alert's annotations, `fingerprint` Alertmanager's fingerprint
of its labels (the dedup key of alerts Alertmanager or Prometheus sent), `receivers` its
service's channels, `status.state` `suppressed` when a silence or suppression window holds it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

from router.alerts.formats import alertmanager
from router.engine import Engine, views
from router.engine.views import Incident, Silence
from router.errors import BadRequest
from router.server import alertmanager_matchers as am_matchers
from router.server.routes import Request, Response

RESOLVE_TIMEOUT = timedelta(minutes=5)
"""Alertmanager's default resolve_timeout: what `endsAt` shows for an alert that gave none."""
_OPEN_STATES = ("triggered", "acknowledged")
_SECRET_VALUE = re.compile(
    r"\b([\w-]*(?:token|secret|password|credentials)[\w-]*|routing_keys?|api_key|webhook_url)"
    r"(\s*:\s*)(?![\"']?\$\{)(\"[^\"]*\"|'[^']*'|\[[^\]]*\]|[^,}\s][^,}\n]*)",
    re.IGNORECASE)
"""A secret-looking key whose value is written inline rather than as a `${...}` reference."""


class AlertmanagerApi:
    """The handlers. Built with the routes, when the daemon starts: status' `uptime` (the
    start instant) is the engine clock's now less the time since then. Building reads
    nothing of the engine, so a stub engine can list the routes (tests/faults)."""

    def __init__(self, engine: Engine, is_admin: Callable[[Request], bool]) -> None:
        self.engine = engine
        self.is_admin = is_admin
        self.built = time.monotonic()

    async def status(self, request: Request) -> Response:
        """GET /api/v2/status: no cluster, router's version, and for an admin token the
        loaded config's files (a config may hold a secret inline, which the read scope a
        dashboard's token has must not see; others get an empty `original`)."""
        config = self.engine.config
        original = config_text(config.files) if self.is_admin(request) else ""
        return Response.json(200, {
            "cluster": {"status": "disabled", "peers": []},
            "versionInfo": {"version": _version(), "revision": "", "branch": "",
                            "buildUser": "", "buildDate": "", "goVersion": "router"},
            "config": {"original": original},
            "uptime": views.instant_json(self.engine.now() - timedelta(
                seconds=time.monotonic() - self.built)),
        })

    async def receivers(self, request: Request) -> Response:
        """GET /api/v2/receivers: the configured channels."""
        channels = sorted(self.engine.config.channels)
        return Response.json(200, [{"name": name} for name in channels])

    async def silences(self, request: Request) -> Response:
        """GET /api/v2/silences: every silence (expired too), filtered by `filter`."""
        try:
            filters = _filters(request)
        except BadRequest as bad:
            return _bad_request(bad)
        found = await self.engine.silences(include_expired=True)
        now = self.engine.now()
        return Response.json(200, [silence_json(item, now) for item in found
                                   if _silence_passes(item, filters)])

    async def silence(self, request: Request) -> Response:
        """GET /api/v2/silence/{id}."""
        found = await self._find(request.params["id"])
        if found is None:
            return _not_found(request.params["id"])
        return Response.json(200, silence_json(found, self.engine.now()))

    async def expire(self, request: Request) -> Response:
        """DELETE /api/v2/silence/{id}: 200, or 404 for an unknown or expired one."""
        if not await self.engine.expire_silence(request.params["id"]):
            return _not_found(request.params["id"])
        return Response(200)

    async def add_silence(self, request: Request) -> Response:
        """POST /api/v2/silences: `{"silenceID"}`. With the `id` of a silence in force,
        that one is expired and replaced, as Alertmanager does when matchers change.
        router's extension `untilResolved: true` (Alertmanager ignores unknown fields) also
        ends the silence when the open incidents it covers have resolved; `endsAt` stays
        required, as Alertmanager's shape has it, and is then the latest end."""
        try:
            body = request.json_object()
            replaces = body.get("id")
            if replaces is not None and (not isinstance(replaces, str)
                                         or not await self._in_force(replaces)):
                return _not_found(str(replaces))
            matchers = body.get("matchers")
            if not isinstance(matchers, list) or not matchers:
                raise BadRequest("matchers", "expected a non-empty list of matchers")
            checked = [am_matchers.from_silence_matcher(item, f"matchers[{index}]")
                       for index, item in enumerate(matchers)]
            created_by = _text(body, "createdBy")
            if not created_by.strip():
                raise BadRequest("createdBy", "creator information missing")
            until_resolved = body.get("untilResolved", False)
            if not isinstance(until_resolved, bool):
                raise BadRequest("untilResolved", "expected true or false")
            silence = await self.engine.create_silence(
                checked, starts_at=_instant(body, "startsAt"), ends_at=_instant(body, "endsAt"),
                reason=_text(body, "comment"), created_by=created_by,
                until_resolved=until_resolved)
        except BadRequest as bad:
            return _bad_request(bad)
        if replaces is not None:
            await self.engine.expire_silence(replaces)
        return Response.json(200, {"silenceID": silence.id})

    async def alerts(self, request: Request) -> Response:
        """GET /api/v2/alerts with Alertmanager's query parameters."""
        try:
            chosen = await self._chosen(request)
        except BadRequest as bad:
            return _bad_request(bad)
        return Response.json(200, [alert for _, alert in chosen])

    async def groups(self, request: Request) -> Response:
        """GET /api/v2/alerts/groups: the chosen alerts, one group per receiver and
        service (router groups by service, where Alertmanager groups by route)."""
        try:
            chosen = await self._chosen(request)
        except BadRequest as bad:
            return _bad_request(bad)
        groups: dict[tuple[str, str], dict[str, Any]] = {}
        for service, alert in chosen:
            for receiver in alert["receivers"]:
                group = groups.setdefault((receiver["name"], service), {
                    "labels": {"service": service} if service else {},
                    "receiver": receiver, "alerts": []})
                group["alerts"].append(alert)
        return Response.json(200, [groups[key] for key in sorted(groups)])

    async def _chosen(self, request: Request) -> list[tuple[str, dict[str, Any]]]:
        """The open incidents as Alertmanager alerts that pass the request's parameters,
        oldest first, each with its service ("" for none)."""
        filters = _filters(request)
        show = {name: _flag(request, name) for name in
                ("active", "silenced", "inhibited", "unprocessed")}
        receiver = _receiver_pattern(request)
        incidents = await self.engine.incidents(states=_OPEN_STATES, limit=1000)
        chosen = []
        for incident in reversed(incidents):
            alert = await self._alert(incident)
            status = alert["status"]
            state_shown = show["active"] if status["state"] != "suppressed" else \
                show["inhibited"] if status["inhibitedBy"] else show["silenced"]
            if not state_shown or not all(am_matchers.matches(alert["labels"], *matcher)
                                          for matcher in filters):
                continue
            if receiver is None or any(receiver.fullmatch(item["name"])
                                       for item in alert["receivers"]):
                chosen.append((incident.service or "", alert))
        return chosen

    async def _alert(self, incident: Incident) -> dict[str, Any]:
        detail = await self.engine.incident(incident.id)
        rows = detail.alerts if detail is not None else ()
        last: Mapping[str, Any] = max(rows, key=lambda row: row["last_received_at"],
                                      default={})
        labels = {**incident.labels, **last.get("labels", {})}
        annotations = {"summary": incident.summary, **last.get("annotations", {})}
        updated = last.get("last_received_at", incident.updated_at)
        return {
            "labels": labels, "annotations": annotations,
            "startsAt": views.instant_json(incident.opened_at),
            "endsAt": views.instant_json(updated + RESOLVE_TIMEOUT),
            "updatedAt": views.instant_json(updated),
            "fingerprint": _fingerprint(incident, labels),
            "receivers": [{"name": name} for name in self._receivers(incident)],
            "status": _status(incident),
        }

    def _receivers(self, incident: Incident) -> Sequence[str]:
        service = self.engine.config.services.get(incident.service or "")
        if service is not None and service.channels:
            return service.channels
        return [incident.service or "router"]

    async def _find(self, silence_id: str) -> Silence | None:
        found = await self.engine.silences(include_expired=True)
        return next((item for item in found if item.id == silence_id), None)

    async def _in_force(self, silence_id: str) -> bool:
        found = await self._find(silence_id)
        return found is not None and found.ends_at > self.engine.now()


def silence_json(silence: Silence, now: datetime) -> dict[str, Any]:
    """A router silence as Alertmanager's gettableSilence."""
    return {
        "id": silence.id,
        "status": {"state": views.silence_state(silence, now)},
        "updatedAt": views.instant_json(silence.starts_at),
        "matchers": [am_matchers.to_silence_matcher(item.name, item.operator, item.value)
                     for item in silence.matchers],
        "startsAt": views.instant_json(silence.starts_at),
        "endsAt": views.instant_json(silence.ends_at),
        "createdBy": silence.created_by,
        "comment": silence.reason,
    }


def config_text(files: Sequence[str]) -> str:
    """The loaded config's files as one multi-document YAML text, each headed by its path;
    secret references (`${file:...}`) stay as written and an inline value of a secret-looking
    key shows as `<secret>`, since the read scope is not the admin scope."""
    parts = []
    for name in files:
        try:
            text = Path(name).read_text(encoding="utf-8")
        except OSError as error:
            text = f"# unreadable now: {error.strerror}\n"
        parts.append(f"# {name}\n" + _SECRET_VALUE.sub(r"\1\2<secret>", text))
    return "---\n".join(part if part.endswith("\n") else part + "\n" for part in parts)


def _version() -> str:
    """router's installed version (a checkout that is not installed says "unknown")."""
    try:
        return metadata.version("router")
    except metadata.PackageNotFoundError:
        return "unknown"


def _status(incident: Incident) -> dict[str, Any]:
    by = incident.suppressed_by or ""
    kind, _, name = by.partition(":")
    return {"state": "suppressed" if by else "active",
            "silencedBy": [name] if kind in ("silence", "suppression") else [],
            "inhibitedBy": [name] if kind == "inhibition" else []}


def _fingerprint(incident: Incident, labels: Mapping[str, str]) -> str:
    key = incident.dedup_key
    if len(key) == 16 and all(character in "0123456789abcdef" for character in key):
        return key
    return alertmanager.fingerprint(labels)


def _silence_passes(silence: Silence, filters: Sequence[tuple[str, str, str]]) -> bool:
    """Alertmanager's rule: the silence's equality matchers, read as labels, pass every
    filter."""
    labels = {item.name: item.value for item in silence.matchers if item.operator == "="}
    return all(am_matchers.matches(labels, *matcher) for matcher in filters)


def _filters(request: Request) -> list[tuple[str, str, str]]:
    return [am_matchers.parse_filter(text) for text in request.query.get("filter", ())]


def _flag(request: Request, name: str) -> bool:
    values = request.query.get(name)
    if not values:
        return True
    if values[-1] not in ("true", "false"):
        raise BadRequest(name, f"expected true or false, got {values[-1]!r}")
    return values[-1] == "true"


def _receiver_pattern(request: Request) -> re.Pattern[str] | None:
    values = request.query.get("receiver")
    if not values:
        return None
    try:
        return re.compile(values[-1])
    except re.error as error:
        raise BadRequest("receiver", f"bad regex {values[-1]!r}: {error}") from None


def _text(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise BadRequest(name, "expected text" if name in body else "is required")
    return value


def _instant(body: Mapping[str, Any], name: str) -> datetime:
    text = _text(body, name)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(name, f"expected an RFC 3339 date-time, got {text!r}") from None
    if moment.tzinfo is None:
        raise BadRequest(name, f"expected a date-time with its offset, got {text!r}")
    return moment


def _bad_request(bad: BadRequest) -> Response:
    """Alertmanager answers 400 with a JSON string; it names the field."""
    return Response.json(400, f"{bad.field}: {bad.message}" if bad.field else bad.message)


def _not_found(silence_id: str) -> Response:
    return Response.json(404, f"silence {silence_id} not found")
