"""Batch jobs over HTTP (room: server; imports engine, errors).

`GET /v1/jobs[?limit=N]` lists the first `limit` (default 100) jobs (the config's, then the
API's by id) with each one's newest run, and `jobs_omitted`, how many more there are;
`POST /v1/jobs` creates one (201; `{id, service, timeout (seconds), severity,
description}`); `GET /v1/jobs/{id}` shows one. A runner reports its runs with
`POST /v1/jobs/{id}/runs` (`{run_id, status: started|succeeded|failed|timed_out,
exit_code, duration (seconds), output, started_at, timeout (seconds)}`; 201 when it
changed the run, 200 when it was a repeat) and `GET /v1/jobs/{id}/runs` lists the newest.
Alert targets: `GET|POST /v1/jobs/{id}/alerts` (`{alert_type: webhook|email, target,
on_failure, on_timeout, channel}`), `DELETE /v1/job-alerts/{id}`. The checks are
router/engine/job_requests.py's, shared with `router job`: each failure is a 400 naming the
field; an unknown job is 404, a run that already ended otherwise 409 (engine/jobs.py).
"""

from __future__ import annotations

from router.engine import Engine
from router.engine.job_requests import check_job_id, parse_alert, parse_job, parse_run
from router.engine.jobs import alert_json, job_json, run_json
from router.server.routes import LISTING_LIMIT, LISTING_MOST, Request, Response

_RUNS_LIMIT = 1000


class JobsApi:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def list(self, request: Request) -> Response:
        """The first `limit` jobs and how many more there are (each costs a read of its
        newest run)."""
        found, total = await self.engine.jobs.listing(request.limit(LISTING_LIMIT,
                                                                    LISTING_MOST))
        return Response.json(200, {"jobs": [job_json(view) for view in found],
                                   "jobs_omitted": total - len(found)})

    async def show(self, request: Request) -> Response:
        return Response.json(200, job_json(await self.engine.jobs.job(request.params["id"])))

    async def create(self, request: Request) -> Response:
        job = parse_job(request.json_object(), self.engine.config)
        await self.engine.jobs.create_job(job)
        return Response.json(201, job_json(await self.engine.jobs.job(job.id)))

    async def report(self, request: Request) -> Response:
        job_id = check_job_id(request.params["id"], "job")
        report = parse_run(request.json_object())
        run, outcome = await self.engine.jobs.report(job_id, report)
        status = 200 if outcome == "unchanged" else 201
        return Response.json(status, {"outcome": outcome, "run": run_json(run)})

    async def runs(self, request: Request) -> Response:
        found = await self.engine.jobs.runs(request.params["id"], request.limit(20, _RUNS_LIMIT))
        return Response.json(200, {"runs": [run_json(run) for run in found]})

    async def alerts(self, request: Request) -> Response:
        found = await self.engine.jobs.alerts(request.params["id"])
        return Response.json(200, {"alerts": [alert_json(alert) for alert in found]})

    async def add_alert(self, request: Request) -> Response:
        wanted = parse_alert(request.json_object(), self.engine.config)
        added = await self.engine.jobs.add_alert(request.params["id"], wanted)
        return Response.json(201, alert_json(added))

    async def remove_alert(self, request: Request) -> Response:
        removed = await self.engine.jobs.remove_alert(request.params["id"])
        return Response.json(200, alert_json(removed))
