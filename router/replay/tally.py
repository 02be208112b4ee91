"""What a replay counts (room: replay; imports core, config.model, alerts.model).

- A page to a person: one notify of an escalation level (or a repeat of it) that sends the
  person at least one notification, however many contact methods it uses. A page quiet hours
  held entirely (a low-urgency page at night) is no page.
- A page at night: one sent while the person's own quiet hours hold (their timezone, as
  `core.escalation.in_window` reads them), or, for a person with no quiet hours, between
  22:00 and 07:00 on their wall clock (`NIGHT`), across DST as zoneinfo says.
- Per channel: every notification a page writes to the channel (a person's contact method
  through it, a level's channel target, the route's and service's channels when an incident
  opens).
- Escalations beyond level 1: each time an incident moves to a level after the first (on
  time, or at once past empty levels); repeats of a level are not counted again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime, time

from router.alerts.model import Incident, Notification
from router.config.model import Config, WeeklyWindow
from router.core.escalation import in_window

NIGHT = WeeklyWindow(days=frozenset(range(7)), start=time(22, 0), end=time(7, 0))
"""A night for a person whose config gives no quiet hours."""


class Tally:
    """The counts of one replay, filled as it goes."""

    def __init__(self, config: Config) -> None:
        self._people = config.people
        self.alerts = 0
        self.heartbeat_alerts = 0
        """Alerts a heartbeat's `match` took: they open no incident."""
        self.incidents_opened = 0
        self.opened_by_service: Counter[str] = Counter()
        self.incidents_resolved = 0
        self.still_open = 0
        self.exhausted = 0
        """Incidents whose policy ran out of steps with nobody acknowledging."""
        self.pages: Counter[str] = Counter()
        self.night_pages: Counter[str] = Counter()
        self.channel_notifications: Counter[str] = Counter()
        self.escalations_beyond_first = 0
        self.escalated_incidents: set[int] = set()
        self.paged_incidents: set[int] = set()

    def opened(self, incident: Incident, now: datetime) -> None:
        self.incidents_opened += 1
        self.opened_by_service[incident.service or "(no service)"] += 1

    def resolved(self, incident: Incident, now: datetime) -> None:
        self.incidents_resolved += 1

    def notified(self, incident: Incident, notifications: Iterable[Notification], level: int,
                 now: datetime, *, new_level: bool) -> None:
        """One notify of `level`: `new_level` when the incident moved to it (not a repeat)."""
        people: dict[str, None] = {}
        for item in notifications:
            self.channel_notifications[item.channel] += 1
            kind, _, name = item.target.partition(":")
            if kind == "person":
                people[name] = None
            self.paged_incidents.add(incident.number)
        for person_id in people:
            self.pages[person_id] += 1
            if self.at_night(person_id, now):
                self.night_pages[person_id] += 1
        if new_level and level >= 2:
            self.escalations_beyond_first += 1
            self.escalated_incidents.add(incident.number)

    def at_night(self, person_id: str, now: datetime) -> bool:
        person = self._people.get(person_id)
        if person is None:
            return False
        return in_window(person.quiet_hours or NIGHT, now.astimezone(person.timezone))

    @property
    def held_incidents(self) -> int:
        """Incidents opened that never notified anyone (suppressed, inhibited, muted)."""
        return self.incidents_opened - len(self.paged_incidents)
