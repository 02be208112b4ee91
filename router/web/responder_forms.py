"""The responder pages' forms wired onto the one form plumbing (room: web).

Overrides add and remove, dead letter retry, job alert targets add and delete: each is a
`forms.post` (router/web/forms.py: session, CSRF token, role, then the action) around the
page module's handler function (overrides.py, deadletters.py, jobs.py), with the role the
JSON API asks for the same change: `admin` for overrides and job alert targets (as
`POST /v1/rotas/{id}/overrides` and `POST /v1/jobs/{id}/alerts`), `respond` for a retry
(it sends a page again, as Escalate does; the API has no retry). A refused Add form is
shown again with each error beside its field (400); a refused button (an unknown or
resolved id) sends the browser back to its page with the reason on top.
"""

from __future__ import annotations

from urllib.parse import quote

from router.engine import Engine
from router.server.routes import Handler, Request, Response
from router.web.deadletters import retry_dead_letter
from router.web.fields import Refused
from router.web.forms import Done, Form, Forms
from router.web.jobs import JobPages, add_job_alert, delete_job_alert, shown_target
from router.web.overrides import OverridePages, add_override, remove_override
from router.web.render import Renderer

OVERRIDE_FIELDS = ("rota", "person", "replaces", "from", "until", "reason")
ALERT_FIELDS = ("alert_type", "target", "channel", "on_failure", "on_timeout")


def job_page(job_id: str) -> str:
    """A job's page (the id percent-encoded: nothing decoded reaches the Location header)."""
    return f"/ui/jobs/{quote(job_id, safe='')}"


def refused_message(refused: Refused) -> str:
    return "; ".join(refused.errors.values())


class ResponderForms:
    """The overrides, dead-letters and job pages' form actions."""

    def __init__(self, engine: Engine, renderer: Renderer, forms: Forms) -> None:
        self.engine = engine
        self.forms = forms
        self.overrides = OverridePages(engine, renderer)
        self.jobs = JobPages(engine, renderer)

    def routes(self) -> list[tuple[str, str, Handler]]:
        post = self.forms.post
        return [("POST", "/ui/overrides", post("admin", self.add_override)),
                ("POST", "/ui/overrides/{id}/remove", post("admin", self.remove_override)),
                ("POST", "/ui/dead-letters/{id}/retry", post("respond", self.retry)),
                ("POST", "/ui/jobs/{id}/alerts", post("admin", self.add_job_alert)),
                ("POST", "/ui/job-alerts/{id}/delete", post("admin", self.delete_job_alert))]

    async def add_override(self, request: Request, form: Form) -> Done | Response:
        values = {name: form.text(name) for name in OVERRIDE_FIELDS}
        added = await add_override(self.engine, form.actor, values)
        if isinstance(added, Refused):
            return await self.overrides.show("", False, added, values)
        item = added.override
        warned = "".join(f" {warning}" for warning in added.warnings)
        return Done(f"/ui/overrides?rota={quote(item.rota, safe='')}",
                    f"Override {item.id} added: {item.person} on {item.rota}.{warned}")

    async def remove_override(self, request: Request, form: Form) -> Done:
        removed = await remove_override(self.engine, form.actor,
                                        request.params["id"])
        if isinstance(removed, Refused):
            return Done("/ui/overrides", refused_message(removed), "error")
        return Done("/ui/overrides", f"Override {removed.id} removed.")

    async def retry(self, request: Request, form: Form) -> Done:
        letter = await retry_dead_letter(self.engine, form.actor, request.params["id"])
        if isinstance(letter, Refused):
            return Done("/ui/dead-letters", refused_message(letter), "error")
        return Done("/ui/dead-letters", f"Notification {letter.notification_id} to "
                                        f"{letter.target} is being sent again.")

    async def add_job_alert(self, request: Request, form: Form) -> Done | Response:
        job_id = request.params["id"]
        values = {name: form.text(name) for name in ALERT_FIELDS}
        added = await add_job_alert(self.engine, form.actor, job_id, values)
        if isinstance(added, Refused):
            return await self.jobs.show(job_id, refused=added, values=values)
        return Done(job_page(job_id), f"Alert target {shown_target(added)} added.")

    async def delete_job_alert(self, request: Request, form: Form) -> Done:
        removed = await delete_job_alert(self.engine, form.actor,
                                         request.params["id"])
        if isinstance(removed, Refused):
            return Done("/ui/jobs", refused_message(removed), "error")
        return Done(job_page(removed.job), f"Alert target {shown_target(removed)} deleted.")
