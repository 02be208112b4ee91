"""The responder pages at their fullest stay under 100 KB with their stylesheet, link
nothing on another host, and are linked from every page's navigation (issue 22 item 5)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from router.alerts.model import Alert, Notification, Severity, Status
from router.engine import overrides
from router.engine.job_requests import parse_run
from router.store import Transaction
from router.store.values import Attempt
from router.web.deadletters import SHOWN
from router.web.fatigue import MOST_DAYS
from router.web.jobs import RUNS_MOST, add_job_alert
from tests.web.responder_site import NOW, Site, site

__all__ = ["site"]
PAGES = ("/ui/oncall", "/ui/oncall/web", "/ui/overrides?all=1", "/ui/dead-letters",
         "/ui/jobs", f"/ui/jobs/backup?limit={RUNS_MOST}", "/ui/health",
         "/ui/fatigue?from=2026-03-01&to=2026-03-31")
ERROR = ("SMTP 451 4.3.0 <ann@example.com>: temporary lookup failure, try again later "
         "(gave up after 1h0m of retries)")


async def _fill(site: Site) -> None:
    """Each page's list at its bound, with long texts: dead letters, runs, targets,
    overrides."""
    for number in range(SHOWN + 1):
        await site.engine.ingest([Alert(
            summary=f"Disk full on host-{number:04}.example.com", source="native",
            severity=Severity.CRITICAL, status=Status.FIRING,
            labels={"alertname": f"DiskFull{number}"})])
    store = site.engine.store
    dues = await store.read(lambda reader: reader.outbox.due("mail", NOW, SHOWN + 1))

    def fail(transaction: Transaction) -> None:
        for due in dues:
            notification = due.notification
            transaction.outbox.record(Attempt(
                notification_id=notification.id,
                incident_number=notification.incident_number, channel="mail",
                target=notification.target, event=notification.event, attempt=12,
                attempted_at=NOW, outcome="failed", error=ERROR))
    await store.write(fail)
    for number in range(RUNS_MOST + 1):
        await site.engine.jobs.report("backup", parse_run(
            {"run_id": f"2026-03-25T02:00:00-{number:04}", "status": "failed",
             "exit_code": 1, "duration": 3600.5, "output": "x" * 4000}))
    for number in range(20):
        await add_job_alert(site.engine, "web:someone-with-a-long-name", "backup", {
            "alert_type": "webhook", "on_failure": "on", "on_timeout": "on",
            "target": f"https://hooks.example.com/services/T0000/B{number:04}/{'x' * 24}"})
    for number in range(20):
        await overrides.add_override(
            site.engine, "web", person="cy", replaces="ann",
            start=datetime(2026, 3, 26 + number % 5, 9, tzinfo=UTC),
            end=datetime(2026, 3, 26 + number % 5, 17, tzinfo=UTC),
            reason="covering while ann is at a conference in another timezone")


async def test_every_responder_page_at_its_fullest_weighs_under_100_kb(site: Site) -> None:
    await _fill(site)
    for path in PAGES:
        page = await site.get(path)
        assert page.status_code == 200, path
        static = [await site.http.get(url) for url in
                  re.findall(r'(?:href|src)="(/ui/static/[^"]+)"', page.text)]
        weight = len(page.content) + sum(len(answer.content) for answer in static)
        assert weight < 100_000, (path, weight)
    dead = await site.get("/ui/dead-letters")
    assert len(re.findall(r'<tr id="n-', dead.text)) == SHOWN
    assert f"The latest {SHOWN} are shown" in dead.text


async def test_every_responder_page_is_in_the_navigation_and_links_no_other_host(
        site: Site) -> None:
    for path in PAGES:
        page = await site.get(path)
        assert re.findall(r'(?:href|src|action)="(?!/)[^"]*"', page.text) == [], path
        nav = re.search(r"<nav>(.*?)</nav>", page.text, re.S)
        assert nav is not None
        for linked in ("/ui/oncall", "/ui/overrides", "/ui/jobs", "/ui/health",
                       "/ui/dead-letters", "/ui/fatigue"):
            assert f'href="{linked}"' in nav.group(1), (path, linked)


async def test_the_fatigue_page_over_its_longest_range_weighs_under_100_kb(
        site: Site) -> None:
    """Everyone paged every day of the longest range a page reports on: a bar each."""
    [accepted] = await site.engine.ingest([Alert(
        summary="Disk full", source="native", severity=Severity.CRITICAL,
        status=Status.FIRING, labels={"alertname": "DiskFull"})])
    assert accepted.incident_id is not None
    number = int(accepted.incident_id.removeprefix("INC"))
    first = datetime(2026, 1, 1, 12, tzinfo=UTC)
    notifications = [Notification(
        id=f"n-{day}-{person}", incident_number=number, channel="mail",
        target=f"person:{person}", address=f"{person}@example.com", event="trigger",
        created_at=first + timedelta(days=day))
        for day in range(MOST_DAYS) for person in ("ann", "ben", "cy")]
    await site.engine.store.write(
        lambda transaction: transaction.add_notifications(notifications))
    last = (first + timedelta(days=MOST_DAYS - 1)).date()
    page = await site.get("/ui/fatigue", params={"from": "2026-01-01", "to": last.isoformat()})
    assert page.status_code == 200
    assert len(re.findall(r"<rect ", page.text)) >= MOST_DAYS * 3
    static = [await site.http.get(url) for url in
              re.findall(r'(?:href|src)="(/ui/static/[^"]+)"', page.text)]
    weight = len(page.content) + sum(len(answer.content) for answer in static)
    assert weight < 100_000, weight
