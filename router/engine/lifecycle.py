"""Acknowledge, resolve and escalate, and what each came to, for the surfaces that tell a
person (room: engine; imports engine, alerts.model, errors).

The engine's use cases return the incident as it is after the call; an acknowledge of an
incident someone else acknowledged a moment earlier returns it unchanged. The CLI, Slack's
buttons and the email link page must say which happened ("INC3 acknowledged by cli:ann" or
"INC3 was already acknowledged by slack:bob"), so `act` reads the incident before the call and
compares. A race between the read and the write is still reported truthfully: the answer is
decided by who the store says acknowledged it, not by the earlier read.

Outcomes:
- done: this call changed the incident;
- already: the incident was acknowledged already (by someone else, or earlier): what the
  caller wanted holds;
- refused: the incident is resolved, so acknowledging or resolving it again changes nothing
  (escalating a resolved incident is refused by the engine with a Conflict instead, as the
  HTTP API reports it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from router.alerts.model import Incident, IncidentState
from router.engine import Engine, parse_incident_id
from router.errors import NotFound

Verb = Literal["acknowledge", "resolve", "escalate"]
VERBS: tuple[Verb, ...] = ("acknowledge", "resolve", "escalate")
Result = Literal["done", "already", "refused"]


@dataclass(frozen=True, slots=True)
class Acted:
    """What one call came to: the incident after it, and a sentence for a person."""

    verb: Verb
    result: Result
    incident: Incident
    actor: str
    from_level: int | None = None
    escalated_to: str | None = None

    @property
    def sentence(self) -> str:
        incident = self.incident
        if self.verb == "escalate":
            to = f" ({self.escalated_to})" if self.escalated_to else ""
            return (f"{incident.id} escalated by {self.actor} from level {self.from_level} "
                    f"to level {incident.level}{to}")
        if incident.state is IncidentState.RESOLVED:
            if self.result == "done":
                return f"{incident.id} resolved by {self.actor}"
            return f"{incident.id} was already resolved at {_moment(incident.resolved_at)}"
        if self.result == "done":
            return f"{incident.id} acknowledged by {self.actor}"
        return (f"{incident.id} was already acknowledged by {incident.acknowledged_by} at "
                f"{_moment(incident.acknowledged_at)}")


async def act(engine: Engine, verb: Verb, incident_id: str, actor: str) -> Acted:
    """Run one lifecycle use case as `actor` and say what it came to.

    Raises:
        BadRequest: `incident_id` is not an incident id.
        NotFound: no such incident; its message is "no incident INC9".
        Conflict: escalate only: the incident is resolved, or at the last level of its
            policy (the engine's message).
    """
    number = parse_incident_id(incident_id.strip())
    canonical = f"INC{number}"
    before = await engine.incident(canonical)
    if before is None:
        raise NotFound(f"no incident {canonical}")
    try:
        if verb == "escalate":
            escalated, from_level = await engine.escalate(canonical, actor)
            return Acted(verb, "done", escalated, actor, from_level,
                         await escalated_to(engine, escalated))
        if verb == "acknowledge":
            after = await engine.acknowledge(canonical, actor)
        else:
            after = await engine.resolve(canonical, actor)
    except NotFound:  # removed between the read and the write (a store started afresh)
        raise NotFound(f"no incident {canonical}") from None
    return Acted(verb, _result(verb, before.incident, after, actor), after, actor)


async def escalated_to(engine: Engine, incident: Incident) -> str | None:
    """Whom the incident's current level paged first (the person id the engine recorded in
    its timeline), else that level's first target (`channel:ID`, or `rota:ID` with nobody on
    call). Not `assigned_to`: that stays the earlier level's person when a level pages no one.
    """
    detail = await engine.incident(incident.id)
    if detail is None:
        return None
    escalations = [entry for entry in detail.timeline if entry.action == "escalated"
                   and entry.details.get("to") == str(incident.level)]
    people = escalations[-1].details.get("people", "") if escalations else ""
    if people:
        return people.split(", ")[0]
    policy = engine.snapshot.config.escalation_policies.get(incident.escalation_policy or "")
    if policy is None or not 1 <= incident.level <= len(policy.levels):
        return None
    targets = policy.levels[incident.level - 1].targets
    return f"{targets[0].kind}:{targets[0].id}" if targets else None


def _result(verb: Verb, before: Incident, after: Incident, actor: str) -> Result:
    if before.state is IncidentState.RESOLVED or (
            verb == "acknowledge" and after.state is IncidentState.RESOLVED):
        return "refused"
    if verb == "resolve":
        return "done"
    if (before.state is IncidentState.TRIGGERED and after.acknowledged_by == actor
            and after.state is IncidentState.ACKNOWLEDGED):
        return "done"
    return "already"


def _moment(moment: datetime | None) -> str:
    if moment is None:
        return "an unknown time"
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
