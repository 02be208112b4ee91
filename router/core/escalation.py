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
- Steps: a level with `repeat: N` is notified again N times, `retry_interval` apart (its
  `delay` when not given); after its last notification and its `delay` with no
  acknowledgement, the next level; after the last level the policy starts again at level
  1, `repeat` times; then it is exhausted.
- Empty levels (`walk`): a level that reaches nobody (every target a rota with nobody on
  call; a person or a channel is always someone, even when quiet hours hold the page) is
  skipped at once, with a line saying why, unless `skip_empty: false` (on the level, else on
  the policy) keeps today's wait. The walk goes on through the policy's steps and stops at
  the first level that reaches someone; when it runs out of steps, or comes back to a
  level it skipped, nobody was reached: the policy's `fallback` is paged (when it has one)
  and the walk stays at the last level it tried, with that level's deadline.
- A method's channel is the one it names, else the first channel (by id) of its kind: email
  for email, slack for slack; phone always names its gateway.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from router.alerts.model import Incident, Notification, Severity
from router.config.model import (
    Config,
    ContactMethod,
    EscalationPolicy,
    Level,
    Person,
    Rota,
    Service,
    Target,
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
    timer: str = "escalate"
    """The kind of the deadline's timer: "escalate" (to the next step) or "retry:N" (notify
    this level again, its Nth repeat)."""
    reached: bool = True
    """Whether a target resolved to someone: a person (even one quiet hours hold) or a
    channel; False when every target was a rota with nobody on call."""


@dataclass(frozen=True, slots=True)
class Walk:
    """Where escalation lands: `plan` notifies `level` (the fallback's plan when
    `fallback`), after the empty levels in `skipped`: (level, why), e.g. (2, "nobody is on
    call in rota db")."""

    level: int
    repeats: int
    plan: LevelPlan
    skipped: tuple[tuple[int, str], ...] = ()
    fallback: Target | None = None
    nobody: bool = False
    """Every level tried reached nobody, and the fallback (if any) nobody either."""


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
    if kind is None:
        return None
    return _carriers(config).get(kind)


# The first channel (by id) of each type, per config: `channel_for` runs for every contact
# method of every page. Keyed by the config's identity, checked against the config itself.
_CARRIERS: dict[int, tuple[Config, dict[str, str]]] = {}


def _carriers(config: Config) -> dict[str, str]:
    known = _CARRIERS.get(id(config))
    if known is not None and known[0] is config:
        return known[1]
    first: dict[str, str] = {}
    for channel in sorted(config.channels.values(), key=lambda item: item.id):
        first.setdefault(channel.type, channel.id)
    if len(_CARRIERS) >= 8:  # a reload makes a new config; old ones need not stay
        _CARRIERS.clear()
    _CARRIERS[id(config)] = (config, first)
    return first


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
               on_call: OnCallLookup = person_on_call, *, retries: int = 0) -> LevelPlan:
    """Notifications for level `level_number` (1-based) of the incident's policy; `retries`:
    how many times the level was notified again before this (0: the first time)."""
    policy = config.escalation_policies.get(incident.escalation_policy or "")
    if policy is None or not 1 <= level_number <= len(policy.levels):
        return LevelPlan((), (), (), None)
    level = policy.levels[level_number - 1]
    plan = plan_targets(config, incident, level.targets, now, new_id, event, on_call)
    wait, timer = level_deadline(level, retries)
    # In UTC: an aware local `now` plus a timedelta is wall-clock arithmetic, an hour off
    # across a DST change.
    return LevelPlan(plan.notifications, plan.people, plan.held, now.astimezone(UTC) + wait,
                     timer, plan.reached)


def level_deadline(level: Level, retries: int) -> tuple[timedelta, str]:
    """How long after notifying `level` (its `retries`th repeat) its timer falls due, and
    that timer's kind: another repeat while the level's `repeat` allows, else the next
    step after `delay`."""
    if retries < level.repeat:
        return level.retry_interval or level.delay, f"retry:{retries + 1}"
    return level.delay, "escalate"


def skips(policy: EscalationPolicy, level_number: int) -> bool:
    """Whether an empty level is skipped: the level's `skip_empty`, else the policy's."""
    own = policy.levels[level_number - 1].skip_empty
    return policy.skip_empty if own is None else own


def walk(config: Config, incident: Incident, step: tuple[int, int], now: datetime,
         new_id: Callable[[], str], event: str = "trigger",
         on_call: OnCallLookup = person_on_call) -> Walk:
    """Plan step (level, repeats) of the incident's policy, skipping empty levels; see the
    module docstring for where it stops and when the fallback is paged."""
    policy = config.escalation_policies.get(incident.escalation_policy or "")
    level, repeats = step
    skipped: list[tuple[int, str]] = []
    tried: set[int] = set()
    while True:
        plan = plan_level(config, incident, level, now, new_id, event, on_call)
        if plan.reached or policy is None or not skips(policy, level):
            return Walk(level, repeats, plan, tuple(skipped))
        skipped.append((level, "; ".join(plan.held) or "nobody to notify"))
        tried.add(level)
        following = next_step(policy, level, repeats)
        if following is None or following[0] in tried:
            break
        level, repeats = following
    if policy.fallback is None:
        return Walk(level, repeats, plan, tuple(skipped), nobody=True)
    found = plan_targets(config, incident, (policy.fallback,), now, new_id, event, on_call)
    return Walk(level, repeats, LevelPlan(found.notifications, found.people, found.held,
                                          plan.deadline, plan.timer, found.reached),
                tuple(skipped), policy.fallback, nobody=not found.reached)


def plan_targets(config: Config, incident: Incident, targets: tuple[Target, ...],
                 now: datetime, new_id: Callable[[], str], event: str,
                 on_call: OnCallLookup) -> LevelPlan:
    """Notifications for `targets` (a level's, or a policy's fallback); no deadline."""
    urgency = urgency_of(config.services.get(incident.service or ""), incident.severity)
    notifications: list[Notification] = []
    people: list[str] = []
    held: list[str] = []
    reached = False
    for target in targets:
        if target.kind == "channel":
            reached = True
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
        reached = True
        notifications.extend(reach(config, config.people[person_id], urgency, now, new_id, held,
                                   incident_number=incident.number, event=event))
    return LevelPlan(tuple(notifications), tuple(people), tuple(held), None, reached=reached)


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


