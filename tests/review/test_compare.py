"""review/compare.py: what a change from OLD to NEW does, over real config directories."""

from __future__ import annotations

import textwrap
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from router.config import load_config
from router.config.model import Config
from router.errors import Where
from router.review.compare import review
from router.review.model import Changed, Moved, Review, Section
from router.review.plain import FieldChange, plain

BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2026, 3, 2, 9, tzinfo=BERLIN)

BASE = """
people: [{id: ann}, {id: bob}, {id: cat}]
channels:
  - {id: log, type: log}
  - {id: chat, type: log}
rotas:
  - id: week
    timezone: Europe/Berlin
    layers:
      - members: [ann, bob]
        every: 1w
        start: 2026-01-05
        handoff_day: mon
escalation_policies:
  - id: ops
    levels:
      - targets: [{rota: week}]
        delay: 10m
      - targets: [{person: cat}]
        delay: 30m
services:
  - {id: web, escalation_policy: ops, channels: [log]}
routes:
  - {name: db, match: [team=db], service: web}
  - {name: web, match: [team=web], service: web}
  - {name: rest, service: web}
"""


def load(directory: Path, text: str) -> Config:
    directory.mkdir()
    (directory / "router.yaml").write_text(textwrap.dedent(text))
    return load_config([directory], resolve_secrets=False)


def compare(tmp_path: Path, new_text: str, weeks: int = 4) -> object:
    return review(load(tmp_path / "old", BASE), load(tmp_path / "new", new_text), START,
                  timedelta(weeks=weeks))


def test_the_same_config_is_no_change(tmp_path: Path) -> None:
    assert compare(tmp_path, BASE).empty  # type: ignore[attr-defined]


def test_routes_added_removed_changed_and_reordered(tmp_path: Path) -> None:
    new = BASE.replace(
        "  - {name: db, match: [team=db], service: web}\n"
        "  - {name: web, match: [team=web], service: web}\n",
        "  - {name: web, match: [team=web], service: web, channels: [chat]}\n"
        "  - {name: db, match: [team=db], service: web}\n"
        "  - {name: api, match: [team=api], service: web}\n",
    ).replace("  - {name: rest, service: web}\n", "")
    routes = compare(tmp_path, new).routes  # type: ignore[attr-defined]
    assert routes == Section(
        added=("api",), removed=("rest",),
        changed=(Changed(name="web", changes=(FieldChange("channels", [], ["chat"]),)),),
        reordered=(Moved(name="web", before=1, after=0),))


def test_policy_levels_delays_and_targets(tmp_path: Path) -> None:
    new = BASE.replace("delay: 30m", "delay: 15m").replace(
        "[{person: cat}]", "[{person: cat}, {channel: chat}]").replace(
        "services:", "      - targets: [{person: ann}]\n        delay: 5m\nservices:")
    policies = compare(tmp_path, new).escalation_policies  # type: ignore[attr-defined]
    assert policies.changed == (Changed(name="ops", changes=(
        FieldChange("levels[1].targets", ["person:cat"], ["person:cat", "channel:chat"]),
        FieldChange("levels[1].delay", "30m", "15m"),
        FieldChange("levels[2]", None, {"targets": ["person:ann"], "delay": "5m", "repeat": 0}),
    )),)
    # a level removed shows what it had, not the keys it left unset ("retry_interval": null)
    (tmp_path / "gone").mkdir()
    gone = compare(tmp_path / "gone", BASE.replace(
        "      - targets: [{person: cat}]\n        delay: 30m\n", ""))
    assert gone.escalation_policies.changed == (Changed(  # type: ignore[attr-defined]
        name="ops", changes=(FieldChange("levels[1]", {"targets": ["person:cat"],
                                                       "delay": "30m", "repeat": 0}, None),)),)


def test_channels_people_services_added_and_removed(tmp_path: Path) -> None:
    new = BASE.replace("{id: cat}]", "{id: cat}, {id: dan}]").replace(
        "  - {id: chat, type: log}\n", "  - {id: pager, type: log}\n").replace(
        "services:\n", "services:\n  - {id: db, escalation_policy: ops}\n")
    found = compare(tmp_path, new)
    assert (found.people.added, found.people.removed) == (("dan",), ())  # type: ignore[attr-defined]
    assert (found.channels.added, found.channels.removed) == (  # type: ignore[attr-defined]
        ("pager",), ("chat",))
    assert found.services.added == ("db",)  # type: ignore[attr-defined]


