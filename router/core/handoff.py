"""Rota handoff notices (room: core; imports config.model, alerts.model, core.oncall,
core.escalation, errors).

Pure: the engine's scheduler keeps one timer per rota with `handoff_notices: true`, due at
the end of the current on-call stretch (`shift_at(...).shift.end`: the next instant at which
anything about the rota may change). When it fires, `notices` compares who was on call just
before with who is on call now; if the person changed, the outgoing and the incoming person
are each told once, through their low-urgency contact methods (so quiet hours hold a notice
at night, as they hold any low-urgency page). A stretch that ends with the same person on
call (a restriction edge, an override of one's own shift) tells nobody. Either way the next
timer goes to the end of the new stretch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from router.alerts.model import Notification
from router.config.model import Config, Person, Rota
from router.core.escalation import OnCallLookup, reach
from router.core.oncall import shift_at

TIMER_PREFIX = "handoff:"
"""Timer kinds `handoff:<rota id>`, on incident number 0 (they belong to no incident)."""
_JUST_BEFORE = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Handoff:
    """What a handoff timer comes to: the notices to send and when to look again."""

    outgoing: str | None
    incoming: str | None
    notifications: tuple[Notification, ...]
    held: tuple[str, ...]
    next_at: datetime


def next_change(rota: Rota, now: datetime) -> datetime:
    """When the rota's current on-call stretch ends (config overrides only)."""
    return shift_at(rota, now).shift.end


def notices(config: Config, rota: Rota, at: datetime, now: datetime,
            new_id: Callable[[], str], on_call: OnCallLookup,
            change: Callable[[Rota, datetime], datetime] = next_change) -> Handoff:
    """The notices of a handoff due at `at` (sent `now`, which is later after an outage).
    `on_call` and `change` answer with the run-time overrides applied, where there are any."""
    outgoing = on_call(rota, at - _JUST_BEFORE)
    incoming = on_call(rota, at)
    notifications: list[Notification] = []
    held: list[str] = []
    if outgoing != incoming:
        local = at.astimezone(rota.timezone).strftime("%a %d %b %H:%M")
        zone = str(rota.timezone)
        if incoming is not None:
            words = f"You are on call for {rota.name} from {local} ({zone})"
            words += f", taking over from {_name(config, outgoing)}." if outgoing else "."
            notifications += _tell(config, config.people[incoming], words, now, new_id, held)
        if outgoing is not None:
            words = f"Your on-call shift for {rota.name} ended at {local} ({zone}); " + (
                f"{_name(config, incoming)} is on call now." if incoming
                else "nobody is on call now.")
            notifications += _tell(config, config.people[outgoing], words, now, new_id, held)
    later = max(change(rota, max(at, now)), max(at, now) + _JUST_BEFORE)
    return Handoff(outgoing, incoming, tuple(notifications), tuple(held), later)


def _name(config: Config, person_id: str | None) -> str:
    person = config.people.get(person_id or "")
    return person.name if person else str(person_id)


def _tell(config: Config, person: Person, words: str, now: datetime,
          new_id: Callable[[], str], held: list[str]) -> list[Notification]:
    return reach(config, person, "low", now, new_id, held, incident_number=0,
                 event="handoff", note=words, what="handoff notice")
