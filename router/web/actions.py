"""The incident page's buttons: Acknowledge, Resolve, Escalate, Add note (room: web).

Each is a plain form POST (works with JavaScript off) through forms.py, needing the
`respond` role as `POST /v1/incidents/{id}/acknowledge` needs the respond scope, and calls
the engine's same use case as the JSON API, acting as `web:NAME`: the timeline says who.
The browser comes back to the incident's page with what happened (or why not) on top.
"""

from __future__ import annotations

from urllib.parse import quote

from router.engine import Engine
from router.server.routes import Handler, Request
from router.web.forms import Done, Form, Forms


def incident_page(request: Request) -> str:
    """The page the forms live on (the id as the path had it, percent-encoded again: a
    decoded CR or LF must never reach the Location header)."""
    return f"/ui/incidents/{quote(request.params['id'], safe='')}"


class IncidentActions:
    """The incident page's form actions."""

    def __init__(self, engine: Engine, forms: Forms) -> None:
        self.engine = engine
        self.forms = forms

    def routes(self) -> list[tuple[str, str, Handler]]:
        post = self.forms.post
        return [
            ("POST", "/ui/incidents/{id}/acknowledge",
             post("respond", self.acknowledge, back=incident_page)),
            ("POST", "/ui/incidents/{id}/resolve",
             post("respond", self.resolve, back=incident_page)),
            ("POST", "/ui/incidents/{id}/escalate",
             post("respond", self.escalate, back=incident_page)),
            ("POST", "/ui/incidents/{id}/notes",
             post("respond", self.add_note, back=incident_page)),
        ]

    async def acknowledge(self, request: Request, form: Form) -> Done:
        incident = await self.engine.acknowledge(request.params["id"], form.actor)
        return Done(incident_page(request), f"{incident.id} is {incident.state.value}.")

    async def resolve(self, request: Request, form: Form) -> Done:
        incident = await self.engine.resolve(request.params["id"], form.actor)
        return Done(incident_page(request), f"{incident.id} is {incident.state.value}.")

    async def escalate(self, request: Request, form: Form) -> Done:
        incident, _ = await self.engine.escalate(request.params["id"], form.actor)
        return Done(incident_page(request), f"{incident.id} escalated: the next level is "
                                            "notified.")

    async def add_note(self, request: Request, form: Form) -> Done:
        # the engine checks the text (empty, too long) as for the API's notes
        await self.engine.add_note(request.params["id"], form.text("text"), form.actor)
        return Done(incident_page(request), "Note added.")
