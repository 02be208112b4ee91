"""Run-time overrides (router/engine/overrides.py): how they apply (pure, through core.oncall), the
checks of add, and add/list/remove against a real SQLite store, with escalation paging the
override's person, also when another process (the CLI) added it."""

from __future__ import annotations

import itertools
import textwrap
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from router.alerts.model import Alert, Severity
from router.clock import FixedClock
from router.config import load_config
from router.config.model import Config, Holidays, Layer, Override, Rota, WeeklyWindow
from router.core.oncall import OVERRIDE, Shift, shift_at, shifts_between
from router.engine import Engine, overrides, roster
from router.errors import BadRequest, NotFound
from router.store import DATABASE_NAME, Store
from router.store import overrides as stored
from router.store.overrides import RotaOverride

HOUR = timedelta(hours=1)
BERLIN = ZoneInfo("Europe/Berlin")
# Monday 2026-11-23, 12:00 in Berlin: bob's week (weekly layer) and carol's business hours.
MONDAY_NOON = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)

CONFIG = """
settings: {timezone: Europe/Berlin}
people:
  - {id: alice, contact_methods: [{type: email, address: alice@example.com, urgency: high}]}
  - {id: bob, contact_methods: [{type: email, address: bob@example.com, urgency: high}]}
  - {id: carol, contact_methods: [{type: email, address: carol@example.com, urgency: high}]}
  - {id: dave, contact_methods: [{type: email, address: dave@example.com, urgency: high}]}
  - {id: erin, contact_methods: [{type: email, address: erin@example.com, urgency: high}]}
channels:
  - {id: mail, type: email, host: localhost, from: router@example.com}
rotas:
  - id: primary
    layers:
      - {name: weekly, members: [alice, bob], every: 1w, handoff: "09:00", handoff_day: mon,
         start: 2026-11-02}
      - name: business hours
        members: [carol]
        every: 1w
        start: 2026-11-02
        restrictions: [{days: [mon, tue, wed, thu, fri], from: "09:00", until: "17:00"}]
    overrides:
      - {person: erin, replaces: carol, from: 2026-11-23T13:00, until: 2026-11-23T15:00,
         reason: dentist}
  - id: secondary
    layers: [{members: [dave], every: 1w, start: 2026-11-02}]
escalation_policies:
  - id: default
    levels: [{targets: [{rota: primary}], delay: 15m}]
services:
  - {id: api, escalation_policy: default}
routes:
  - service: api
"""


# --- how run-time overrides apply: pure, through core.oncall ---------------------------


def a_run_time(person: str, start: datetime, end: datetime, *, replaces: str | None = None,
               created_at: datetime = MONDAY_NOON, removed_at: datetime | None = None
               ) -> RotaOverride:
    return RotaOverride(id="OVR-00000000", rota="rota", person=person, replaces=replaces,
                        start=start, end=end, reason="cover", created_at=created_at,
                        removed_at=removed_at)


def extra(*run_time: RotaOverride) -> tuple[Override, ...]:
    return stored.by_rota(run_time).get("rota", ())


def daily_berlin(overrides_in_config: tuple[Override, ...] = ()) -> Rota:
    layer = Layer(name="daily", members=("ann", "bob"), every=timedelta(days=1),
                  handoff=time(9), start=date(2026, 3, 1), first="ann")
    return Rota(id="rota", name="Rota", timezone=BERLIN, layers=(layer,),
                overrides=overrides_in_config, holidays=Holidays())


def test_a_run_time_override_sits_above_an_overlapping_override_of_the_config() -> None:
    start = datetime(2026, 3, 10, 12, tzinfo=BERLIN)
    config_override = Override(person="cat", start=start, end=start + 4 * HOUR, order=7)
    rota = daily_berlin((config_override,))
    assert shift_at(rota, start + HOUR).shift.person == "cat"
    run_time = extra(a_run_time("dan", start + HOUR, start + 2 * HOUR))
    assert shift_at(rota, start + HOUR, run_time).shift == Shift(
        "dan", (start + HOUR).astimezone(UTC), (start + 2 * HOUR).astimezone(UTC), OVERRIDE)
    assert shift_at(rota, start + 3 * HOUR, run_time).shift.person == "cat"


