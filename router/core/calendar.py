"""On-call shifts as RFC 5545 calendars (room: core; imports config.model and core.oncall).

Pure: the caller passes the shifts (from `oncall.shifts_between`) and the DTSTAMP, so the same
input gives the same bytes. Each shift with someone on call is one VEVENT, in UTC; stretches of
nobody are left out. A UID is derived from the rota id, the person and the shift's start, so a
calendar app that re-fetches the feed updates an event whose end moved (an override was added)
instead of adding a duplicate.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from icalendar import Calendar, Event

from router.config.model import Person, Rota
from router.core.oncall import Shift

PRODID = "-//router//on-call//EN"

# Fixed forever: changing it would change every UID and duplicate every subscriber's events.
_NAMESPACE = uuid.UUID("5b0f7c1e-8d0a-4c55-9a53-6f3c1d2e7b10")


def shift_uid(rota_id: str, person: str, start: datetime) -> str:
    """The stable UID of `person`'s shift in rota `rota_id` that starts at `start`."""
    moment = start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = "\x1f".join((rota_id, person, moment))  # a separator no id contains
    return f"{uuid.uuid5(_NAMESPACE, name)}@router"


def _calendar(name: str) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    return calendar


def _event(rota: Rota, shift: Shift, person: str, summary: str, stamp: datetime) -> Event:
    event = Event()
    event.add("uid", shift_uid(rota.id, person, shift.start))
    event.add("dtstamp", stamp.astimezone(UTC))
    event.add("dtstart", shift.start.astimezone(UTC))
    event.add("dtend", shift.end.astimezone(UTC))
    event.add("summary", summary)
    event.add("description", f"Rota: {rota.name} ({rota.id})\nLayer: {shift.layer}")
    event.add("transp", "TRANSPARENT")  # being on call does not make anyone busy
    return event


def rota_calendar(rota: Rota, shifts: Iterable[Shift], *, stamp: datetime,
                  people: Mapping[str, Person] | None = None) -> bytes:
    """A calendar of `rota`'s shifts; `people` gives names for ids, when known.

    Args:
        stamp: the DTSTAMP of every event: when the calendar was produced.
    """
    calendar = _calendar(f"On call: {rota.name}")
    for shift in shifts:
        if shift.person is None:
            continue
        known = (people or {}).get(shift.person)
        name = known.name if known else shift.person
        calendar.add_component(_event(rota, shift, shift.person, f"On call: {name}", stamp))
    return bytes(calendar.to_ical())


def person_calendar(person: Person, shifts_by_rota: Mapping[Rota, Iterable[Shift]], *,
                    stamp: datetime) -> bytes:
    """A calendar of `person`'s shifts across rotas; other people's shifts are left out."""
    calendar = _calendar(f"On call: {person.name}")
    for rota, shifts in shifts_by_rota.items():
        for shift in shifts:
            if shift.person == person.id:
                summary = f"On call: {rota.name}"
                calendar.add_component(_event(rota, shift, person.id, summary, stamp))
    return bytes(calendar.to_ical())
