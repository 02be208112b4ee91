"""The web interface's pages over real loopback HTTP, an in-process server on a real SQLite
store: what each page shows, its filters and pages, its escaping, its static files, its
weight; the browser tests (tests/e2e/test_browser.py) drive the same pages in chromium."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import trio

from router.alerts.model import Alert, Severity, Status
from router.clock import FixedClock
from router.config import load_config
from router.engine import Engine
from router.server.api import build_routes
from router.web.pages import PAGE_SIZE, page_routes
from router.web.status import DaemonStatus
from tests.server.support import Servers

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TOKEN = "t-admin"
CONFIG = """
settings:
  timezone: UTC
people:
  - {id: ann, contact_methods: [{type: email, address: ann@example.com}]}
channels:
  - {id: log, type: log}
escalation_policies:
  - {id: default, levels: [{targets: [{person: ann}], delay: 15m}]}
services:
  - {id: api, escalation_policy: default, channels: [log]}
  - {id: db, escalation_policy: default, channels: [log]}
routes:
  - service: api
    match: [team=api]
  - service: db
"""


async def _status() -> DaemonStatus:
    return DaemonStatus(version="9.9.9", revision="abc123def456", files=("/etc/router.yaml",),
                        last_reload=NOW, reloads=2, reload_failures=1,
                        reload_errors=("router.yaml:3: routes: expected a list",),
                        store="/var/lib/router/router.db",
                        listeners=("http://127.0.0.1:9080", "unix:/run/router.sock"))


@dataclass
class Site:
    http: httpx.AsyncClient
    engine: Engine

    async def get(self, path: str, **options: object) -> httpx.Response:
        return await self.http.get(path, headers={"authorization": f"Bearer {TOKEN}"},
                                   **options)  # type: ignore[arg-type]

    async def open_incident(self, summary: str, *, team: str = "api",
                            severity: Severity = Severity.CRITICAL, **labels: str) -> str:
        [accepted] = await self.engine.ingest([Alert(
            summary=summary, source="native", severity=severity, status=Status.FIRING,
            labels={"alertname": summary, "team": team, **labels},
            annotations={"runbook": "https://wiki.example.com/disk"})])
        assert accepted.incident_id is not None
        return accepted.incident_id


Start = Callable[[], Awaitable[Site]]


@pytest.fixture
async def site(tmp_path: Path, nursery: trio.Nursery) -> AsyncIterator[Site]:
    servers = Servers(nursery)
    (tmp_path / "config.yaml").write_text(CONFIG)
    store = await servers.open_store(tmp_path / "router.db")
    engine = Engine(load_config([tmp_path / "config.yaml"]), store, FixedClock(NOW))
    routes = build_routes(engine, admin_token=TOKEN, pages=page_routes(engine, _status))
    yield Site(await servers.serve(routes), engine)
    await servers.close()


def text_of(page: httpx.Response) -> str:
    """The page's text as a browser shows it: no tags, entities read, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page.text)).split())


def row_ids(page: httpx.Response) -> list[str]:
    return re.findall(r'<tr id="(INC\d+)">', page.text)


async def test_the_root_redirects_to_the_incidents_page(site: Site) -> None:
    answer = await site.http.get("/")
    assert (answer.status_code, answer.headers["location"]) == (303, "/ui/incidents")


async def test_pages_need_the_read_scope_as_the_json_api_does(site: Site) -> None:
    answer = await site.http.get("/ui/incidents")
    assert answer.status_code == 401
    assert (await site.get("/ui/incidents")).status_code == 200


async def test_the_incidents_page_lists_open_incidents_newest_first(site: Site) -> None:
    first = await site.open_incident("Disk full")
    second = await site.open_incident("Load high", team="db", severity=Severity.WARNING)
    await site.engine.resolve(await site.open_incident("Gone"), "api:ann")
    page = await site.get("/ui/incidents")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert row_ids(page) == [second, first]
    assert f"{second} triggered warning db Load high 2026-11-23 12:00:00 UTC" in text_of(page)
    assert '<meta name="viewport"' in page.text


