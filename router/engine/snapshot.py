"""One config with what is derived from it (room: engine).

Swapped in as a whole on reload, so every use case sees one consistent config: the route
table, compiled dedup-key templates (in the sandbox channel templates share), routing keys
and the on-call cache.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import jinja2

from router.alerts.model import (
    Alert,
)
from router.config.model import Config, Override, Rota
from router.core.oncall import shift_at
from router.core.routing import RouteTable
from router.sandbox import compile_template
from router.store import Reader
from router.store import overrides as run_time
from router.store.outbox import Attempt as Attempt  # re-exported for server and cli

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One config with what is derived from it, swapped in as a whole on reload."""

    config: Config
    routes: RouteTable
    dedup_templates: dict[str, jinja2.Template]
    routing_keys: dict[str, str]
    on_call: OnCallCache

    @classmethod
    def of(cls, config: Config) -> Snapshot:
        templates = {service.id: compile_template(service.dedup_key)
                     for service in config.services.values() if service.dedup_key}
        keys = {key.reveal(): service.id for service in config.services.values()
                for key in service.routing_keys}
        return cls(config, RouteTable.compile(config.routes), templates, keys, OnCallCache())


class OnCallCache:
    """Who is on call in a rota, remembered for the stretch `shift_at` answers for.

    `shift_at` returns the stretch around the instant in which no input changes (its start
    and end), so any instant inside it has the same answer: paging asks once per shift
    instead of once per incident. One per Snapshot, so a reload starts afresh.

    Run-time overrides (router/engine/overrides.py) come from the store: `within` reads them again,
    at most once per group commit, when another connection committed since (SQLite's
    data_version: `router override add` in another process) or after `forget` (this process
    added or removed one), and drops the remembered answers only if they changed.
    """

    def __init__(self) -> None:
        self._known: dict[str, tuple[Rota, datetime, datetime, str | None]] = {}
        self._overrides: dict[str, tuple[Override, ...]] = {}
        self._seen: tuple[Reader, int] | None = None  # the transaction, data_version read

    def forget(self) -> None:
        """This process changed the run-time overrides: read them before the next answer."""
        self._seen = None

    def overrides_seen(self) -> object | None:
        """The run-time overrides the cache answers from, for a page planned on the trio
        thread (engine/openings.py), or None when it has not read them yet: its unit
        compares them (`same`) after `within` read them again if they may have changed."""
        return self._overrides if self._seen is not None else None

    def same(self, seen: object) -> bool:
        """Whether the cache still answers from the overrides `overrides_seen` returned."""
        return self._seen is not None and self._overrides is seen

    def within(self, transaction: Reader, now: datetime) -> OnCallCache:
        """The cache as escalation's lookup inside `transaction`, run-time overrides current."""
        if self._seen is None or self._seen[0] is not transaction:
            version = transaction.overrides.data_version()
            if self._seen is None or self._seen[1] != version:
                fresh = run_time.by_rota(transaction.overrides.applying_since(now))
                if fresh != self._overrides:
                    self._overrides, self._known = fresh, {}
            self._seen = (transaction, version)
        return self

    def next_change(self, rota: Rota, now: datetime) -> datetime:
        """When the on-call stretch around `now` ends, run-time overrides included."""
        return shift_at(rota, now, self._overrides.get(rota.id, ())).shift.end

    def __call__(self, rota: Rota, now: datetime) -> str | None:
        known = self._known.get(rota.id)
        if known is not None and known[0] is rota and known[1] <= now < known[2]:
            return known[3]
        shift = shift_at(rota, now, self._overrides.get(rota.id, ())).shift
        self._known[rota.id] = (rota, shift.start, shift.end, shift.person)
        return shift.person


def render_key(snapshot: Snapshot, service_id: str | None, alert: Alert) -> str | None:
    template = snapshot.dedup_templates.get(service_id or "")
    if template is None:
        return None
    try:
        rendered = template.render(labels=dict(alert.labels), annotations=dict(alert.annotations),
                                   severity=alert.severity.value, source=alert.source,
                                   summary=alert.summary, service=service_id)
    except jinja2.TemplateError as error:
        logger.warning("dedup key template failed; using the label hash",
                       extra={"service": service_id, "error": str(error)})
        return None
    return rendered.strip() or None
