"""The responder pages' forms over real loopback HTTP through the one form plumbing
(router/web/responder_forms.py on forms.py): overrides add and remove, dead letter retry,
job alert targets add and delete. Each refuses a post without its CSRF token and a user
whose role the JSON API would refuse, does the change as the user (`web:NAME`) and sends
the browser back with a flash, and shows a refused Add form's error beside its field."""

from __future__ import annotations

import re
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import trio

from router.alerts.model import Alert, Severity, Status
from router.clock import FixedClock
from router.config import load_config
from router.config.passwords import hash_password
from router.engine import Engine, overrides
from router.server.api import build_routes
from router.store.values import Attempt
from router.web.access import WebAccess
from router.web.assets import Assets
from router.web.pages import page_routes
from router.web.render import Renderer
from tests.server.support import Servers
from tests.web.responder_site import CONFIG, NOW, row_text, text_of
from tests.web.test_forms import Site

USERS = """
users:
  - {{name: ann, role: admin, password_hash: "{ann}"}}
  - {{name: rob, role: read, password_hash: "{rob}"}}
  - {{name: cy, role: respond, password_hash: "{cy}"}}
"""
COVER = {"rota": "web", "person": "cy", "replaces": "ann", "from": "2026-03-25T13:00",
         "until": "2026-03-25T17:00", "reason": "ann at the <dentist>"}
HOOK = {"alert_type": "webhook", "target": "https://hooks.example.com/x?token=s3cret",
        "on_failure": "on"}


@pytest.fixture
async def site(tmp_path: Path, nursery: trio.Nursery) -> AsyncIterator[Site]:
    servers = Servers(nursery)
    hashes = {name: hash_password(name * 2, cost=2**10) for name in ("ann", "rob", "cy")}
    config = textwrap.dedent(CONFIG) + USERS.format(**hashes)
    (tmp_path / "config.yaml").write_text(config)
    store = await servers.open_store(tmp_path / "router.db")
    engine = Engine(load_config([tmp_path / "config.yaml"]), store, FixedClock(NOW))
    web = WebAccess(engine, Renderer(Assets()), key=b"s" * 32)
    routes = build_routes(engine, admin_token="t-admin", pages=page_routes(engine, web=web),
                          web=web)
    yield Site(await servers.serve(routes), engine)
    await servers.close()


def flash_of(answer: httpx.Response) -> str:
    """The flash cookie a redirect sets, as the next request's Cookie part."""
    return answer.headers["set-cookie"].partition(";")[0]


async def dead_letter(site: Site) -> tuple[str, str]:
    """An incident whose page to ann failed for good; (incident id, notification id)."""
    [accepted] = await site.engine.ingest([Alert(
        summary="Disk full", source="native", severity=Severity.CRITICAL,
        status=Status.FIRING, labels={"alertname": "DiskFull"})])
    assert accepted.incident_id is not None
    store = site.engine.store
    [due] = await store.read(lambda reader: reader.outbox.due("mail", NOW, 10))
    notification = due.notification
    await store.write(lambda transaction: transaction.outbox.record(Attempt(
        notification_id=notification.id, incident_number=notification.incident_number,
        channel="mail", target=notification.target, event=notification.event, attempt=3,
        attempted_at=NOW, outcome="failed", error="550 unavailable")))
    return accepted.incident_id, notification.id


async def test_the_pages_forms_carry_the_viewer_s_csrf_token(site: Site) -> None:
    cookie = await site.session("ann")
    token = await site.csrf_token(cookie)
    await dead_letter(site)
    for path in ("/ui/overrides", "/ui/jobs/backup", "/ui/dead-letters"):
        page = await site.page(path, cookie)
        forms = re.findall(r'<form[^>]* method="post".*?</form>', page.text, re.S)
        assert forms, path
        for form in forms:
            assert f'name="csrf_token" value="{token}"' in form, (path, form)


async def test_an_override_is_added_and_removed_as_the_user(site: Site) -> None:
    cookie = await site.session("ann")
    added = await site.post("/ui/overrides", cookie, COVER)
    assert (added.status_code, added.headers["location"]) == (303, "/ui/overrides?rota=web")
    [override] = await overrides.overrides(site.engine)
    assert (override.person, override.created_by) == ("cy", "web:ann")
    page = await site.page("/ui/overrides", f"{cookie}; {flash_of(added)}")
    assert f"Override {override.id} added: cy on web." in text_of(page)
    assert row_text(page, override.id).endswith("web:ann Remove")
    removed = await site.post(f"/ui/overrides/{override.id}/remove", cookie, {})
    assert (removed.status_code, removed.headers["location"]) == (303, "/ui/overrides")
    page = await site.page("/ui/overrides", f"{cookie}; {flash_of(removed)}")
    assert f"Override {override.id} removed." in text_of(page)
    assert await overrides.overrides(site.engine) == []
    again = await site.post(f"/ui/overrides/{override.id}/remove", cookie, {})
    assert again.status_code == 303
    page = await site.page("/ui/overrides", f"{cookie}; {flash_of(again)}")
    assert f"no override {override.id} in force or to come" in text_of(page)
    assert 'class="flash error"' in page.text


async def test_a_refused_override_is_shown_beside_its_field(site: Site) -> None:
    cookie = await site.session("ann")
    answer = await site.post("/ui/overrides", cookie, {**COVER, "until": ""})
    assert answer.status_code == 400
    assert '<span class="error" id="error-until">is required</span>' in answer.text
    assert 'name="reason" type="text" value="ann at the &lt;dentist&gt;"' in answer.text
    assert 'name="csrf_token"' in answer.text  # the form shown again can be sent again
    assert await overrides.overrides(site.engine) == []