def test_among_run_time_overrides_the_newest_created_wins() -> None:
    start = datetime(2026, 3, 10, 12, tzinfo=BERLIN)
    rota = daily_berlin()
    older = a_run_time("cat", start, start + HOUR, created_at=MONDAY_NOON)
    newer = a_run_time("dan", start, start + HOUR, created_at=MONDAY_NOON + HOUR)
    # by_rota keeps the order it is given: the store's, oldest created first
    assert shift_at(rota, start, extra(older, newer)).shift.person == "dan"
    assert shift_at(rota, start, extra(newer, older)).shift.person == "cat"


def test_an_override_across_spring_forward_in_berlin_lasts_its_real_hours() -> None:
    # 2026-03-29: Berlin's clocks jump from 02:00 to 03:00. A 21:00-21:00 local override
    # lasts 23 hours, and the daily 09:00 handoffs around it stay 09:00 local.
    rota = daily_berlin()
    start = datetime(2026, 3, 28, 21, tzinfo=BERLIN)
    end = datetime(2026, 3, 29, 21, tzinfo=BERLIN)
    run_time = extra(a_run_time("dan", start, end))
    shifts = shifts_between(rota, datetime(2026, 3, 28, 9, tzinfo=BERLIN),
                            datetime(2026, 3, 30, 9, tzinfo=BERLIN), run_time)
    local = [(shift.person, shift.start.astimezone(BERLIN).strftime("%d %H:%M %Z"),
              shift.end.astimezone(BERLIN).strftime("%d %H:%M %Z")) for shift in shifts]
    assert local == [("bob", "28 09:00 CET", "28 21:00 CET"),
                     ("dan", "28 21:00 CET", "29 21:00 CEST"),
                     ("ann", "29 21:00 CEST", "30 09:00 CEST")]
    assert shifts[1].end - shifts[1].start == 23 * HOUR


def test_a_naive_time_in_the_spring_forward_gap_reads_as_the_config_does(
        tmp_path: Path) -> None:
    config = a_config(tmp_path)
    # 02:30 does not exist on 2026-03-29 in Berlin: read with the offset before the jump,
    # it is 03:30 CEST, as for a handoff or an override in the YAML
    moment = overrides.parse_time(config, "primary", "from", "2026-03-29T02:30")
    assert moment.astimezone(UTC) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert overrides.parse_time(config, "primary", "from", "2026-03-29T02:30Z") == datetime(
        2026, 3, 29, 2, 30, tzinfo=UTC)
    with pytest.raises(BadRequest) as raised:
        overrides.parse_time(config, "primary", "until", "next tuesday")
    assert raised.value.field == "until"
    assert "expected a date and time such as 2026-12-24T09:00" in raised.value.message


def multi_layer() -> Rota:
    weekly = Layer(name="weekly", members=("ann", "bob"), every=timedelta(weeks=1),
                   handoff=time(9), handoff_day=0, start=date(2026, 11, 2), first="ann")
    business = Layer(name="business hours", members=("cat",), every=timedelta(weeks=1),
                     handoff=time(9), start=date(2026, 11, 2), first="cat",
                     restrictions=(WeeklyWindow(days=frozenset(range(5)), start=time(9),
                                                end=time(17)),))
    return Rota(id="rota", name="Rota", timezone=BERLIN, layers=(weekly, business),
                overrides=(), holidays=Holidays())


