"""The fatigue page over real loopback HTTP (router/web/fatigue.py): the report for a range
of days on the settings' clock with the pages chart, its empty state, the default range,
and bad dates answered 400 naming the field."""

from __future__ import annotations

import re

from router.alerts.model import Alert, Severity, Status
from tests.web.responder_site import Site, row_text, site, text_of

__all__ = ["site"]


async def test_the_report_and_its_chart(site: Site) -> None:
    await site.engine.ingest([Alert(
        summary="Disk full", source="native", severity=Severity.CRITICAL,
        status=Status.FIRING, labels={"alertname": "DiskFull"})])
    page = await site.get("/ui/fatigue", params={"from": "2026-03-23", "to": "2026-03-29"})
    assert page.status_code == 200
    # ann and ben take turns by the day from 09:00; Sunday the 29th has 23 hours: 87 + 80 =
    # 167 hours in the week, nights 22:00-07:00
    assert row_text(page, "person-ann") == "ann 87.0 29.0 24.0 1 0"
    assert row_text(page, "person-ben") == "ben 80.0 33.0 23.0 0 0"
    [svg] = re.findall(r"<svg .*?</svg>", page.text, re.S)
    assert 'role="img"' in svg
    assert re.findall(r"<title>([^<]*)</title></rect>", svg) == ["ann: 1 page on 2026-03-25"]
    assert "2026-03-23 to 2026-03-29, both included, on the clock of Europe/Berlin" \
        in text_of(page)
    assert len(page.content) < 100_000


async def test_without_dates_the_seven_days_to_today_and_no_chart_without_pages(
        site: Site) -> None:
    page = await site.get("/ui/fatigue")
    assert page.status_code == 200
    assert 'name="from" type="date" value="2026-03-19"' in page.text
    assert 'name="to" type="date" value="2026-03-25"' in page.text
    assert "Nobody was paged in these days." in text_of(page)
    assert "<svg" not in page.text
    assert (await site.http.get("/ui/fatigue")).status_code == 401


async def test_bad_dates_are_a_400_naming_the_field(site: Site) -> None:
    cases = [({"from": "yesterday<b>"}, "from: expected a date such as 2026-12-24"),
             ({"to": "2026-02-30"}, "to: expected a date such as 2026-12-24"),
             ({"from": "2026-03-25", "to": "2026-03-24"}, "to: must be on or after from"),
             ({"from": "2025-01-01", "to": "2026-03-24"}, "to: expected at most 92 days")]
    for params, message in cases:
        answer = await site.get("/ui/fatigue", params=params)
        assert answer.status_code == 400, params
        assert message in text_of(answer)
        assert "<b>" not in answer.text
