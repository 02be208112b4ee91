"""What an analysis reads and returns (room: analysis): plain frozen values, JSON-ready
through `as_json`, so the store and the templates see mappings, never these classes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from router.config.model import frozen_mapping

Priority = Literal["critical", "high", "medium", "low"]
PRIORITIES: tuple[Priority, ...] = ("critical", "high", "medium", "low")


@dataclass(frozen=True, slots=True, kw_only=True)
class Recommendation:
    """One thing to look at or do: `type` is the kind of analysis it came from (memory,
    disk, cpu, process, network, history, general); `actions` are commands or steps."""

    type: str
    priority: Priority
    title: str
    description: str = ""
    actions: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=frozen_mapping)

    def as_json(self) -> dict[str, Any]:
        return {"type": self.type, "priority": self.priority, "title": self.title,
                "description": self.description, "actions": list(self.actions),
                "details": dict(self.details)}


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    """The incident as an analysis sees it. `checks` are the results of the health checks
    attached to it (check id -> its result's mapping: status, message, metrics), and those
    of the local check that raised it; `past` the past incidents of its dedup key and of its
    label set (`{"by_key": {...}, "by_labels": {...}}`)."""

    incident_id: str
    title: str
    severity: str
    service: str | None = None
    dedup_key: str = ""
    source: str = ""
    labels: Mapping[str, str] = field(default_factory=frozen_mapping)
    annotations: Mapping[str, str] = field(default_factory=frozen_mapping)
    checks: Mapping[str, Mapping[str, Any]] = field(default_factory=frozen_mapping)
    past: Mapping[str, Any] = field(default_factory=frozen_mapping)

    def summary(self) -> str:
        """One line for the audit trail's `input_summary`."""
        labels = ", ".join(f"{name}={value}" for name, value in sorted(self.labels.items()))
        return (f"{self.incident_id} [{self.severity}] {self.title}"
                f"{f' ({labels})' if labels else ''}; {len(self.checks)} check result(s)")


@dataclass(frozen=True, slots=True, kw_only=True)
class Result:
    """What a provider found. `findings` hold the raw figures (kinds picked, processes,
    disks, files, past incidents) for the audit trail and the API."""

    summary: str
    recommendations: tuple[Recommendation, ...]
    probable_cause: str = ""
    confidence: float | None = None
    findings: Mapping[str, Any] = field(default_factory=frozen_mapping)
    model: str = ""
    fallback_used: bool = False
    error: str = ""
    """Why a model's answer was not used (with `fallback_used`), else empty."""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None


class Provider(Protocol):
    """Analyses one incident; blocking (run in a worker thread, never on the trio thread).
    May raise any exception: the engine records the run failed with its text."""

    name: str

    def analyse(self, request: Request) -> Result: ...