def test_shifts_that_move_say_for_whom_before_and_after(tmp_path: Path) -> None:
    new = BASE.replace("members: [ann, bob]", "members: [ann, cat]")
    rotas = compare(tmp_path, new, weeks=3).rotas  # type: ignore[attr-defined]
    assert [rota.rota for rota in rotas] == ["week"]
    # 2026-03-02 is ann's week (week 8 from 2026-01-05): bob's week after it becomes cat's
    assert [(move.person, move.start.astimezone(BERLIN).isoformat(), move.side)
            for move in rotas[0].moves] == [
        ("bob", "2026-03-09T09:00:00+01:00", "before"),
        ("cat", "2026-03-09T09:00:00+01:00", "after"),
    ]
    assert rotas[0].moves[0].end - rotas[0].moves[0].start == timedelta(weeks=1)


def test_a_shift_moving_across_the_dst_change_keeps_local_handoffs(tmp_path: Path) -> None:
    new = BASE.replace("handoff_day: mon", "handoff_day: mon\n        handoff: \"10:00\"")
    moves = compare(tmp_path, new, weeks=4).rotas[0].moves  # type: ignore[attr-defined]
    local = [(move.person, move.start.astimezone(BERLIN).strftime("%m-%d %H:%M %z"),
              move.end.astimezone(BERLIN).strftime("%m-%d %H:%M %z"), move.side)
             for move in moves if move.start.astimezone(BERLIN).day == 23]
    # the week of 23 March spans the change to summer time on the 29th
    assert local == [("bob", "03-23 09:00 +0100", "03-30 09:00 +0200", "before"),
                     ("bob", "03-23 10:00 +0100", "03-30 10:00 +0200", "after")]
    week = [move for move in moves if move.start.astimezone(BERLIN).day == 23]
    assert {move.end - move.start for move in week} == {timedelta(hours=167)}


def test_cases_that_answer_differently(tmp_path: Path) -> None:
    cases = [("db alert", Where("t.yaml", 3, 5), {"routes": ["db"]}, {"routes": ["web"]}),
             ("same", Where("t.yaml", 9, 5), {"routes": ["db"]}, {"routes": ["db"]})]
    found = review(load(tmp_path / "old", BASE), load(tmp_path / "new", BASE), START,
                   timedelta(weeks=1), cases)
    assert [(case.name, case.where.line, case.changes) for case in found.cases] == [
        ("db alert", 3, (FieldChange("routes", ["db"], ["web"]),))]


WEEKDAYS = """
      - members: [ann, bob]
        every: 1w
        start: 2026-01-05
        handoff_day: mon
        restrictions: [{days: [mon, tue, wed, thu, fri], from: "00:00", until: "24:00"}]
"""


def test_coverage_gaps_new_in_new_only(tmp_path: Path) -> None:
    old_text = BASE.replace("""
      - members: [ann, bob]
        every: 1w
        start: 2026-01-05
        handoff_day: mon
""", WEEKDAYS.replace("fri]", "fri, sat]"))
    new_text = BASE.replace("""
      - members: [ann, bob]
        every: 1w
        start: 2026-01-05
        handoff_day: mon
""", WEEKDAYS)
    old, new = load(tmp_path / "old", old_text), load(tmp_path / "new", new_text)
    found = review(old, new, START, timedelta(weeks=1))
    # OLD leaves Sunday empty, NEW the whole weekend: only Saturday is new
    assert [(gap.policy, gap.level, gap.start.astimezone(BERLIN).isoformat(),
             gap.end.astimezone(BERLIN).isoformat()) for gap in found.new_gaps] == [
        ("ops", 1, "2026-03-07T00:00:00+01:00", "2026-03-08T00:00:00+01:00")]
    assert review(new, old, START, timedelta(weeks=1)).new_gaps == ()


