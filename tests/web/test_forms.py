"""Logins, the form plumbing, the incident page's actions and the silences pages over real
loopback HTTP, an in-process server on a real SQLite store (issue 22 phase 2a); the browser
tests (tests/e2e/test_browser_flow.py) drive the same in chromium against the daemon."""

from __future__ import annotations

import html
import re
import textwrap
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from router.alerts.model import Alert, Severity, Status
from router.clock import FixedClock
from router.config import load_config
from router.config.passwords import hash_password
from router.engine import Engine
from router.server.api import build_routes
from router.web import login as login_module
from router.web.access import WebAccess, safe_next
from router.web.assets import Assets
from router.web.pages import page_routes
from router.web.render import Renderer
from router.web.silences import PREVIEW_SHOWN
from tests.server.support import Servers
from tests.web.test_pages import text_of

NOW = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
FORM = {"content-type": "application/x-www-form-urlencoded"}
HTML = {"accept": "text/html,application/xhtml+xml"}
CONFIG = """
settings:
  web:
    trusted_proxy: {{header: X-Forwarded-User, from: [127.0.0.1/32]}}
people:
  - {{id: ann, contact_methods: [{{type: email, address: ann@example.com}}]}}
channels:
  - {{id: log, type: log}}
escalation_policies:
  - {{id: default, levels: [{{targets: [{{person: ann}}], delay: 15m}},
                            {{targets: [{{person: ann}}], delay: 15m}}]}}
services:
  - {{id: api, escalation_policy: default, channels: [log]}}
routes:
  - service: api
users:
  - {{name: ann, role: respond, password_hash: "{ann}"}}
  - {{name: rob, role: read, password_hash: "{rob}"}}
  - {{name: proxied, role: respond}}
"""


@dataclass
class Site:
    http: httpx.AsyncClient
    engine: Engine

    async def open_incident(self, summary: str = "Disk full", **labels: str) -> str:
        [accepted] = await self.engine.ingest([Alert(
            summary=summary, source="native", severity=Severity.CRITICAL,
            status=Status.FIRING, labels={"alertname": summary, **labels})])
        assert accepted.incident_id is not None
        return accepted.incident_id

    async def login(self, user: str, password: str, next_page: str = "/ui/incidents"
                    ) -> httpx.Response:
        answer = await self.http.post("/ui/login", headers=FORM, content=(
            f"user={user}&password={password}&next={next_page}").encode())
        self.http.cookies.clear()  # each request names its session itself
        return answer

    async def session(self, user: str = "ann") -> str:
        """The Cookie header of a logged-in session of `user` (password = name * 2)."""
        answer = await self.login(user, user * 2)
        assert answer.status_code == 303, answer.text
        return answer.headers["set-cookie"].partition(";")[0]

    async def page(self, path: str, cookie: str) -> httpx.Response:
        return await self.http.get(path, headers={"cookie": cookie, **HTML})

    async def post(self, path: str, cookie: str, fields: dict[str, str], *,
                   csrf: bool = True) -> httpx.Response:
        """Post `fields` as the page's form would, with its CSRF token unless told."""
        body = dict(fields)
        if csrf:
            body["csrf_token"] = await self.csrf_token(cookie)
        return await self.http.post(path, data=body, headers={"cookie": cookie})

    async def csrf_token(self, cookie: str) -> str:
        page = await self.page("/ui/silences", cookie)
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert found is not None, page.text
        return found.group(1)


@pytest.fixture
async def site(tmp_path: Path, nursery: trio.Nursery) -> AsyncIterator[Site]:
    servers = Servers(nursery)
    config = CONFIG.format(ann=hash_password("annann", cost=2**10),
                           rob=hash_password("robrob", cost=2**10))
    (tmp_path / "config.yaml").write_text(textwrap.dedent(config))
    store = await servers.open_store(tmp_path / "router.db")
    engine = Engine(load_config([tmp_path / "config.yaml"]), store, FixedClock(NOW))
    web = WebAccess(engine, Renderer(Assets()), key=b"s" * 32)
    routes = build_routes(engine, admin_token="t-admin", pages=page_routes(engine, web=web),
                          web=web)
    yield Site(await servers.serve(routes), engine)
    await servers.close()