def test_replacing_one_person_of_a_multi_layer_rota_leaves_the_other_layers_alone() -> None:
    rota = multi_layer()
    monday = datetime(2026, 11, 23, 0, tzinfo=BERLIN)
    run_time = extra(a_run_time("dan", monday, monday + timedelta(days=2), replaces="cat"))
    shifts = shifts_between(rota, monday, monday + timedelta(days=2), run_time)
    local = [(shift.person, shift.layer, shift.start.astimezone(BERLIN).strftime("%a %H:%M"))
             for shift in shifts]
    # bob's week (weekly) all along, cat's business hours covered by dan on both days
    assert local == [("ann", "weekly", "Mon 00:00"), ("dan", OVERRIDE, "Mon 09:00"),
                     ("bob", "weekly", "Mon 17:00"), ("dan", OVERRIDE, "Tue 09:00"),
                     ("bob", "weekly", "Tue 17:00")]
    # dan covers cat only: the layers underneath keep their own answers
    at = shift_at(rota, datetime(2026, 11, 23, 12, tzinfo=BERLIN), run_time)
    assert [layer.person for layer in at.layers] == ["bob", "cat"]


def test_a_removed_override_applied_until_its_removal_only() -> None:
    rota = daily_berlin()
    start = datetime(2026, 3, 10, 12, tzinfo=BERLIN)
    removed = extra(a_run_time("dan", start, start + 4 * HOUR, removed_at=start + HOUR))
    assert shift_at(rota, start + HOUR / 2, removed).shift.person == "dan"
    assert shift_at(rota, start + 2 * HOUR, removed).shift.person == "bob"


# --- the checks of add, from the config alone ------------------------------------------


def a_config(tmp_path: Path) -> Config:
    (tmp_path / "config.yaml").write_text(textwrap.dedent(CONFIG))
    return load_config([tmp_path / "config.yaml"])


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"rota_id": "tertiary"}, "rota", "no rota 'tertiary' (known: primary, secondary)"),
    ({"person": "zed"}, "person", "no person 'zed' (known: alice, bob, carol, dave, erin)"),
    ({"replaces": "zed"}, "replaces", "no person 'zed' (known: alice, bob, carol, dave, erin)"),
    ({"replaces": "dave"}, "replaces", "'dave' cannot stand in for themselves"),
    ({"end": MONDAY_NOON + HOUR}, "until",
     "must be after from (2026-11-23T12:00:00+00:00), got 2026-11-23T12:00:00+00:00"),
    ({"start": MONDAY_NOON - 3 * HOUR, "end": MONDAY_NOON}, "until",
     "2026-11-23T11:00:00+00:00 is already past: an override must end in the future"),
    ({"reason": "  "}, "reason", "say why: an override needs a reason"),
    ({"end": datetime(9999, 1, 1, tzinfo=UTC)}, "until",
     "expected a year from 1000 to 9000, got 9999"),
    ({"start": datetime(2026, 11, 23, 12)}, "from", "expected an instant with a timezone"),
])
def test_each_check_names_its_field(tmp_path: Path, changes: dict[str, object], field: str,
                                    message: str) -> None:
    arguments: dict[str, object] = {
        "rota_id": "primary", "person": "dave", "start": MONDAY_NOON + HOUR,
        "end": MONDAY_NOON + 2 * HOUR, "reason": "covering", "replaces": None,
        "now": MONDAY_NOON}
    arguments.update(changes)
    with pytest.raises(BadRequest) as raised:
        overrides.check_override(a_config(tmp_path), **arguments)  # type: ignore[arg-type]
    assert (raised.value.field, raised.value.message) == (field, message)


# --- add, list, remove against a real store ---------------------------------------------


@pytest.fixture
async def engine(tmp_path: Path) -> Engine:
    store = await Store.open(tmp_path / DATABASE_NAME)
    counter = itertools.count(0xA1)
    return Engine(a_config(tmp_path), store, FixedClock(MONDAY_NOON),
                  new_id=lambda: f"{next(counter):032x}")


async def add(engine: Engine, person: str = "dave", *, start: datetime = MONDAY_NOON,
              end: datetime = MONDAY_NOON + 2 * HOUR, replaces: str | None = None,
              rota: str = "primary") -> RotaOverride:
    return await overrides.add_override(engine, rota, person=person, start=start, end=end,
                                        reason="  carol is out ", replaces=replaces,
                                        created_by="alice")


