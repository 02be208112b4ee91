"""Run-time records of alerts (room: alerts; imports errors only).

Every inbound format turns its payload into these, so routing, suppression and incidents see
one shape whatever tool sent the alert.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType


class Severity(StrEnum):
    """Most severe first; `rank` orders them (0 = critical)."""

    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return _RANKS[self]


_RANKS = {severity: position for position, severity in enumerate(Severity)}


class Status(StrEnum):
    """What the sender says about the alert: it fires, someone acknowledged it, it is over."""

    FIRING = "firing"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


def _empty() -> Mapping[str, str]:
    return MappingProxyType({})


OWN_SOURCES = frozenset({"heartbeat", "job", "check"})
"""Sources of the alerts router makes from its config (core/heartbeats.py, engine/jobs.py,
core/checks.py; no inbound format has these names): the `service` such an alert carries is
the one its heartbeat, job or check declares, which routes do not move (core/routing.py)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Link:
    href: str
    text: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """One normalized signal.

    `source` names the inbound format ("native", "alertmanager", "pagerduty", ...);
    `dedup_key` is the sender's own key when it has one (PagerDuty dedup_key, Alertmanager
    fingerprint), else None and the engine derives one; `routing_key` is a PagerDuty
    integration key that picks the service; `service` is a service the sender named.
    """

    summary: str
    source: str
    severity: Severity = Severity.WARNING
    status: Status = Status.FIRING
    labels: Mapping[str, str] = field(default_factory=_empty)
    annotations: Mapping[str, str] = field(default_factory=_empty)
    details: Mapping[str, str] = field(default_factory=_empty)
    service: str | None = None
    dedup_key: str | None = None
    routing_key: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    links: tuple[Link, ...] = ()
    client: str | None = None
    client_url: str | None = None

    def field_value(self, name: str) -> str | None:
        """The value a route matcher compares: a reserved field or else a label;
        `labels.NAME` is the label NAME even when NAME is reserved (`labels.severity`)."""
        if name.startswith("labels."):
            return self.labels.get(name[len("labels."):])
        if name == "severity":
            return self.severity.value
        if name == "source":
            return self.source
        if name == "service":
            return self.service if self.service is not None else self.labels.get("service")
        return self.labels.get(name)


class IncidentState(StrEnum):
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True, kw_only=True)
class Incident:
    """What people act on: the alerts sharing one dedup key while it is open.

    `number` gives the short human id (`INC42`), unique for the life of the state directory.
    `level` is the escalation level last notified (1-based; 0 before any); `repeats` how
    many times its policy has started over from level 1 after the last level.
    """

    number: int
    dedup_key: str
    service: str | None
    summary: str
    severity: Severity
    state: IncidentState
    opened_at: datetime
    updated_at: datetime
    source: str = ""
    escalation_policy: str | None = None
    level: int = 0
    repeats: int = 0
    assigned_to: str | None = None
    alert_count: int = 1
    suppressed_by: str | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    resolved_at: datetime | None = None
    labels: Mapping[str, str] = field(default_factory=_empty)

    @property
    def id(self) -> str:
        return f"INC{self.number}"

    @property
    def is_open(self) -> bool:
        return self.state is not IncidentState.RESOLVED


@dataclass(frozen=True, slots=True, kw_only=True)
class TimelineEntry:
    """One line of an incident's history: who did what, when."""

    at: datetime
    actor: str
    action: str
    details: Mapping[str, str] = field(default_factory=_empty)


JOB_ALERT_TARGET = "job-alert:"
"""The target prefix of a notification to a job's alert target (`job-alert:<id>`, engine/jobs.py):
its address is the target's URL or mail address, which the channel sends to."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Notification:
    """One message to one target over one channel, as written to the outbox.

    `target` is "channel:<id>" for a channel's own destination or "person:<id>" for a
    person reached through `address` (an email address, Slack user, phone number).
    `event` is what it tells: trigger, acknowledge, resolve, escalate.
    """

    id: str
    incident_number: int
    channel: str
    target: str
    address: str
    event: str
    created_at: datetime
    note: str = ""
    """What to say when the notification belongs to no incident (incident_number 0): a
    rota handoff notice. On an incident's first page: its health context as a JSON object
    (check id -> result, engine/health.py), or ""."""


SILENCE_OPERATORS = ("=", "!=", "=~", "!~")
"""The operators a silence matcher may use, as in a route's `match`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SilenceMatcher:
    """`name op value` of a run-time silence; name is severity, source, service or a label.

    `operator` is one of `SILENCE_OPERATORS`; a regex (`=~`, `!~`) must match the whole value.
    The API or CLI that creates a silence checks that its regexes compile.
    """

    name: str
    operator: str
    value: str

    def __post_init__(self) -> None:
        if self.operator not in SILENCE_OPERATORS:
            raise ValueError(f"unknown match operator {self.operator!r}; expected one of "
                             f"{' '.join(SILENCE_OPERATORS)}")

    def __str__(self) -> str:
        return f"{self.name}{self.operator}{self.value!r}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Silence:
    """A suppression created at run time (API, CLI) and stored: alerts matching every matcher
    between `starts_at` (inclusive) and `ends_at` (exclusive) are recorded, not notified.

    Both times are timezone-aware. No matchers would silence every alert, so whatever creates
    a silence insists on at least one; expiring a silence early sets `ends_at` to now.
    """

    id: str
    matchers: tuple[SilenceMatcher, ...]
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_by: str = ""
    covers: tuple[int, ...] = ()
    """An until-resolved silence: the incidents (numbers) it was made for; it ends when the
    last of them resolves (or at `ends_at`, whichever comes first). () for any other."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DirectMessage:
    """A message sent straight to channels (`POST /v1/notify`, `router notify`), about no
    incident: it rides in an outbox row's note (`to_note`), as a handoff notice does, so it
    gets the outbox's retries and delivery log without a column of its own."""

    title: str
    message: str = ""
    severity: Severity = Severity.INFO
    tags: tuple[str, ...] = ()
    context: Mapping[str, str] = field(default_factory=_empty)

    def to_note(self) -> str:
        return json.dumps({"title": self.title, "message": self.message,
                           "severity": self.severity.value, "tags": list(self.tags),
                           "context": dict(self.context)}, ensure_ascii=False)

    @classmethod
    def from_note(cls, note: str) -> DirectMessage:
        """The message a note holds; a note that is not one (written by hand, or by a newer
        router) is its own title, so whatever is in the outbox can still be sent."""
        try:
            data = json.loads(note)
            return cls(title=str(data["title"]), message=str(data.get("message", "")),
                       severity=Severity(data.get("severity", "info")),
                       tags=tuple(str(tag) for tag in data.get("tags", ())),
                       context=MappingProxyType({str(name): str(value) for name, value
                                                 in dict(data.get("context", {})).items()}))
        except (ValueError, TypeError, KeyError, AttributeError):
            return cls(title=note)