def test_a_secret_reads_as_its_reference_never_its_value(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_URL", "https://hooks.slack.com/services/T0/B0/very-secret")
    channel = "  - {id: slack, type: slack, webhook_url: '${env:SLACK_URL}'}\n"
    inline = "  - {id: inline, type: slack, webhook_url: 'https://hooks.example/very-secret'}\n"
    old = load(tmp_path / "old", BASE.replace("channels:\n", "channels:\n" + channel + inline))
    new = load(tmp_path / "new", BASE.replace("channels:\n", "channels:\n" + channel.replace(
        "SLACK_URL", "OTHER_URL") + inline.replace("very-secret", "other-secret")))
    changes = review(old, new, START, timedelta(weeks=1)).channels.changed
    assert changes == (Changed(name="slack", changes=(FieldChange(
        "settings.webhook_url", "${env:SLACK_URL}", "${env:OTHER_URL}"),)),)
    assert "very-secret" not in repr(plain(old.channels["inline"]))
    assert plain(old.channels["inline"])["settings"]["webhook_url"] == "(secret)"


def test_a_change_that_moves_nothing_in_the_window_is_still_reported(tmp_path: Path) -> None:
    # a maintenance window grown to the whole weekend, a rota's holiday next year and its
    # handoff notices: no shift moves in the window and no test case asks, yet the review
    # said "no change to routing, rotas, ..." and JSON `changed: false`
    suppression = ("suppressions:\n  - {id: upkeep, reason: upkeep, match: [team=db],"
                   " weekly: [{days: [sun], from: '02:00', until: '04:00'}]}\n")
    old = BASE + suppression
    new = (BASE + suppression.replace("[sun], from: '02:00'", "[sat, sun], from: '00:00'"))\
        .replace("        handoff_day: mon\n", "        handoff_day: mon\n"
                 "    holidays: {dates: [2027-05-24]}\n    handoff_notices: true\n")
    found = review(load(tmp_path / "old", old), load(tmp_path / "new", new), START,
                   timedelta(weeks=4))
    assert not found.empty
    assert found.rotas == ()
    assert found.other == Section(changed=(
        Changed(name="rotas.week", changes=(
            FieldChange("holidays.dates", [], ["2027-05-24"]),
            FieldChange("handoff_notices", False, True))),
        Changed(name="suppressions.upkeep", changes=(
            FieldChange("weekly", ["sun 02:00-04:00"], ["sat,sun 00:00-04:00"]),)),
    ))


def test_rotas_time_intervals_and_settings_added_removed_and_changed(tmp_path: Path) -> None:
    intervals = "time_intervals:\n  - {name: nights, time_intervals: [{times: " \
                "[{start_time: '00:00', end_time: '06:00'}]}]}\n"
    new = (BASE + intervals + "settings: {timezone: Europe/London}\n").replace(
        "rotas:\n", "rotas:\n  - {id: spare, layers: [{members: [cat], every: 1w, "
        "start: 2026-01-05}]}\n")
    found = review(load(tmp_path / "old", BASE), load(tmp_path / "new", new), START,
                   timedelta(weeks=1)).other
    assert found.added == ("rotas.spare", "time_intervals.nights")
    assert [(item.name, [change.field for change in item.changes]) for item in found.changed
            ] == [("settings", ["timezone"])]


UNNAMED = BASE.replace("  - {name: db, match: [team=db], service: web}\n"
                       "  - {name: web, match: [team=web], service: web}\n"
                       "  - {name: rest, service: web}\n",
                       "  - {match: [team=db], service: web}\n"
                       "  - {match: [team=web], service: web}\n"
                       "  - {service: web}\n")


def unnamed_review(tmp_path: Path, new_routes: str,
                   cases: list[tuple[str, Where, dict[str, Any], dict[str, Any]]] | None = None
                   ) -> Review:
    new = UNNAMED.split("routes:\n")[0] + "routes:\n" + new_routes
    return review(load(tmp_path / "old", UNNAMED), load(tmp_path / "new", new), START,
                  timedelta(weeks=1), cases or [])


def test_a_route_inserted_above_unnamed_routes_is_one_added_route(tmp_path: Path) -> None:
    # unnamed routes are `route N` by place: one inserted at the top renamed every route
    # below it, which read as every route changed, the catch-all added, and each test case
    # routing differently ("route 1" -> "route 2")
    found = unnamed_review(tmp_path, "  - {match: [team=api], service: web}\n"
                                     "  - {match: [team=db], service: web}\n"
                                     "  - {match: [team=web], service: web}\n"
                                     "  - {service: web}\n",
                           [("db alert", Where("t.yaml", 3, 5), {"routes": ["route 1"]},
                             {"routes": ["route 2"]})])
    assert found.routes == Section(added=("route 1",))
    assert found.cases == ()


def test_an_unnamed_route_changed_in_place_or_moved(tmp_path: Path) -> None:
    changed = unnamed_review(tmp_path, "  - {match: [team=db], service: web}\n"
                                       "  - {match: [team=www], service: web}\n"
                                       "  - {service: web}\n").routes
    assert changed == Section(changed=(Changed(name="route 2", changes=(
        FieldChange("matchers", ["team=web"], ["team=www"]),)),))
    (tmp_path / "moved").mkdir()
    moved = unnamed_review(tmp_path / "moved", "  - {match: [team=web], service: web}\n"
                                               "  - {match: [team=db], service: web}\n"
                                               "  - {service: web}\n").routes
    assert (moved.added, moved.removed, moved.changed) == ((), (), ())
    assert len(moved.reordered) == 1