async def test_a_browser_without_a_login_goes_to_the_login_page_and_back(site: Site
                                                                        ) -> None:
    incident = await site.open_incident()
    answer = await site.http.get(f"/ui/incidents/{incident}?tab=x", headers=HTML)
    assert (answer.status_code, answer.headers["location"]) == (
        303, f"/ui/login?next=/ui/incidents/{incident}%3Ftab%3Dx")
    json_client = await site.http.get(f"/ui/incidents/{incident}")
    assert json_client.status_code == 401  # a JSON client is not redirected
    login = await site.http.get(answer.headers["location"])
    assert f'name="next" value="/ui/incidents/{incident}?tab=x"' in login.text
    done = await site.login("ann", "annann", f"/ui/incidents/{incident}")
    assert (done.status_code, done.headers["location"]) == (303, f"/ui/incidents/{incident}")
    cookie = done.headers["set-cookie"]
    assert cookie.startswith("router_session=")
    assert {"HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"} <= set(
        cookie.split("; "))
    page = await site.page(f"/ui/incidents/{incident}", cookie.partition(";")[0])
    assert page.status_code == 200
    assert "ann (respond) Log out" in text_of(page)


@pytest.mark.parametrize("given", ["https://evil.example/", "//evil.example/x",
                                   "/\\evil.example", "/v1/incidents", "javascript:x",
                                   "/ui/login?next=//evil", ""])
def test_a_login_sends_only_to_this_router_s_pages(given: str) -> None:
    assert safe_next(given) == "/ui/incidents"


async def test_a_next_page_outside_ascii_goes_home_rather_than_failing(site: Site) -> None:
    # A Location header must be ASCII: "/ui/€" once made the server refuse its own
    # answer (a 500). router's own login redirects percent-encode every path they send.
    done = await site.login("ann", "annann", "/ui/incidents/%E2%82%AC")
    assert (done.status_code, done.headers["location"]) == (303, "/ui/incidents")
    cookie = done.headers["set-cookie"].partition(";")[0]
    again = await site.http.get("/ui/login?next=/ui/%E2%82%AC", headers={"cookie": cookie})
    assert (again.status_code, again.headers["location"]) == (303, "/ui/incidents")
    assert safe_next("/ui/incidents/\u00e9") == "/ui/incidents"


async def test_an_unknown_user_and_a_wrong_password_read_the_same(
        site: Site, caplog: pytest.LogCaptureFixture) -> None:
    unknown = await site.login("hunter2hunter2", "annann")  # a password in the name box
    wrong = await site.login("ann", "wrong")
    assert unknown.status_code == wrong.status_code == 401
    assert "set-cookie" not in unknown.headers
    assert "Unknown user or wrong password." in text_of(unknown)
    assert text_of(unknown).replace("hunter2hunter2", "ann") == text_of(wrong)
    assert "hunter2" not in caplog.text
    assert "web login refused for an unknown user from 127.0.0.1" in caplog.text
    assert "web login refused for ann from 127.0.0.1" in caplog.text


async def test_logins_are_throttled_with_retry_after(site: Site) -> None:
    for _ in range(6):  # 5 free failures, then each one imposes a wait
        assert (await site.login("ann", "wrong")).status_code == 401
    throttled = await site.login("ann", "annann")  # even the right password waits
    assert throttled.status_code == 429
    assert throttled.headers["retry-after"] == "1"
    assert "Too many failed logins: try again in 1 s." in text_of(throttled)


async def test_concurrent_guesses_are_throttled_as_sequential_ones(site: Site) -> None:
    # Each guess counts as a failure before its password is checked: a burst sent at once
    # cannot all pass the throttle while the first ones are still being hashed.
    statuses: list[int] = []

    async def guess(number: int) -> None:
        statuses.append((await site.http.post("/ui/login", headers=FORM, content=(
            f"user=ann&password=wrong{number}").encode())).status_code)

    async with trio.open_nursery() as nursery:
        for number in range(20):
            nursery.start_soon(guess, number)
    assert sorted(statuses) == [401] * 6 + [429] * 14  # 5 free, then the first wait


async def test_at_most_a_few_passwords_are_hashed_at_once(
        site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    # scrypt takes 32 MiB and ~50 ms of CPU a check: a flood of logins must not take every
    # worker thread (email delivery runs in them too) nor that memory times the flood.
    running, most, lock = [0], [0], threading.Lock()
    real = login_module.check_password

    def counted(*arguments: Any) -> Any:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05)  # long enough for the others to start if they may
        with lock:
            running[0] -= 1
        return real(*arguments)

    monkeypatch.setattr(login_module, "check_password", counted)
    async with trio.open_nursery() as nursery:
        for number in range(6):  # the throttle's free failures and one more
            nursery.start_soon(site.login, "ann", f"wrong{number}")
    assert most[0] == login_module.PASSWORD_CHECKS


async def test_a_post_from_another_site_is_refused_for_what_it_is(site: Site) -> None:
    # Not "your role falls short": an admin behind a proxy whose public_url is wrong would
    # hunt for a missing right. The page names the Origin check and what to look at.
    incident = await site.open_incident()
    cookie = await site.session("ann")
    token = await site.csrf_token(cookie)
    answer = await site.http.post(
        f"/ui/incidents/{incident}/acknowledge", data={"csrf_token": token},
        headers={"cookie": cookie, "origin": "https://evil.example"})
    assert answer.status_code == 403
    shown = text_of(answer)
    assert "Origin 'https://evil.example' is not this router's" in shown
    assert "public_url" in shown
    assert "role" not in shown
    assert (await site.engine.incident(incident)).incident.state.value == "triggered"