@pytest.mark.parametrize(("query", "expected"), [
    ("state=resolved", ["INC3"]),
    ("state=all", ["INC3", "INC2", "INC1"]),
    ("service=db", ["INC2"]),
    ("severity=warning", ["INC2"]),
    ("severity=critical&state=all", ["INC3", "INC1"]),
    ("since=2026-11-23T12:00", ["INC2", "INC1"]),
    ("since=2026-11-24", []),
])
async def test_the_filters(site: Site, query: str, expected: list[str]) -> None:
    await site.open_incident("Disk full")
    await site.open_incident("Load high", team="db", severity=Severity.WARNING)
    await site.engine.resolve(await site.open_incident("Gone"), "api:ann")
    page = await site.get(f"/ui/incidents?{query}")
    assert row_ids(page) == expected
    rows = await site.get(f"/ui/incidents/rows?{query}")
    assert row_ids(rows) == expected
    assert "<html" not in rows.text  # a fragment: the table's rows alone


async def test_the_rows_fragment_has_the_pages_security_headers(site: Site) -> None:
    # Opened on its own it is an HTML document like any page: no framing, no sniffing, and
    # nothing loaded from another host.
    await site.open_incident("Disk full")
    rows = await site.get("/ui/incidents/rows")
    assert rows.status_code == 200
    assert "frame-ancestors 'none'" in rows.headers["content-security-policy"]
    assert rows.headers["x-content-type-options"] == "nosniff"
    assert rows.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize(("query", "field"), [
    ("state=closed", "state"), ("severity=fatal", "severity"), ("since=yesterday", "since"),
    ("page=0", "page"), ("page=%C2%B2", "page")])
async def test_a_bad_filter_is_a_page_naming_it(site: Site, query: str, field: str) -> None:
    page = await site.get(f"/ui/incidents?{query}")
    assert page.status_code == 400
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert f"{field}: expected" in text_of(page)


async def test_pages_of_fifty_with_links_to_older_and_newer(site: Site) -> None:
    for number in range(PAGE_SIZE * 2 + 5):
        await site.open_incident(f"Disk {number}")
    first = await site.get("/ui/incidents?service=api")
    assert row_ids(first)[0] == f"INC{PAGE_SIZE * 2 + 5}" and len(row_ids(first)) == PAGE_SIZE
    assert 'href="/ui/incidents?service=api&amp;page=2" rel="next"' in first.text
    assert 'rel="prev"' not in first.text
    last = await site.get("/ui/incidents?service=api&page=3")
    assert row_ids(last) == [f"INC{number}" for number in range(5, 0, -1)]
    assert 'rel="next"' not in last.text
    assert 'href="/ui/incidents?service=api&amp;page=2" rel="prev"' in last.text
    assert 'data-live="/ui/incidents/rows?service=api&amp;page=3"' in last.text


async def test_text_from_alerts_is_escaped(site: Site) -> None:
    incident = await site.open_incident("<script>alert(1)</script>", host='"><img src=x>')
    for path in ("/ui/incidents", f"/ui/incidents/{incident}"):
        page = await site.get(path)
        assert "<script>alert" not in page.text and "<img src=x>" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


async def test_one_incident_with_alerts_labels_timeline_notes_deliveries(site: Site) -> None:
    incident = await site.open_incident("Disk full", host="db1")
    await site.engine.add_note(incident, "Looking at it from the train", "api:ann")
    await site.engine.acknowledge(incident, "api:ann")
    page = await site.get(f"/ui/incidents/{incident}")
    assert page.status_code == 200
    text = text_of(page)
    assert f"{incident}: Disk full" in text
    assert "State acknowledged" in text
    assert "Acknowledged 2026-11-23 12:00:00 UTC by api:ann" in text
    assert "alertname=Disk full, host=db1, team=api" in text
    assert "runbook: https://wiki.example.com/disk" in text
    assert "api:ann 2026-11-23 12:00:00 UTC Looking at it from the train" in text
    assert "api:ann acknowledge" in text  # the timeline
    assert "No delivery attempts." in text
    for verb in ("acknowledge", "resolve", "escalate", "notes"):
        assert f'action="/ui/incidents/{incident}/{verb}"' in page.text


