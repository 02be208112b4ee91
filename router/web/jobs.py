"""The jobs pages and the alert-target form handlers (room: web).

`GET /ui/jobs` lists the jobs (the config's and the API's) with each one's newest run;
`GET /ui/jobs/{id}[?limit=N]` shows one: its facts, its newest runs (20 unless `limit`
says, up to 100) and its alert targets, each with a Delete form (posting to
`/ui/job-alerts/{id}/delete`), above an Add form (posting to `/ui/jobs/{id}/alerts`: fields
`alert_type`, `target`, `channel`, and the checkboxes `on_failure` and `on_timeout`): the
seed's job page. Their handlers are `add_job_alert` and `delete_job_alert` below; the
checks are engine/job_requests.py's, shared with `router job` and `POST /v1/jobs/{id}/alerts`.
A webhook's URL is shown without user info, query or fragment, as the API shows it.
"""

from __future__ import annotations

from typing import Any

from router.engine import Engine
from router.engine.job_requests import ALERT_TYPES, parse_alert
from router.engine.jobs import JobAlert, alert_json
from router.errors import BadRequest, NotFound
from router.server.routes import Handler, Request, Response
from router.web.fields import Fields, Refused, attempt, field
from router.web.render import Renderer

RUNS, RUNS_MOST = 20, 100
"""Runs a job page shows by default and at most (`?limit=`): 100 keep it under 100 KB."""
SHOWN = 100
"""The jobs page lists at most this many, so it stays under 100 KB; `router job list` has
every one."""
CHECKED = ("on", "1", "true", "yes")
"""What a checked checkbox may send (browsers send `on` unless the input has a value)."""


async def add_job_alert(engine: Engine, user_name: str, job_id: str, fields: Fields
                        ) -> JobAlert | Refused:
    """The Add form of a job's page: a webhook URL or email address told of the job's
    failed (`on_failure`) and timed-out (`on_timeout`) runs, added by `user_name`."""
    body: dict[str, Any] = {
        "alert_type": field(fields, "alert_type") or None, "target": field(fields, "target"),
        "channel": field(fields, "channel") or None, "created_by": user_name,
        "on_failure": field(fields, "on_failure").lower() in CHECKED,
        "on_timeout": field(fields, "on_timeout").lower() in CHECKED}

    async def add() -> JobAlert:
        return await engine.jobs.add_alert(job_id, parse_alert(body, engine.config))
    return await attempt(add())


async def delete_job_alert(engine: Engine, user_name: str, alert_id: str
                           ) -> JobAlert | Refused:
    """The Delete form of one alert target."""
    return await attempt(engine.jobs.remove_alert(alert_id.strip()))


def shown_target(alert: JobAlert) -> str:
    target: str = alert_json(alert)["target"]
    return target


class JobPages:
    def __init__(self, engine: Engine, renderer: Renderer) -> None:
        self.engine = engine
        self.renderer = renderer

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [("GET", "/ui/jobs", self.listing),
                ("GET", "/ui/jobs/{id}", self.job)]

    async def listing(self, request: Request) -> Response:
        found, total = await self.engine.jobs.listing(SHOWN)
        return self.renderer.page("jobs.html", jobs=found, hidden=total - len(found))

    async def job(self, request: Request) -> Response:
        try:
            limit = request.limit(RUNS, RUNS_MOST)
        except BadRequest as error:
            return self.renderer.message(400, "Bad filter", str(error))
        return await self.show(request.params["id"], limit)

    async def show(self, job_id: str, limit: int = RUNS, refused: Refused | None = None,
                   values: Fields | None = None) -> Response:
        """The job's page; with `refused`, a 400 that shows each error beside its field of
        the Add form, refilled with the `values` posted (the form plumbing's answer)."""
        jobs = self.engine.jobs
        try:
            view = await jobs.job(job_id)
        except NotFound:
            return self.renderer.message(404, "Unknown job", f"router has no job {job_id}.")
        extra = {} if refused is None else {"errors": refused.errors}
        channels = [channel.id for channel in self.engine.config.channels.values()
                    if channel.type in ALERT_TYPES]
        return self.renderer.page(
            "job.html", 200 if refused is None else 400, view=view,
            runs=await jobs.runs(job_id, limit), alerts=await jobs.alerts(job_id),
            shown_target=shown_target, alert_types=ALERT_TYPES, channels=channels,
            values=dict(values) if values is not None else {}, **extra)