async def test_an_added_override_is_stored_listed_and_removed_as_history(
        engine: Engine) -> None:
    added = await add(engine, replaces="carol")
    assert added == RotaOverride(
        id="OVR-000000a1", rota="primary", person="dave", replaces="carol",
        start=MONDAY_NOON, end=MONDAY_NOON + 2 * HOUR, reason="carol is out",
        created_by="alice", created_at=MONDAY_NOON)
    later = await add(engine, "erin", start=MONDAY_NOON + 5 * HOUR,
                      end=MONDAY_NOON + 6 * HOUR, rota="secondary")
    assert await overrides.overrides(engine) == [added, later]
    assert await overrides.overrides(engine, "secondary") == [later]
    removed = await overrides.remove_override(engine, added.id)
    assert (removed.id, removed.removed_at) == (added.id, MONDAY_NOON)
    assert overrides.override_state(removed, MONDAY_NOON) == "removed"
    assert await overrides.overrides(engine) == [later]
    assert await overrides.overrides(engine, include_past=True) == [removed, later]
    with pytest.raises(NotFound, match="no override OVR-000000a1 in force or to come"):
        await overrides.remove_override(engine, added.id)
    with pytest.raises(NotFound, match="no rota 'tertiary'"):
        await overrides.overrides(engine, "tertiary")


async def test_replaces_must_name_someone_who_can_be_on_call_in_the_rota(
        engine: Engine) -> None:
    with pytest.raises(BadRequest) as raised:
        await add(engine, "alice", rota="secondary", replaces="bob")
    assert (raised.value.field, raised.value.message) == (
        "replaces", "'bob' is never on call in rota 'secondary': name a member of its layers, "
                    "its holiday cover or the person of one of its overrides")
    assert await overrides.overrides(engine, include_past=True) == []
    # a person on call by a run-time override can be replaced in turn
    await add(engine, "erin", rota="secondary")
    chained = await add(engine, "alice", rota="secondary", replaces="erin")
    assert chained.replaces == "erin"
    # and so can the person of a config override (erin covers carol in the YAML)
    assert (await add(engine, "alice", replaces="erin")).replaces == "erin"


async def test_replacing_someone_not_on_call_in_the_window_warns_and_still_stores_it(
        engine: Engine) -> None:
    # 12:00-14:00 Berlin on Monday: bob (weekly), carol (business hours) until erin's config
    # override takes her 14:00-16:00 (13:00-15:00 UTC); alice is off this week
    added = await overrides.add_override_warned(
        engine, "primary", person="dave", replaces="alice", start=MONDAY_NOON,
        end=MONDAY_NOON + 2 * HOUR, reason="away")
    assert added.warnings == (
        "'alice' is not on call in rota 'primary' from 2026-11-23T11:00:00+00:00 to "
        "2026-11-23T13:00:00+00:00 (carol and erin are): this override changes nothing "
        "unless the rota or its overrides change",)
    assert await overrides.overrides(engine) == [added.override]
    # on call in part of the window, through the config's override: no warning
    covering = await overrides.add_override_warned(
        engine, "primary", person="dave", replaces="erin", start=MONDAY_NOON,
        end=MONDAY_NOON + 3 * HOUR, reason="away")
    assert covering.warnings == ()
    # the run-time override just added (dave for erin) is what the next one must name
    again = await overrides.add_override_warned(
        engine, "primary", person="alice", replaces="erin", start=MONDAY_NOON + 2 * HOUR,
        end=MONDAY_NOON + 3 * HOUR, reason="away")
    assert again.warnings == (
        "'erin' is not on call in rota 'primary' from 2026-11-23T13:00:00+00:00 to "
        "2026-11-23T14:00:00+00:00 (dave is): this override changes nothing unless the rota "
        "or its overrides change",)


def test_the_warning_looks_a_bounded_way_into_a_long_override(tmp_path: Path) -> None:
    rota = a_config(tmp_path).rotas["secondary"]
    start = datetime(2027, 1, 1, tzinfo=UTC)
    assert overrides.not_on_call_warnings(rota, "erin", start,
                                          datetime(8999, 1, 1, tzinfo=UTC), ()) == (
        "'erin' is not on call in rota 'secondary' from 2027-01-01T00:00:00+00:00 to "
        "2028-02-05T00:00:00+00:00 (dave is): this override changes nothing unless the rota "
        "or its overrides change",)
    assert overrides.not_on_call_warnings(rota, "dave", start, start + HOUR, ()) == ()


