"""The responder pages' lists that grow with history or the API stop at their bound and say
where the rest is; with a config that declares nothing, each page says so."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import trio

from router.alerts.model import Alert, TimelineEntry
from router.clock import FixedClock
from router.config import load_config
from router.engine import Engine, overrides
from router.engine.ids import parse_incident_id
from router.engine.job_requests import parse_job
from router.server.api import build_routes
from router.store import Transaction
from router.web import jobs as job_pages
from router.web import overrides as override_pages
from router.web import pages as incident_pages
from router.web.pages import page_routes
from tests.server.support import Servers
from tests.web.responder_site import NOW, TOKEN, Site, site, text_of

__all__ = ["site"]


async def test_the_jobs_page_lists_at_most_its_bound(site: Site) -> None:
    for number in range(job_pages.SHOWN):  # with the config's backup: one over
        await site.engine.jobs.create_job(parse_job(
            {"id": f"api-job-{number:03}", "service": "shop"}, site.engine.config))
    page = await site.get("/ui/jobs")
    assert len(re.findall(r'<tr id="job-', page.text)) == job_pages.SHOWN
    assert "1 more are not shown; router job list lists every one." in text_of(page)


async def test_the_overrides_page_lists_at_most_its_bound(site: Site) -> None:
    for number in range(override_pages.SHOWN + 2):
        start = NOW + timedelta(hours=number)
        await overrides.add_override(site.engine, "web", person="cy", start=start,
                                     end=start + timedelta(minutes=30), reason=f"r{number}")
    page = await site.get("/ui/overrides")
    assert len(re.findall(r'<tr id="OVR-', page.text)) == override_pages.SHOWN
    assert "2 earlier ones are not shown" in text_of(page)


async def test_the_incident_page_shows_the_newest_alerts_and_entries(site: Site) -> None:
    [accepted] = await site.engine.ingest([Alert(summary="Disk full", source="native")])
    assert accepted.incident_id is not None
    number = parse_incident_id(accepted.incident_id)
    opening = await site.engine.incident(accepted.incident_id)
    assert opening is not None

    def work(transaction: Transaction) -> None:
        transaction.add_timeline(number, [TimelineEntry(
            at=NOW + timedelta(seconds=second), actor="router", action="notified",
            details={"n": f"#{second}#"}) for second in range(5_000)])
        for alert in range(incident_pages.SHOWN + 3):
            transaction.record_alert(Alert(summary=f"Disk full {alert}", source="native",
                                           labels={"disk": f"@{alert}@"}),
                                     number, "many", NOW, None)

    await site.engine.store.write(work)
    page = await site.get(f"/ui/incidents/{accepted.incident_id}")
    assert page.status_code == 200
    assert len(re.findall(r"n=#\d+#", page.text)) == incident_pages.SHOWN
    assert "n=#4999#" in page.text and "n=#4899#" not in page.text
    hidden = len(opening.timeline) + 5_000 - incident_pages.SHOWN
    assert f"{hidden} earlier entries are not shown" in text_of(page)
    assert len(re.findall(r"disk=@\d+@", page.text)) == incident_pages.SHOWN
    assert f"Alerts ({incident_pages.SHOWN + 4})" in text_of(page)
    assert "4 earlier alerts are not shown" in text_of(page)


@pytest.fixture
async def bare(tmp_path: Path, nursery: trio.Nursery) -> AsyncIterator[httpx.AsyncClient]:
    """A site whose config declares no rotas, jobs, heartbeats or checks."""
    servers = Servers(nursery)
    (tmp_path / "config.yaml").write_text("settings: {timezone: UTC}\n")
    store = await servers.open_store(tmp_path / "router.db")
    engine = Engine(load_config([tmp_path / "config.yaml"]), store,
                    FixedClock(datetime(2026, 3, 25, tzinfo=UTC)))
    client = await servers.serve(build_routes(engine, admin_token=TOKEN,
                                              pages=page_routes(engine)))
    client.headers["authorization"] = f"Bearer {TOKEN}"
    yield client
    await servers.close()


async def test_with_nothing_declared_each_page_says_so(bare: httpx.AsyncClient) -> None:
    expected = {"/ui/oncall": "The config has no rotas.",
                "/ui/overrides": "No run-time overrides in force or to come.",
                "/ui/dead-letters": "No dead letters",
                "/ui/jobs": "No jobs: declare them under jobs: in the config",
                "/ui/health": "No heartbeats: declare them under heartbeats: in the config. "
                              "Checks No checks: declare them under checks: in the config.",
                "/ui/fatigue": "Nobody was on call or paged in these days."}
    for path, text in expected.items():
        page = await bare.get(path)
        assert page.status_code == 200, path
        assert text in text_of(page), path
