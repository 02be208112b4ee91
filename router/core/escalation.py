"""Who an escalation level reaches and how (room: core; imports config.model, alerts.model,
core.oncall, errors).

Pure: the engine passes `now` and a function that makes notification ids.

- A level's targets: a rota means whoever is on call at `now` (when the level fires, not
  when the incident opened); a person; a channel (its own destination).
- Urgency: a service's `urgency` high or low is fixed; `dynamic` makes critical and error
  high, warning and info low.
- Contact methods by urgency: a high-urgency page uses every method of the person; a
  low-urgency page only the methods marked `urgency: low` (the default, the "quiet" ones).
  During the person's quiet hours (their own timezone) a low-urgency page reaches nobody: it
  is recorded in the timeline as held, and escalation goes on as usual.
- Steps: after a level's delay with no acknowledgement, the next level; after the last
  level the policy starts again at level 1, `repeat` times; then it is exhausted.
- A method's channel is the one it names, else the first channel (by id) of its kind: email
  for email, slack for slack; phone always names its gateway.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from router.alerts.model import Incident, Notification, Severity
from router.config.model import (
    Config,
    ContactMethod,
    EscalationPolicy,
    Person,
    Rota,
    Service,
    WeeklyWindow,
)
from router.core.oncall import shift_at

Urgency = Literal["high", "low"]
OnCallLookup = Callable[[Rota, datetime], "str | None"]
"""Who is on call in a rota at an instant: `person_on_call`, or a cache of its answers."""
_CARRIER = {"email": "email", "slack": "slack"}


@dataclass(frozen=True, slots=True)
class LevelPlan:
    """What notifying one level comes to."""

    notifications: tuple[Notification, ...]
    people: tuple[str, ...]
    held: tuple[str, ...]
    """Problems worth a timeline line: nobody on call, quiet hours, no channel."""
    deadline: datetime | None


def urgency_of(service: Service | None, severity: Severity) -> Urgency:
    if service is not None and service.urgency != "dynamic":
        return service.urgency
    return "high" if severity in (Severity.CRITICAL, Severity.ERROR) else "low"


def in_window(window: WeeklyWindow, local: datetime) -> bool:
    """Whether a local wall-clock time falls in a weekly window (which may pass midnight)."""
    moment = local.time().replace(tzinfo=None)
    if window.start == window.end:
        return local.weekday() in window.days
    if window.start < window.end:
        return local.weekday() in window.days and window.start <= moment < window.end
    if moment >= window.start:
        return local.weekday() in window.days
    return moment < window.end and (local.weekday() - 1) % 7 in window.days


def contact_methods(person: Person, urgency: Urgency, now: datetime
                    ) -> tuple[ContactMethod, ...]:
    """The methods a page of this urgency uses now; () when quiet hours hold it."""
    if urgency == "high":
        return person.contact_methods
    quiet = person.quiet_hours
    if quiet is not None and in_window(quiet, now.astimezone(person.timezone)):
        return ()
    return tuple(method for method in person.contact_methods if method.urgency == "low")


def channel_for(method: ContactMethod, config: Config) -> str | None:
    if method.channel is not None:
        return method.channel
    kind = _CARRIER.get(method.kind)
    return next((channel.id for channel in sorted(config.channels.values(),
                                                   key=lambda item: item.id)
                 if channel.type == kind), None)


def next_step(policy: EscalationPolicy | None, level: int, repeats: int
              ) -> tuple[int, int] | None:
    """Where escalation goes when level `level` times out, as (level, repeats): the next
    level; after the last, level 1 again while the policy's `repeat` allows; else None (the
    policy is exhausted: escalation stops and the incident waits for a person)."""
    if policy is None:
        return None
    if level < len(policy.levels):
        return level + 1, repeats
    if repeats < policy.repeat:
        return 1, repeats + 1
    return None


def person_on_call(rota: Rota, now: datetime) -> str | None:
    return shift_at(rota, now).shift.person


def plan_level(config: Config, incident: Incident, level_number: int, now: datetime,
               new_id: Callable[[], str], event: str = "trigger",
               on_call: OnCallLookup = person_on_call) -> LevelPlan:
    """Notifications for level `level_number` (1-based) of the incident's policy."""
    policy = config.escalation_policies.get(incident.escalation_policy or "")
    if policy is None or not 1 <= level_number <= len(policy.levels):
        return LevelPlan((), (), (), None)
    level = policy.levels[level_number - 1]
    urgency = urgency_of(config.services.get(incident.service or ""), incident.severity)
    notifications: list[Notification] = []
    people: list[str] = []
    held: list[str] = []
    for target in level.targets:
        if target.kind == "channel":
            notifications.append(Notification(
                id=new_id(), incident_number=incident.number, channel=target.id,
                target=f"channel:{target.id}", address="", event=event, created_at=now))
            continue
        person_id = target.id
        if target.kind == "rota":
            person_id = on_call(config.rotas[target.id], now) or ""
            if not person_id:
                held.append(f"nobody is on call in rota {target.id}")
                continue
        people.append(person_id)
        notifications.extend(reach(config, config.people[person_id], urgency, now, new_id, held,
                                   incident_number=incident.number, event=event))
    return LevelPlan(tuple(notifications), tuple(people), tuple(held),
                     now + level.delay)


def reach(config: Config, person: Person, urgency: Urgency, now: datetime,
          new_id: Callable[[], str], held: list[str], *, incident_number: int, event: str,
          note: str = "", what: str = "low-urgency page") -> list[Notification]:
    """One notification per contact method the urgency uses now; what cannot go out is
    said in `held` (quiet hours, no such method, no channel for a method)."""
    methods = contact_methods(person, urgency, now)
    if not methods:
        held.append(f"{person.id}: {what} held" +
                    (" (quiet hours)" if person.quiet_hours else " (no low-urgency method)"))
    notifications = []
    for method in methods:
        channel = channel_for(method, config)
        if channel is None:
            held.append(f"{person.id}: no {method.kind} channel configured")
            continue
        notifications.append(Notification(
            id=new_id(), incident_number=incident_number, channel=channel,
            target=f"person:{person.id}", address=method.address, event=event,
            created_at=now, note=note))
    return notifications


