"""The jobs pages over real loopback HTTP and the alert-target form handlers called directly
(router/web/jobs.py): each job with its last run, one job's runs and targets (the seed's job
page: list, add, delete), a webhook's secret query never shown, escaping, empty states, a
bad limit and an unknown job."""

from __future__ import annotations

from router.engine.job_requests import parse_run
from router.engine.jobs import JobAlert
from router.web.fields import Refused
from router.web.jobs import JobPages, add_job_alert, delete_job_alert
from router.web.pages import Pages
from tests.web.responder_site import Site, row_text, site, text_of

__all__ = ["site"]
HOOK = {"alert_type": "webhook", "target": "https://hooks.example.com/x?token=s3cret",
        "on_failure": "on"}


async def test_the_jobs_page_lists_each_job_with_its_last_run(site: Site) -> None:
    page = await site.get("/ui/jobs")
    assert page.status_code == 200
    assert row_text(page, "job-backup") == "backup nightly <dump> shop 2:00:00 never run"
    assert "nightly &lt;dump&gt;" in page.text
    await site.engine.jobs.report("backup", parse_run(
        {"run_id": "r1", "status": "failed", "exit_code": 2, "output": "<boom>"}))
    page = await site.get("/ui/jobs")
    assert row_text(page, "job-backup") == (
        "backup nightly <dump> shop 2:00:00 r1 failed (exit 2) 2026-03-25 12:00:00 UTC "
        "2026-03-25 12:00:00 UTC")
    one = await site.get("/ui/jobs/backup")
    assert row_text(one, "run-r1").startswith("r1 failed 2 2026-03-25 12:00:00 UTC")
    assert "<code>&lt;boom&gt;</code>" in one.text


async def test_alert_targets_are_listed_added_and_deleted(site: Site) -> None:
    empty = await site.get("/ui/jobs/backup")
    assert "No runs yet." in text_of(empty)
    assert "No alert targets" in text_of(empty)
    assert '<form class="filters" method="post" action="/ui/jobs/backup/alerts">' in empty.text
    added = await add_job_alert(site.engine, "web:ben", "backup", HOOK)
    assert isinstance(added, JobAlert)
    assert (added.on_failure, added.on_timeout, added.created_by) == (True, False, "web:ben")
    page = await site.get("/ui/jobs/backup")
    assert row_text(page, f"target-{added.id}") == (
        "webhook https://hooks.example.com/x failures the first "
        "2026-03-25 12:00:00 UTC by web:ben Delete")
    assert "s3cret" not in page.text
    assert f'action="/ui/job-alerts/{added.id}/delete"' in page.text
    deleted = await delete_job_alert(site.engine, "web:ben", added.id)
    assert isinstance(deleted, JobAlert) and deleted.id == added.id
    assert "No alert targets" in text_of(await site.get("/ui/jobs/backup"))
    assert await delete_job_alert(site.engine, "web:ben", added.id) == Refused(
        {"id": f"no job alert target {added.id!r}"})


async def test_the_add_handler_refuses_by_field(site: Site) -> None:
    assert await add_job_alert(site.engine, "ben", "backup", {**HOOK, "target": "ftp://x"}) \
        == Refused({"target": "expected an http:// or https:// URL with a host, got 'ftp://x'"})
    refused = await add_job_alert(site.engine, "ben", "backup", {**HOOK, "on_failure": ""})
    assert isinstance(refused, Refused) and list(refused.errors) == ["on_failure"]
    refused = await add_job_alert(site.engine, "ben", "backup", {**HOOK, "alert_type": ""})
    assert refused == Refused({"alert_type": "is required"})
    refused = await add_job_alert(site.engine, "ben", "backup",
                                  {**HOOK, "alert_type": "email", "channel": "hooks"})
    assert isinstance(refused, Refused) and list(refused.errors) == ["target"]
    assert await add_job_alert(site.engine, "ben", "nope", HOOK) == Refused(
        {"id": "no job 'nope'"})
    assert await site.engine.jobs.alerts("backup") == []


async def test_a_refused_add_shows_its_error_and_keeps_the_boxes_as_posted(
        site: Site) -> None:
    pages = JobPages(site.engine, Pages(site.engine).renderer)
    posted = {**HOOK, "target": "<nope>"}
    refused = await add_job_alert(site.engine, "ben", "backup", posted)
    assert isinstance(refused, Refused)
    answer = await pages.show("backup", refused=refused, values=posted)
    body = answer.body.decode()
    assert answer.status == 400
    assert 'id="error-target">expected an http:// or https:// URL with a host, got ' \
           "&#39;&lt;nope&gt;&#39;</span>" in body
    assert 'name="on_failure" value="on" checked' in body
    assert 'name="on_timeout" value="on">' in body  # left unticked, as posted


async def test_a_bad_limit_is_a_400_and_an_unknown_job_a_404(site: Site) -> None:
    bad = await site.get("/ui/jobs/backup", params={"limit": "lots"})
    assert bad.status_code == 400
    assert "limit: expected a whole number from 1 to 100" in text_of(bad)
    unknown = await site.get("/ui/jobs/<nope>")
    assert unknown.status_code == 404
    assert "<nope>" not in unknown.text
    assert (await site.http.get("/ui/jobs")).status_code == 401
