"""web/charts.py (issue 22 item 2): the fatigue page's SVG chart of pages per day per
person: counted on the report's wall clock (DST included), escaped, accessible, small, and
well-formed XML."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from router.web.charts import DailyCounts, pages_per_day, render

BERLIN = ZoneInfo("Europe/Berlin")
SVG = "{http://www.w3.org/2000/svg}"


def test_pages_are_counted_per_local_day_across_a_dst_change() -> None:
    pages = {
        "ann": [datetime(2026, 3, 28, 23, 30, tzinfo=UTC),   # 00:30 on the 29th in Berlin
                datetime(2026, 3, 29, 21, 59, tzinfo=UTC),   # 23:59 CEST, still the 29th
                datetime(2026, 3, 29, 22, 0, tzinfo=UTC)],   # 00:00 on the 30th
        "bob": [datetime(2026, 3, 27, 12, 0, tzinfo=UTC),    # before the range
                datetime(2026, 3, 30, 9, 0, tzinfo=UTC)],
        "eve": [],
    }
    counts = pages_per_day(pages, date(2026, 3, 28), date(2026, 3, 30), BERLIN)
    assert counts.days == (date(2026, 3, 28), date(2026, 3, 29), date(2026, 3, 30))
    assert dict(counts.counts) == {"ann": (0, 2, 1), "bob": (0, 0, 1), "eve": (0, 0, 0)}
    assert counts.totals() == (0, 2, 2)


def parse(svg: str) -> ElementTree.Element:
    return ElementTree.fromstring(svg)


def test_the_bar_chart_is_accessible_and_says_each_bar() -> None:
    counts = DailyCounts(days=(date(2026, 12, 1), date(2026, 12, 2)),
                         counts={"ann": (3, 0), "bob": (1, 1)})
    root = parse(render(counts, "Pages per day, 1-2 Dec"))
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "chart-title chart-desc"
    assert root.findtext(f"{SVG}title") == "Pages per day, 1-2 Dec"
    assert root.findtext(f"{SVG}desc") == (
        "Pages per day from 2026-12-01 to 2026-12-02. Total per person: ann 3; bob 2.")
    bars = [(rect.findtext(f"{SVG}title"), rect.get("fill"))
            for rect in root.iter(f"{SVG}rect") if rect.find(f"{SVG}title") is not None]
    assert bars == [("ann: 3 pages on 2026-12-01", "#0072B2"),
                    ("bob: 1 page on 2026-12-01", "#E69F00"),
                    ("bob: 1 page on 2026-12-02", "#E69F00")]
    legend = [text.text for group in root.iter(f"{SVG}g") if group.get("class") == "legend"
              for text in group.iter(f"{SVG}text")]
    assert legend == ["ann", "bob"]


def test_the_stack_is_as_tall_as_the_day_s_total() -> None:
    counts = DailyCounts(days=(date(2026, 12, 1),), counts={"ann": (3,), "bob": (2,)})
    root = parse(render(counts, "t"))
    heights = [float(rect.get("height", "0")) for rect in root.iter(f"{SVG}rect")
               if rect.find(f"{SVG}title") is not None]
    assert heights[0] / heights[1] == pytest.approx(1.5, rel=0.01)
    ticks = [text.text for group in root.iter(f"{SVG}g") if group.get("class") == "axes"
             for text in group.iter(f"{SVG}text")]
    assert ticks[:3] == ["0", "2", "5"]  # a 1-2-5 axis top at or above the total of 5


def test_labels_are_escaped() -> None:
    hostile = '<script>alert(1)</script>&"'
    counts = DailyCounts(days=(date(2026, 12, 1),), counts={hostile: (1,)})
    svg = render(counts, f"title {hostile}", kind="line")
    assert "<script>" not in svg
    root = parse(svg)
    assert root.findtext(f"{SVG}title") == f"title {hostile}"
    assert hostile in [text.text for text in root.iter(f"{SVG}text")]


def test_the_line_chart_has_one_line_per_person() -> None:
    counts = DailyCounts(days=(date(2026, 12, 1), date(2026, 12, 2)),
                         counts={"ann": (3, 0), "bob": (1, 1)})
    lines = list(parse(render(counts, "t", kind="line")).iter(f"{SVG}polyline"))
    assert [line.findtext(f"{SVG}title") for line in lines] == ["ann: 3 pages", "bob: 2 pages"]
    assert [len(line.get("points", "").split()) for line in lines] == [2, 2]


def test_nobody_paged_and_no_days_still_draw() -> None:
    empty = parse(render(DailyCounts(days=(date(2026, 12, 1),), counts={}), "t"))
    assert empty.findtext(f"{SVG}desc") == (
        "Pages per day from 2026-12-01 to 2026-12-01. Total per person: nobody was paged.")
    assert parse(render(DailyCounts(days=(), counts={}), "t")).findtext(f"{SVG}desc") == (
        "No days in the range.")


def test_a_month_for_ten_people_stays_small() -> None:
    days = tuple(date(2026, 11, 1 + offset) for offset in range(30))
    counts = DailyCounts(days=days, counts={f"person-{index}": tuple([9] * 30)
                                            for index in range(10)})
    svg = render(counts, "November")
    assert len(svg.encode()) < 60_000
    dates = [text.text for group in parse(svg).iter(f"{SVG}g") if group.get("class") == "axes"
             for text in group.iter(f"{SVG}text") if " " in (text.text or "")]
    assert len(dates) <= 10 and dates[0] == "1 Nov"
