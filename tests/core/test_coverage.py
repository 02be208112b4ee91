"""core/coverage.py: every gap of every escalation policy's level, at fixed instants, from a
real config directory."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from router.config import load_config
from router.config.model import Config
from router.core.coverage import Gap, coverage_gaps, intersect

BERLIN = ZoneInfo("Europe/Berlin")

PEOPLE = "people: [{id: ann}, {id: bob}]\n"


def config(tmp_path: Path, rotas: str, policies: str = "") -> Config:
    (tmp_path / "people.yaml").write_text(PEOPLE)
    (tmp_path / "rotas.yaml").write_text(textwrap.dedent(rotas))
    if policies:
        (tmp_path / "escalation.yaml").write_text(textwrap.dedent(policies))
    return load_config([tmp_path], resolve_secrets=False)


WEEKDAYS = """
    rotas:
      - id: office
        timezone: Europe/Berlin
        layers:
          - members: [ann, bob]
            every: 1w
            start: 2026-01-05
            restrictions: [{days: [mon, tue, wed, thu, fri], from: "00:00", until: "24:00"}]
    """
ALWAYS = """
      - id: always
        timezone: Europe/Berlin
        layers:
          - members: [ann, bob]
            every: 1d
            start: 2026-01-01
    """
POLICY = """
    escalation_policies:
      - id: ops
        levels:
          - targets: [{rota: office}]
            delay: 10m
          - targets: [{person: bob}]
            delay: 10m
    """


def spans(gaps: list[Gap]) -> list[tuple[str, str]]:
    return [(gap.start.astimezone(gap.timezone).isoformat(),
             gap.end.astimezone(gap.timezone).isoformat()) for gap in gaps]


def test_a_rota_with_a_gap_every_weekend_reports_each_weekend(tmp_path: Path) -> None:
    found = list(coverage_gaps(config(tmp_path, WEEKDAYS, POLICY),
                               datetime(2026, 3, 2, 9, tzinfo=BERLIN), timedelta(weeks=4)))
    # 2026-03-29 is the spring-forward Sunday: that weekend is an hour shorter
    assert spans(found) == [
        ("2026-03-07T00:00:00+01:00", "2026-03-09T00:00:00+01:00"),
        ("2026-03-14T00:00:00+01:00", "2026-03-16T00:00:00+01:00"),
        ("2026-03-21T00:00:00+01:00", "2026-03-23T00:00:00+01:00"),
        ("2026-03-28T00:00:00+01:00", "2026-03-30T00:00:00+02:00"),
    ]
    assert found[3].end - found[3].start == timedelta(hours=47)
    assert {(gap.policy, gap.level, gap.rotas) for gap in found} == {("ops", 1, ("office",))}
    assert found[0].where.file.endswith("escalation.yaml")
    assert found[0].where.line == 5
    assert all(gap.start.utcoffset() == timedelta(0) for gap in found)


def test_a_gap_across_the_autumn_dst_change_lasts_an_hour_longer(tmp_path: Path) -> None:
    found = list(coverage_gaps(config(tmp_path, WEEKDAYS, POLICY),
                               datetime(2026, 10, 23, 12, tzinfo=BERLIN), timedelta(days=7)))
    assert spans(found) == [("2026-10-24T00:00:00+02:00", "2026-10-26T00:00:00+01:00")]
    assert found[0].end - found[0].start == timedelta(hours=49)


def test_a_rota_with_someone_always_on_call_has_no_gap(tmp_path: Path) -> None:
    rotas = "rotas:" + ALWAYS
    policy = POLICY.replace("rota: office", "rota: always")
    assert list(coverage_gaps(config(tmp_path, rotas, policy),
                              datetime(2026, 3, 2, tzinfo=UTC), timedelta(weeks=52))) == []


def test_a_level_with_two_rotas_has_a_gap_only_when_both_are_empty(tmp_path: Path) -> None:
    nights = """
      - id: nights
        timezone: Europe/Berlin
        layers:
          - members: [bob]
            every: 1w
            start: 2026-01-05
            restrictions: [{days: [sat], from: "12:00", until: "18:00"}]
    """
    policy = POLICY.replace("[{rota: office}]", "[{rota: office}, {rota: nights}]")
    found = list(coverage_gaps(config(tmp_path, WEEKDAYS + nights, policy),
                               datetime(2026, 3, 2, tzinfo=BERLIN), timedelta(days=7)))
    assert spans(found) == [("2026-03-07T00:00:00+01:00", "2026-03-07T12:00:00+01:00"),
                            ("2026-03-07T18:00:00+01:00", "2026-03-09T00:00:00+01:00")]
    assert found[0].rotas == ("office", "nights")


def test_a_level_that_pages_a_person_or_channel_never_has_a_gap(tmp_path: Path) -> None:
    policy = POLICY.replace("[{rota: office}]", "[{rota: office}, {person: ann}]")
    assert list(coverage_gaps(config(tmp_path, WEEKDAYS, policy),
                              datetime(2026, 3, 2, tzinfo=BERLIN), timedelta(weeks=4))) == []


def test_a_rota_no_policy_names_is_checked_on_its_own(tmp_path: Path) -> None:
    found = list(coverage_gaps(config(tmp_path, WEEKDAYS), datetime(2026, 3, 2, tzinfo=BERLIN),
                               timedelta(days=7)))
    assert [(gap.policy, gap.level, gap.rotas) for gap in found] == [(None, None, ("office",))]
    assert found[0].where.file.endswith("rotas.yaml")


def test_gaps_are_clipped_to_the_horizon(tmp_path: Path) -> None:
    found = list(coverage_gaps(config(tmp_path, WEEKDAYS, POLICY),
                               datetime(2026, 3, 8, 12, tzinfo=BERLIN), timedelta(days=7)))
    assert spans(found) == [("2026-03-08T12:00:00+01:00", "2026-03-09T00:00:00+01:00"),
                            ("2026-03-14T00:00:00+01:00", "2026-03-15T12:00:00+01:00")]


def test_intersect_walks_both_lists_once() -> None:
    def at(hour: int) -> datetime:
        return datetime(2026, 1, 1, hour, tzinfo=UTC)
    first = [(at(0), at(4)), (at(6), at(10)), (at(12), at(13))]
    second = [(at(2), at(7)), (at(9), at(12))]
    assert intersect(first, second) == [(at(2), at(4)), (at(6), at(7)), (at(9), at(10))]
    assert intersect(first, []) == []


def test_a_year_of_weekends_is_one_gap_each_for_every_level(tmp_path: Path) -> None:
    """Two levels on the same rota: each reports all 52 weekends."""
    policy = POLICY.replace("[{person: bob}]", "[{rota: office}]")
    found = list(coverage_gaps(config(tmp_path, WEEKDAYS, policy),
                               datetime(2026, 1, 5, 9, tzinfo=BERLIN), timedelta(weeks=52)))
    assert [len([gap for gap in found if gap.level == level]) for level in (1, 2)] == [52, 52]
