"""Tests for router/core/calendar.py: valid RFC 5545 out, one event per shift, stable UIDs."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar

from router.config.model import Layer, Override, Person, Rota
from router.core.calendar import PRODID, person_calendar, rota_calendar, shift_uid
from router.core.oncall import shifts_between

START = datetime(2026, 3, 2, tzinfo=UTC)
END = START + timedelta(weeks=3)
STAMP = datetime(2026, 3, 1, 12, tzinfo=UTC)
PEOPLE = {
    "ann": Person(id="ann", name="Ann Lee", timezone=ZoneInfo("Europe/Berlin")),
    "bob": Person(id="bob", name="Bob Roe", timezone=ZoneInfo("America/New_York")),
}


def weekly_rota(overrides: tuple[Override, ...] = ()) -> Rota:
    layer = Layer(name="weekly", members=("ann", "bob"), every=timedelta(weeks=1),
                  handoff=time(9), handoff_day=0, start=date(2026, 3, 2), first="ann")
    return Rota(id="platform", name="Platform", timezone=ZoneInfo("Europe/Berlin"),
                layers=(layer,), overrides=overrides)


def events(ics: bytes) -> list[dict[str, object]]:
    calendar = Calendar.from_ical(ics)
    return [{"uid": event.uid, "summary": str(event["SUMMARY"]), "start": event.start,
             "end": event.end, "stamp": event.DTSTAMP} for event in calendar.events]


def test_rota_calendar_has_one_event_per_shift_and_parses_back() -> None:
    rota = weekly_rota()
    shifts = shifts_between(rota, START, END)
    ics = rota_calendar(rota, shifts, stamp=STAMP, people=PEOPLE)
    calendar = Calendar.from_ical(ics)
    assert str(calendar["PRODID"]) == PRODID and str(calendar["VERSION"]) == "2.0"
    found = events(ics)
    assert [(event["start"], event["end"]) for event in found] == [
        (shift.start, shift.end) for shift in shifts if shift.person]
    assert [event["summary"] for event in found] == [
        "On call: Ann Lee", "On call: Bob Roe", "On call: Ann Lee"]
    assert {event["stamp"] for event in found} == {STAMP}
    assert len({event["uid"] for event in found}) == len(found)


def test_uids_are_stable_across_fetches_and_when_a_shift_end_moves() -> None:
    rota = weekly_rota()
    first = events(rota_calendar(rota, shifts_between(rota, START, END), stamp=STAMP))
    later = events(rota_calendar(rota, shifts_between(rota, START, END),
                                 stamp=STAMP + timedelta(hours=5)))
    assert [event["uid"] for event in first] == [event["uid"] for event in later]
    # Bob takes over a day early: ann's event keeps its UID with an earlier end.
    early = Override(person="bob", start=datetime(2026, 3, 8, 8, tzinfo=UTC),
                     end=datetime(2026, 3, 9, 8, tzinfo=UTC))
    moved = weekly_rota((early,))
    changed = events(rota_calendar(moved, shifts_between(moved, START, END), stamp=STAMP))
    assert changed[0]["uid"] == first[0]["uid"]
    assert changed[0]["end"] == datetime(2026, 3, 8, 8, tzinfo=UTC)


def test_uid_depends_on_rota_person_and_start_only() -> None:
    uid = shift_uid("platform", "ann", START)
    assert uid == shift_uid("platform", "ann", START.astimezone(ZoneInfo("Asia/Kolkata")))
    assert uid.endswith("@router")
    assert len({uid, shift_uid("other", "ann", START), shift_uid("platform", "bob", START),
                shift_uid("platform", "ann", START + timedelta(seconds=1))}) == 4


def test_person_calendar_lists_only_that_persons_shifts_across_rotas() -> None:
    rota = weekly_rota()
    other = Rota(id="database", name="Database", timezone=ZoneInfo("UTC"),
                 layers=(Layer(name="daily", members=("bob", "ann"), every=timedelta(days=1),
                               handoff=time(0), handoff_day=None, start=date(2026, 3, 1),
                               first="bob"),))
    shifts = {rota: shifts_between(rota, START, END), other: shifts_between(other, START, END)}
    found = events(person_calendar(PEOPLE["ann"], shifts, stamp=STAMP))
    expected = sum(1 for rota_shifts in shifts.values() for shift in rota_shifts
                   if shift.person == "ann")
    assert len(found) == expected == 2 + 11
    assert {event["summary"] for event in found} == {"On call: Platform", "On call: Database"}
    assert found[0]["uid"] == events(rota_calendar(rota, shifts[rota], stamp=STAMP))[0]["uid"]
