"""Run-time records of alerts (room: alerts; imports errors only).

Every inbound format turns its payload into these, so routing, suppression and incidents see
one shape whatever tool sent the alert.
"""

from __future__ import annotations

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
        return list(Severity).index(self)


class Status(StrEnum):
    """What the sender says about the alert: it fires, someone acknowledged it, it is over."""

    FIRING = "firing"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


def _empty() -> Mapping[str, str]:
    return MappingProxyType({})


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
        """The value a route matcher compares: a reserved field or else a label."""
        if name == "severity":
            return self.severity.value
        if name == "source":
            return self.source
        if name == "service":
            return self.service if self.service is not None else self.labels.get("service")
        return self.labels.get(name)