@pytest.mark.parametrize("incident", ["INC99", "web", "INC%3Cb%3E"])
async def test_an_unknown_incident_is_a_404_page(site: Site, incident: str) -> None:
    page = await site.get(f"/ui/incidents/{incident}")
    assert page.status_code == 404
    assert "Unknown incident" in text_of(page)
    assert "<b>" not in page.text


async def test_the_status_page(site: Site) -> None:
    text = text_of(await site.get("/ui/status"))
    for shown in ("Version 9.9.9", "Config revision abc123def456", "/etc/router.yaml",
                  "Last reload 2026-11-23 12:00:00 UTC (2 succeeded, 1 failed)",
                  "router.yaml:3: routes: expected a list", "Store /var/lib/router/router.db",
                  "http://127.0.0.1:9080", "unix:/run/router.sock"):
        assert shown in text


async def test_static_files_have_hashed_names_and_are_kept_a_year(site: Site) -> None:
    page = await site.get("/ui/incidents")
    urls = re.findall(r'(?:href|src)="(/ui/static/[^"]+)"', page.text)
    assert {url.rsplit(".", 1)[-1] for url in urls} == {"css", "js"}
    for url in urls:
        assert re.fullmatch(r"/ui/static/\w+\.[0-9a-f]{12}\.(css|js)", url)
        answer = await site.http.get(url)  # open: a login page will need its stylesheet
        assert answer.status_code == 200
        assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
    missing = await site.http.get("/ui/static/style.000000000000.css")
    assert missing.status_code == 404


async def test_no_page_asks_for_anything_from_another_host(site: Site) -> None:
    incident = await site.open_incident("Disk full")
    for path in ("/ui/incidents", f"/ui/incidents/{incident}", "/ui/status"):
        page = await site.get(path)
        assert re.findall(r'(?:href|src)="(?!/)[^"]*"', page.text) == []


async def test_a_full_page_of_incidents_weighs_under_100_kb(site: Site) -> None:
    for number in range(PAGE_SIZE + 1):
        await site.open_incident(f"Disk full on a host with a long name number {number:04}",
                                 severity=Severity.ERROR)
    page = await site.get("/ui/incidents")
    assert len(row_ids(page)) == PAGE_SIZE
    static = [await site.http.get(url) for url in
              re.findall(r'(?:href|src)="(/ui/static/[^"]+)"', page.text)]
    weight = len(page.content) + sum(len(answer.content) for answer in static)
    assert weight < 100_000, weight


async def test_the_check_results_attached_to_an_alert_have_their_own_section(site: Site
                                                                            ) -> None:
    [accepted] = await site.engine.ingest([Alert(
        summary="Checkout slow", source="native", labels={"alertname": "Slow", "team": "api"},
        annotations={"health.root_disk": "critical: disk_percent:/ is 97",
                     "health.load": "ok: load1 is 0.4", "runbook": "https://wiki/slow"})])
    text = text_of(await site.get(f"/ui/incidents/{accepted.incident_id}"))
    assert "Check results load ok: load1 is 0.4 root_disk critical: disk_percent:/ is 97" \
        in text
    assert "health.root_disk" not in text  # not again among the annotations
    assert "runbook: https://wiki/slow" in text


async def test_an_incident_without_check_results_has_no_such_section(site: Site) -> None:
    text = text_of(await site.get(f"/ui/incidents/{await site.open_incident('Disk full')}"))
    assert "Check results" not in text