async def test_acknowledge_from_the_page_is_the_user_s_in_the_timeline(site: Site) -> None:
    incident = await site.open_incident()
    cookie = await site.session("ann")
    answer = await site.post(f"/ui/incidents/{incident}/acknowledge", cookie, {})
    assert (answer.status_code, answer.headers["location"]) == (
        303, f"/ui/incidents/{incident}")
    flash = answer.headers["set-cookie"].partition(";")[0]
    page = await site.page(f"/ui/incidents/{incident}", f"{cookie}; {flash}")
    assert f"{incident} is acknowledged." in text_of(page)
    assert "router_flash=; " in page.headers["set-cookie"]  # shown once
    detail = await site.engine.incident(incident)
    assert detail is not None
    assert (detail.timeline[-1].actor, detail.timeline[-1].action) == (
        "web:ann", "acknowledged")
    note = await site.post(f"/ui/incidents/{incident}/notes", cookie, {"text": "on it"})
    assert note.status_code == 303
    resolved = await site.post(f"/ui/incidents/{incident}/resolve", cookie, {})
    assert resolved.status_code == 303
    again = await site.post(f"/ui/incidents/{incident}/escalate", cookie, {})
    assert again.status_code == 303  # back to the page, with why not
    assert "router_flash=" in again.headers["set-cookie"]
    detail = await site.engine.incident(incident)
    assert detail is not None
    assert [entry.action for entry in detail.timeline if entry.actor == "web:ann"] == [
        "acknowledged", "note", "resolved"]


async def test_a_form_without_its_csrf_token_is_refused(site: Site) -> None:
    incident = await site.open_incident()
    cookie = await site.session("ann")
    missing = await site.post(f"/ui/incidents/{incident}/acknowledge", cookie, {},
                              csrf=False)
    wrong = await site.post(f"/ui/incidents/{incident}/acknowledge", cookie,
                            {"csrf_token": "A" * 43}, csrf=False)
    for answer in (missing, wrong):
        assert answer.status_code == 403
        assert "security token is missing or out of date" in text_of(answer)
    other = await site.session("ann")  # another session's token does not fit this one
    stolen = await site.post(f"/ui/incidents/{incident}/acknowledge", cookie,
                             {"csrf_token": await site.csrf_token(other)}, csrf=False)
    assert stolen.status_code == 403
    detail = await site.engine.incident(incident)
    assert detail is not None and detail.incident.state.value == "triggered"


async def test_a_read_user_cannot_acknowledge(site: Site) -> None:
    incident = await site.open_incident()
    cookie = await site.session("rob")
    page = await site.page(f"/ui/incidents/{incident}", cookie)
    assert re.search(r'name="acknowledge" disabled', page.text)
    answer = await site.post(f"/ui/incidents/{incident}/acknowledge", cookie, {})
    assert answer.status_code == 403
    assert "rob (read) may not do this" in text_of(answer)
    detail = await site.engine.incident(incident)
    assert detail is not None and detail.incident.state.value == "triggered"


async def test_the_trusted_proxy_s_header_logs_in_a_declared_user(site: Site) -> None:
    incident = await site.open_incident()
    headers = {"x-forwarded-user": "proxied", **HTML}
    page = await site.http.get(f"/ui/incidents/{incident}", headers=headers)
    assert page.status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    answer = await site.http.post(f"/ui/incidents/{incident}/acknowledge", headers={
        "x-forwarded-user": "proxied"}, data={"csrf_token": token.group(1)})
    assert answer.status_code == 303
    unknown = await site.http.get("/ui/incidents", headers={"x-forwarded-user": "eve",
                                                            **HTML})
    assert unknown.status_code == 303


async def test_logout_clears_the_session(site: Site) -> None:
    cookie = await site.session("ann")
    answer = await site.post("/ui/logout", cookie, {})
    assert (answer.status_code, answer.headers["location"]) == (303, "/ui/login")
    assert any(value.startswith("router_session=; ") for value in
               answer.headers.get_list("set-cookie"))