async def test_a_dead_letter_is_retried_as_the_user(site: Site) -> None:
    incident, notification = await dead_letter(site)
    cookie = await site.session("cy")  # respond is enough: it sends a page again
    answer = await site.post(f"/ui/dead-letters/{notification}/retry", cookie, {})
    assert (answer.status_code, answer.headers["location"]) == (303, "/ui/dead-letters")
    page = await site.page("/ui/dead-letters", f"{cookie}; {flash_of(answer)}")
    assert f"Notification {notification} to person:ann is being sent again." \
        in text_of(page)
    assert "No dead letters" in text_of(page)
    detail = await site.engine.incident(incident)
    assert detail is not None
    [entry] = [item for item in detail.timeline if item.action == "delivery retried"]
    assert entry.actor == "web:cy"
    again = await site.post(f"/ui/dead-letters/{notification}/retry", cookie, {})
    page = await site.page("/ui/dead-letters", f"{cookie}; {flash_of(again)}")
    assert f"no dead letter {notification}" in text_of(page)


async def test_a_job_alert_target_is_added_and_deleted_as_the_user(site: Site) -> None:
    cookie = await site.session("ann")
    added = await site.post("/ui/jobs/backup/alerts", cookie, HOOK)
    assert (added.status_code, added.headers["location"]) == (303, "/ui/jobs/backup")
    [target] = await site.engine.jobs.alerts("backup")
    assert (target.on_failure, target.on_timeout, target.created_by) == (
        True, False, "web:ann")
    page = await site.page("/ui/jobs/backup", f"{cookie}; {flash_of(added)}")
    assert "Alert target https://hooks.example.com/x added." in text_of(page)
    assert "s3cret" not in page.text
    deleted = await site.post(f"/ui/job-alerts/{target.id}/delete", cookie, {})
    assert (deleted.status_code, deleted.headers["location"]) == (303, "/ui/jobs/backup")
    assert await site.engine.jobs.alerts("backup") == []
    again = await site.post(f"/ui/job-alerts/{target.id}/delete", cookie, {})
    assert (again.status_code, again.headers["location"]) == (303, "/ui/jobs")
    page = await site.page("/ui/jobs", f"{cookie}; {flash_of(again)}")
    assert f"no job alert target '{target.id}'" in text_of(page)


async def test_a_refused_job_alert_target_is_shown_beside_its_field(site: Site) -> None:
    cookie = await site.session("ann")
    answer = await site.post("/ui/jobs/backup/alerts", cookie, {**HOOK, "target": "ftp://x"})
    assert answer.status_code == 400
    assert ('<span class="error" id="error-target">expected an http:// or https:// URL '
            "with a host, got &#39;ftp://x&#39;</span>") in answer.text
    unknown = await site.post("/ui/jobs/nope/alerts", cookie, HOOK)
    assert unknown.status_code == 404
    assert await site.engine.jobs.alerts("backup") == []


async def _every_form(site: Site) -> dict[str, dict[str, str]]:
    """Each of the five forms' path and fields, for things that exist."""
    _, notification = await dead_letter(site)
    await site.post("/ui/overrides", await site.session("ann"), COVER)
    [override] = await overrides.overrides(site.engine)
    await site.post("/ui/jobs/backup/alerts", await site.session("ann"), HOOK)
    [target] = await site.engine.jobs.alerts("backup")
    return {"/ui/overrides": {**COVER, "person": "ben"},
            f"/ui/overrides/{override.id}/remove": {},
            f"/ui/dead-letters/{notification}/retry": {},
            "/ui/jobs/backup/alerts": HOOK,
            f"/ui/job-alerts/{target.id}/delete": {}}


async def _unchanged(site: Site) -> None:
    assert len(await overrides.overrides(site.engine)) == 1
    assert len(await site.engine.jobs.alerts("backup")) == 1
    assert len(await site.engine.store.read(
        lambda reader: reader.outbox.dead_letters(10))) == 1


async def test_a_form_without_its_csrf_token_is_refused(site: Site) -> None:
    forms = await _every_form(site)
    cookie = await site.session("ann")
    for path, fields in forms.items():
        answer = await site.post(path, cookie, fields, csrf=False)
        assert answer.status_code == 403, path
        assert "security token is missing or out of date" in text_of(answer), path
    await _unchanged(site)


async def test_a_user_without_the_api_s_scope_is_refused(site: Site) -> None:
    forms = await _every_form(site)
    reader, responder = await site.session("rob"), await site.session("cy")
    for path, fields in forms.items():
        answer = await site.post(path, reader, fields)
        assert answer.status_code == 403, path
        assert "rob (read) may not do this" in text_of(answer), path
        if "/dead-letters/" not in path:  # the others need admin, as the API asks
            answer = await site.post(path, responder, fields)
            assert answer.status_code == 403, path
            assert "cy (respond) may not do this" in text_of(answer), path
    await _unchanged(site)


async def test_a_page_disables_the_buttons_the_user_s_role_would_refuse(site: Site) -> None:
    await _every_form(site)
    pages = ("/ui/overrides", "/ui/jobs/backup", "/ui/dead-letters")
    for user, disabled in (("ann", []), ("cy", ["/ui/overrides", "/ui/jobs/backup"]),
                           ("rob", list(pages))):
        cookie = await site.session(user)
        for path in pages:
            page = (await site.page(path, cookie)).text
            buttons = [re.findall(r"<button[^>]*>", form) for form in re.findall(
                r'<form[^>]* method="post".*?</form>', page, re.S) if "logout" not in form]
            assert buttons, path
            assert all(("disabled" in button) == (path in disabled)
                       for found in buttons for button in found), (user, path, buttons)
