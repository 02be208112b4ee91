"""Run `router test` cases against a config (room: cli; imports config, alerts, core,
the engine's snapshot and expiry modules, errors).

No daemon and no store: each case asks router/core the questions the engine asks on ingest
(engine/core.py `_ingest_one` and `_page`, engine/escalation.py `advance`), with the same
functions, so what a test says is what the daemon does:

- routing: `core.routing.route` over the engine's `Snapshot` of the config (its route
  table and services' routing keys), after `engine.expiry.effective`; the service's
  channels and escalation policy fill in what the routes leave out, as on ingest;
- suppression: `core.suppression.check` with the config's windows, the silences the case
  gives (as the store would hold them), the routes' time intervals and the inhibition that
  the case's `firing` alerts cause (`core.inhibition`);
- escalation: `core.escalation.walk` level by level, each step at the instant its timer
  would fall due (`level_deadline` over the level's repeats, then `next_step`);
- on call: the snapshot's `OnCallCache` over `core.oncall.shift_at`, as escalation asks
  it (without the store's run-time overrides: there is no store).

Only the keys a case expects are computed and compared.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from router.alerts.model import Alert, Incident, IncidentState
from router.cli.casefile import Case
from router.config.model import Config, Level
from router.core.escalation import level_deadline, next_step, walk
from router.core.inhibition import InhibitionIndex, SourceKey
from router.core.routing import Decision, route
from router.core.suppression import Verdict, check
from router.engine import expiry
from router.engine.snapshot import Snapshot

MOST_STEPS = 100
"""A policy that repeats forever is walked this far at most."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Result:
    """One case's outcome: `actual` holds the same keys as the case's `expect`; `error`
    says why the case could not run (an unknown rota, say)."""

    case: Case
    actual: dict[str, Any]
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and self.actual == self.case.expect


class Runner:
    """Runs cases against one config; the route table is compiled once for all of them."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.snapshot = Snapshot.of(config)

    def run(self, case: Case) -> Result:
        if case.rota is not None:
            rota = self.config.rotas.get(case.rota)
            if rota is None:
                return Result(case=case, actual={}, error=f"no rota {case.rota!r} in the "
                              f"config (known: {', '.join(sorted(self.config.rotas))})")
            return Result(case=case, actual={"on_call": self.snapshot.on_call(rota, case.at)})
        assert case.alert is not None  # the schema asks for an alert, a payload or a rota
        return Result(case=case, actual=self._alert_outcome(case, case.alert))

    def _alert_outcome(self, case: Case, alert: Alert) -> dict[str, Any]:
        config, expect, snapshot = self.config, case.expect, self.snapshot
        # as the engine takes an alert in (Engine._ingest_one)
        alert = expiry.effective(alert, case.at)
        if alert.service is None and alert.routing_key in snapshot.routing_keys:
            alert = replace(alert, service=snapshot.routing_keys[alert.routing_key])
        decision = route(alert, snapshot.routes)
        service = config.services.get(decision.service or "")
        verdict = self._verdict(case, alert, decision)
        found: dict[str, Any] = {
            "service": decision.service,
            "routes": [rule.name for rule in decision.routes],
            "channels": list(dict.fromkeys(
                (*decision.channels, *(service.channels if service else ())))),
            "suppressed": _suppressed(verdict, expect.get("suppressed")),
            "suppressed_by": verdict.label,
            "escalation_policy": decision.escalation_policy
            or (service.escalation_policy if service else None),
        }
        if "levels" in expect:
            found["levels"] = [] if verdict.suppressed else _in_expected_order(self._levels(
                alert, decision, found["escalation_policy"], case.at, len(expect["levels"])),
                expect["levels"])
        return {key: found[key] for key in expect}

    def _verdict(self, case: Case, alert: Alert, decision: Decision) -> Verdict:
        config = self.config
        index = InhibitionIndex.of(config.inhibit_rules, (
            (SourceKey(number, f"firing:{number}"), firing)
            for number, firing in enumerate(case.firing, start=1)))
        return check(alert, config.suppressions, case.silences, case.at,
                     inhibition=index.check(alert), routes=decision.routes,
                     time_intervals=config.time_intervals)

    def _levels(self, alert: Alert, decision: Decision, policy_id: str | None,
                at: datetime, wanted: int) -> list[dict[str, Any]]:
        """The first `wanted` steps of the walk the daemon would take with nobody
        acknowledging (all of them, when the policy stops sooner)."""
        incident = Incident(
            number=1, dedup_key="router-test", service=decision.service,
            summary=alert.summary, severity=decision.severity,
            state=IncidentState.TRIGGERED, opened_at=at, updated_at=at, source=alert.source,
            escalation_policy=policy_id)
        policy = self.config.escalation_policies.get(policy_id or "")
        if policy is None:
            return []
        steps: list[dict[str, Any]] = []
        new_id = _ids()
        # in UTC: an aware local instant plus a timedelta is wall-clock arithmetic
        now, step = at.astimezone(UTC), (1, 0)
        for _ in range(min(MOST_STEPS, wanted)):
            event = "trigger" if not steps else "escalate"
            found = walk(self.config, incident, step, now, new_id, event=event,
                         on_call=self.snapshot.on_call)
            steps.append({"level": found.level, "after": _minutes(now - at),
                          "paged": [_paged(item.target, item.channel)
                                    for item in found.plan.notifications]})
            now += _level_wait(policy.levels[found.level - 1])
            following = next_step(policy, found.level, found.repeats)
            if following is None:
                break
            step = following
        return steps


def _in_expected_order(steps: list[dict[str, Any]], expected: list[Any]
                       ) -> list[dict[str, Any]]:
    """Each step's `paged` in the order the case lists them: pages of one step go out at
    the same instant, so their order is no promise (someone paged twice, as on-call and by
    name, may be listed apart); who the case does not name comes last, so a diff shows only
    who differs."""
    for step, wanted in zip(steps, expected, strict=False):
        names = wanted.get("paged", []) if isinstance(wanted, dict) else []
        left = list(step["paged"])
        ordered = []
        for name in names:  # one of `left` per name the case lists, duplicates included
            if name in left:
                left.remove(name)
                ordered.append(name)
        step["paged"] = ordered + left
    return steps


def _suppressed(verdict: Verdict, expected: object) -> bool | dict[str, str | None]:
    """`suppressed` as the case asks it: true or false, or `{by, id}` (false when nothing
    holds the page)."""
    if not isinstance(expected, dict) or not verdict.suppressed:
        return verdict.suppressed
    return {"by": verdict.kind, "id": verdict.id}


def _level_wait(level: Level) -> timedelta:
    """From a level's first notification to its escalation: every repeat, then `delay`."""
    return sum((level_deadline(level, retries)[0] for retries in range(level.repeat + 1)),
               timedelta())


def _ids() -> Callable[[], str]:
    counter: Iterator[int] = itertools.count(1)
    return lambda: f"test-{next(counter)}"


def _minutes(span: timedelta) -> str:
    return f"{int(span.total_seconds() // 60)}m"


def _paged(target: str, channel: str) -> str:
    """`ann via email-ops` for a person, `channel ops-chat` for a channel target."""
    kind, _, name = target.partition(":")
    return f"channel {name}" if kind == "channel" else f"{name} via {channel}"