async def test_a_silence_s_preview_lists_a_bounded_number_of_incidents(site: Site) -> None:
    # A broad matcher over a flood of open incidents: the page says how many, lists the
    # newest PREVIEW_SHOWN, and stays small.
    await site.engine.ingest([Alert(
        summary=f"Disk full {number}", source="native", severity=Severity.CRITICAL,
        status=Status.FIRING, labels={"alertname": "DiskFull", "instance": f"db{number}"})
        for number in range(PREVIEW_SHOWN + 5)])
    cookie = await site.session("ann")
    preview = await site.post("/ui/silences", cookie, {
        "matchers": 'alertname="DiskFull"', "duration": "2h", "comment": "disks"})
    assert preview.status_code == 200
    shown = text_of(preview)
    assert f"Would cover {PREVIEW_SHOWN + 5} open incidents" in shown
    assert preview.text.count('<li><a href="/ui/incidents/') == PREVIEW_SHOWN
    assert f"INC{PREVIEW_SHOWN + 5} " in shown and "INC5 " not in shown  # the newest
    assert "and 5 more" in shown


async def test_a_silence_is_previewed_then_added_then_expired(site: Site) -> None:
    covered = await site.open_incident("Disk full", instance="db1")
    await site.open_incident("Load high", instance="web1")
    cookie = await site.session("ann")
    form = await site.page(f"/ui/silences/new?incident={covered}", cookie)
    assert 'alertname="Disk full"\ninstance="db1"</textarea>' in html.unescape(form.text)
    fields = {"matchers": 'alertname="Disk full"\ninstance=~"db.*"', "duration": "2h",
              "comment": "replacing the disk"}
    preview = await site.post("/ui/silences", cookie, fields)
    assert preview.status_code == 200
    assert "Would cover 1 open incident" in text_of(preview)
    assert f"{covered} Disk full" in text_of(preview)
    assert await site.engine.silences() == []  # a preview stores nothing
    added = await site.post("/ui/silences", cookie, {**fields, "confirm": "yes"})
    assert (added.status_code, added.headers["location"]) == (303, "/ui/silences")
    [silence] = await site.engine.silences()
    assert (silence.created_by, silence.reason, silence.ends_at) == (
        "ann", "replacing the disk", NOW.replace(hour=5))
    listed = await site.page("/ui/silences", cookie)
    assert f'{silence.id} alertname="Disk full", instance=~"db.*"' in text_of(listed)
    expired = await site.post(f"/ui/silences/{silence.id}/expire", cookie, {})
    assert expired.status_code == 303
    assert await site.engine.silences() == []


@pytest.mark.parametrize(("fields", "shown"), [
    ({"matchers": "alertname", "duration": "2h", "comment": "x"},
     "matchers line 1: bad matcher format: 'alertname'"),
    ({"matchers": 'a="b"', "duration": "soon", "comment": "x"},
     "duration: expected a duration like 30s"),
    ({"matchers": 'a="b"', "duration": "2h", "comment": ""},
     "comment: say why: a silence needs a comment"),
    ({"matchers": 'a="b"', "until_resolved": "yes", "comment": "x", "confirm": "yes"},
     "until_resolved: the silence covers no open incident"),
])
async def test_a_bad_silence_is_shown_on_its_form(site: Site, fields: dict[str, str],
                                                  shown: str) -> None:
    cookie = await site.session("ann")
    answer = await site.post("/ui/silences", cookie, fields)
    assert answer.status_code == 400
    assert shown in text_of(answer)
    assert f'value="{fields["comment"]}"' in html.unescape(answer.text)  # typed: kept


async def test_a_form_that_is_not_one_is_a_clear_page(site: Site) -> None:
    cookie = await site.session("ann")
    token = await site.csrf_token(cookie)
    answer = await site.http.post("/ui/silences", headers={
        "cookie": cookie, "content-type": "application/x-www-form-urlencoded"},
        content=b"csrf_token=" + token.encode() + b"&matchers=%ff")
    assert answer.status_code == 400
    assert "the form is not UTF-8 text" in text_of(answer)


async def test_a_decoded_line_break_in_the_path_never_reaches_a_header(site: Site) -> None:
    cookie = await site.session("ann")
    answer = await site.post("/ui/incidents/INC1%0d%0aSet-Cookie:%20x=1/acknowledge",
                             cookie, {})
    assert (answer.status_code, answer.headers["location"]) == (
        303, "/ui/incidents/INC1%0D%0ASet-Cookie%3A%20x%3D1")
    assert "x=1" not in answer.headers.get_list("set-cookie")
    anonymous = await site.http.get("/ui/incidents/INC1%0d%0aX:%20y", headers=HTML)
    assert anonymous.status_code == 303, (anonymous.status_code, anonymous.text)
    assert anonymous.headers["location"] == (
        "/ui/login?next=/ui/incidents/INC1%250D%250AX%253A%2520y")
    assert "x" not in anonymous.headers, anonymous.headers


async def test_a_silence_ending_past_the_year_9999_is_a_clear_error(site: Site) -> None:
    cookie = await site.session("ann")
    answer = await site.post("/ui/silences", cookie, {
        "matchers": 'a="b"', "duration": "999999999d", "comment": "x"})
    assert answer.status_code == 400
    assert "duration: ends past the year 9999: '999999999d'" in text_of(answer)
