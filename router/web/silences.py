"""The silences pages: list, add (with a preview), expire (room: web).

One store of silences and one code path with the API: matchers are written in
Alertmanager's syntax (`alertname="DiskFull"`, `instance=~"db.*"`, one a line), parsed by
the same parser as `GET /api/v2/alerts?filter=` (server/alertmanager_matchers.py), and the
silence is made by `engine.create_silence` as `POST /v1/silences` and `/api/v2/silences`
make theirs, with the user as its author. Adding takes two posts: the first shows the open
incidents the silence would cover (a preview, nothing stored), the second (`confirm`)
stores it. "Silence" on an incident's page opens the form with its labels as matchers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from router.alerts.model import Silence
from router.config.values import parse_duration
from router.engine import Engine
from router.errors import BadRequest, NotFound
from router.server.alertmanager_matchers import parse_filter
from router.server.routes import Handler, Request, Response
from router.web.forms import Done, Form, Forms
from router.web.render import Renderer

DEFAULT_DURATION = "2h"
MATCHERS_MOST = 50
PREVIEW_SHOWN = 100
"""The preview lists at most this many (the newest) of the incidents a silence would
cover, and says how many more: a broad matcher over a flood stays a small page."""
EXPIRED_SHOWN = 50
"""The list shows the silences that ended last, at most this many, and says how many more:
expired ones pile up for ever, the page's read stays bounded."""
_STATES = ("active", "pending", "expired")


class SilencePages:
    """The silences list and form, and their form actions."""

    def __init__(self, engine: Engine, renderer: Renderer, forms: Forms) -> None:
        self.engine = engine
        self.renderer = renderer
        self.forms = forms

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [("GET", "/ui/silences", self.listing),
                ("GET", "/ui/silences/new", self.new),
                ("POST", "/ui/silences", self.forms.post("respond", self.add)),
                ("POST", "/ui/silences/{id}/expire",
                 self.forms.post("respond", self.expire, back=lambda _: "/ui/silences"))]

    async def listing(self, request: Request) -> Response:
        now = self.engine.now()
        current, expired, expired_total = await self.engine.silence_listing(EXPIRED_SHOWN)
        grouped: dict[str, list[Silence]] = {state: [] for state in _STATES}
        for silence in current:
            grouped[_state(silence, now)].append(silence)
        grouped["expired"] = expired
        totals = {"active": len(grouped["active"]), "pending": len(grouped["pending"]),
                  "expired": expired_total}
        return self.renderer.page("silences.html", groups=grouped, totals=totals,
                                  hidden=expired_total - len(expired), forever=_forever)

    async def new(self, request: Request) -> Response:
        """The form; `?incident=INC1` fills the matchers from that incident's labels."""
        matchers = ""
        incident_id = (request.query.get("incident") or [""])[-1]
        if incident_id:
            try:
                detail = await self.engine.incident(incident_id)
            except BadRequest:
                detail = None
            if detail is not None:
                matchers = "\n".join(f"{name}={_quoted(value)}" for name, value
                                     in sorted(detail.incident.labels.items()))
        return self._form(200, {"matchers": matchers, "duration": DEFAULT_DURATION,
                                "comment": "", "until_resolved": ""})

    async def add(self, request: Request, form: Form) -> Done | Response:
        fields = {name: form.text(name) for name in
                  ("matchers", "duration", "comment", "until_resolved")}
        try:
            matchers = parse_matchers(fields["matchers"])
            until_resolved = bool(fields["until_resolved"])
            ends_at = None if until_resolved else _end(self.engine.now(), fields["duration"])
            if not fields["comment"]:
                raise BadRequest("comment", "say why: a silence needs a comment")
            if form.text("confirm") != "yes":
                covered = await self.engine.covered_incidents(matchers)
                return self._form(200, fields, preview=covered)
            silence = await self.engine.create_silence(
                matchers, ends_at=ends_at, reason=fields["comment"],
                created_by=form.viewer.principal.name, until_resolved=until_resolved)
        except BadRequest as error:
            return self._form(400, fields, error=f"{error.field}: {error.message}"
                              if error.field else error.message)
        return Done("/ui/silences", f"Silence {silence.id} added.")

    async def expire(self, request: Request, form: Form) -> Done:
        silence_id = request.params["id"]
        if not await self.engine.expire_silence(silence_id):
            raise NotFound(f"no silence {silence_id} in force")
        return Done("/ui/silences", f"Silence {silence_id} expired.")

    def _form(self, status: int, fields: dict[str, str], *, error: str = "",
              preview: Sequence[Any] | None = None) -> Response:
        return self.renderer.page("silence_new.html", status, fields=fields, error=error,
                                  preview=preview, shown=PREVIEW_SHOWN)


def parse_matchers(text: str) -> list[tuple[str, str, str]]:
    """Matchers in Alertmanager's syntax, one a line (or comma-separated in `{...}`).

    Raises:
        BadRequest: naming the line, for one that is not `name OP value`.
    """
    lines = [line.strip() for line in text.replace("\r", "").split("\n") if line.strip()]
    if len(lines) == 1 and lines[0].startswith("{") and lines[0].endswith("}"):
        lines = [part.strip() for part in lines[0][1:-1].split(",") if part.strip()]
    if not lines:
        raise BadRequest("matchers", 'give at least one, such as alertname="DiskFull"')
    if len(lines) > MATCHERS_MOST:
        raise BadRequest("matchers", f"at most {MATCHERS_MOST}")
    return [parse_filter(line, f"matchers line {number}")
            for number, line in enumerate(lines, start=1)]


def _duration(text: str) -> timedelta:
    try:
        duration = parse_duration(text or DEFAULT_DURATION)
    except ValueError as error:
        raise BadRequest("duration", str(error)) from None
    if duration <= timedelta(0):
        raise BadRequest("duration", "must be longer than nothing")
    return duration


def _end(now: datetime, duration: str) -> datetime:
    try:
        return now + _duration(duration)
    except OverflowError:
        raise BadRequest("duration", f"ends past the year 9999: {duration[:40]!r}") from None


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _state(silence: Silence, now: Any) -> str:
    if now < silence.starts_at:
        return "pending"
    return "active" if now < silence.ends_at else "expired"


def _forever(silence: Silence) -> bool:
    """An until-resolved silence with no other end (shown as such, not as year 9999)."""
    return silence.ends_at.year >= 9999
