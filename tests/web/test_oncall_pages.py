"""The on-call pages over real loopback HTTP (router/web/oncall.py): who is on call now and
the next handoffs, and a rota's week on its own clock across the spring DST change, with
run-time overrides applied and listed."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from router.engine import overrides
from router.errors import BadRequest
from tests.web.responder_site import Site, row_text, site, text_of

__all__ = ["site"]


async def test_the_on_call_page_shows_who_has_each_rota_and_the_next_handoffs(
        site: Site) -> None:
    page = await site.get("/ui/oncall")
    assert page.status_code == 200
    # 2026-03-01 was ann's day; the 25th (24 days on) is ann's again until 09:00 on the 26th
    assert row_text(page, "rota-web") == (
        "Web <b>team</b> Europe/Berlin ann Thu 2026-03-26 09:00 CET "
        "Thu 2026-03-26 09:00 CET: ben Fri 2026-03-27 09:00 CET: ann "
        "Sat 2026-03-28 09:00 CET: ben")
    assert "Web &lt;b&gt;team&lt;/b&gt;" in page.text  # the rota's name, escaped
    assert 'href="/ui/oncall"' in page.text  # in the navigation


async def test_a_run_time_override_shows_on_the_on_call_page_and_the_week(site: Site) -> None:
    await overrides.add_override(
        site.engine, "web", person="cy", replaces="ann",
        start=datetime(2026, 3, 25, 11, 0, tzinfo=UTC),
        end=datetime(2026, 3, 25, 15, 0, tzinfo=UTC), reason="ann at the <dentist>")
    now = await site.get("/ui/oncall")
    assert row_text(now, "rota-web").startswith(
        "Web <b>team</b> Europe/Berlin cy (override) Wed 2026-03-25 16:00 CET")
    week = await site.get("/ui/oncall/web", params={"from": "2026-03-25"})
    assert row_text(week, "day-2026-03-25") == (
        "Wed 2026-03-25 00:00–09:00 ben 09:00–12:00 ann 12:00–16:00 cy (override) "
        "16:00–24:00 ann")
    assert "ann at the &lt;dentist&gt;" in week.text


async def test_the_week_is_seven_days_of_the_rotas_clock_across_a_dst_change(
        site: Site) -> None:
    week = await site.get("/ui/oncall/web", params={"from": "2026-03-27"})
    assert week.status_code == 200
    days = [f"day-2026-03-{day}" for day in range(27, 32)] + ["day-2026-04-01",
                                                              "day-2026-04-02"]
    assert [row_text(week, day).split()[1] for day in days] == [
        "2026-03-27", "2026-03-28", "2026-03-29", "2026-03-30", "2026-03-31", "2026-04-01",
        "2026-04-02"]
    # Sunday the 29th has 23 hours; the handoff stays at 09:00 on the wall clock
    assert row_text(week, "day-2026-03-29") == (
        "Sun 2026-03-29 (23 hours) 00:00–09:00 ben 09:00–24:00 ann")
    assert row_text(week, "day-2026-03-30") == "Mon 2026-03-30 00:00–09:00 ann 09:00–24:00 ben"
    assert "Europe/Berlin" in week.text
    assert "None." in text_of(week)  # no run-time overrides this week


async def test_the_week_defaults_to_today_on_the_rotas_clock(site: Site) -> None:
    week = await site.get("/ui/oncall/web")
    assert "the week from 2026-03-25" in text_of(week)


async def test_a_bad_date_is_a_400_naming_the_field_and_an_unknown_rota_a_404(
        site: Site) -> None:
    bad = await site.get("/ui/oncall/web", params={"from": "next <tuesday>"})
    assert bad.status_code == 400
    assert "from: expected a date such as 2026-12-24, got 'next <tuesday>'" in text_of(bad)
    assert "<tuesday>" not in bad.text
    unknown = await site.get("/ui/oncall/nope<script>")
    assert unknown.status_code == 404
    assert "<script>" not in unknown.text


async def test_the_on_call_pages_need_the_read_scope(site: Site) -> None:
    assert (await site.http.get("/ui/oncall")).status_code == 401
    assert (await site.http.get("/ui/oncall/web")).status_code == 401


async def test_the_autumn_change_gives_its_day_25_hours(site: Site) -> None:
    week = await site.get("/ui/oncall/web", params={"from": "2026-10-22"})
    # 2026-03-01 + 238 days: the 25th of October is ann's from 09:00, ben's before
    assert row_text(week, "day-2026-10-25") == (
        "Sun 2026-10-25 (25 hours) 00:00–09:00 ben 09:00–24:00 ann")
    assert row_text(week, "day-2026-10-26") == "Mon 2026-10-26 00:00–09:00 ann 09:00–24:00 ben"


def test_the_fatigue_page_reads_dates_and_days_with_the_on_call_page_s_code() -> None:
    """One date parser and one local-midnight for both pages (they were copies)."""
    from router.web import fatigue, oncall

    assert fatigue.parse_day is oncall.parse_day and fatigue.midnight is oncall.midnight
    with pytest.raises(BadRequest) as refused:
        oncall.parse_day("to", "2026-13-01", date(2026, 12, 5))
    assert (refused.value.field, refused.value.message) == (
        "to", "expected a date such as 2026-12-24, got '2026-13-01'")
    assert oncall.parse_day("from", "", date(2026, 12, 5)) == date(2026, 12, 5)
    with pytest.raises(BadRequest, match="a year from 1000 to 9000"):
        oncall.parse_day("from", "9999-01-01", date(2026, 12, 5))
    assert oncall.midnight(date(2026, 3, 29), ZoneInfo("Europe/Berlin")) == datetime(
        2026, 3, 28, 23, 0, tzinfo=UTC)