async def test_every_on_call_answer_applies_them_and_the_socket_lookup_too(
        engine: Engine) -> None:
    config = engine.snapshot.config
    assert roster.on_call(config, "primary", MONDAY_NOON)[0].shift.person == "carol"
    await add(engine, replaces="carol")
    extra_overrides = await overrides.extra_overrides(engine, MONDAY_NOON)
    [answer] = roster.on_call(config, "primary", MONDAY_NOON, extra_overrides)
    assert (answer.shift.person, answer.shift.layer) == ("dave", OVERRIDE)
    # at 13:00 the config's erin-for-carol begins, under which dave-for-carol finds no carol
    assert answer.shift.end == MONDAY_NOON + HOUR
    assert await overrides.on_call(engine, "api") == ("primary", answer.shift)
    later = MONDAY_NOON + timedelta(hours=2, minutes=30)  # 14:30: dave's override is over
    assert (await overrides.on_call(engine, "primary", later))[1].person == "erin"
    with pytest.raises(NotFound):
        await overrides.on_call(engine, "nobody")


# --- escalation: the engine's on-call cache ---------------------------------------------


def an_alert(name: str) -> Alert:
    return Alert(summary="Disk full", source="native", severity=Severity.CRITICAL,
                 labels={"alertname": name})


async def paged(engine: Engine, name: str) -> str | None:
    [accepted] = await engine.ingest([an_alert(name)])
    detail = await engine.incident(accepted.incident_id or "")
    assert detail is not None
    notified = [entry.details["target"] for entry in detail.timeline
                if entry.action == "notified"]
    assert notified == [f"person:{detail.incident.assigned_to}"]
    return detail.incident.assigned_to


async def test_escalation_pages_the_override_person_and_forgets_it_once_removed(
        engine: Engine) -> None:
    assert await paged(engine, "first") == "carol"  # the cache now knows carol's stretch
    added = await add(engine, replaces="carol")
    assert await paged(engine, "second") == "dave"
    await overrides.remove_override(engine, added.id)
    assert await paged(engine, "third") == "carol"


async def test_escalation_sees_an_override_another_process_committed(
        engine: Engine, tmp_path: Path) -> None:
    assert await paged(engine, "first") == "carol"
    # the CLI (`router override add`) writes through its own connection while the daemon runs
    other = await Store.open(tmp_path / DATABASE_NAME)
    try:
        cli = Engine(engine.snapshot.config, other, FixedClock(MONDAY_NOON),
                     new_id=lambda: "f" * 32)
        added = await add(cli, "erin", replaces="carol")
        assert await paged(engine, "second") == "erin"
        await overrides.remove_override(cli, added.id)
    finally:
        await other.close()
    assert await paged(engine, "third") == "carol"


def test_override_json_names_its_state_and_gives_utc_times() -> None:
    override = a_run_time("dan", MONDAY_NOON, MONDAY_NOON + HOUR, replaces="cat")
    assert overrides.override_json(override, MONDAY_NOON - HOUR) == {
        "id": "OVR-00000000", "state": "pending", "rota": "rota", "person": "dan",
        "replaces": "cat", "from": "2026-11-23T11:00:00+00:00",
        "until": "2026-11-23T12:00:00+00:00", "reason": "cover", "created_by": "",
        "created_at": "2026-11-23T11:00:00+00:00", "removed_at": None}
    assert overrides.override_state(override, MONDAY_NOON) == "active"
    assert overrides.override_state(override, MONDAY_NOON + HOUR) == "ended"


def test_override_ids_are_read_in_any_case() -> None:
    assert overrides.parse_override_id(" ovr-1A2B3C4D ") == "OVR-1a2b3c4d"
    assert overrides.parse_override_id("1a2b") == "1a2b"
