"""Replaying a recorded alert history against a config (room: replay; imports core,
config.model, alerts, the engine's snapshot, expiry and repeats rules, errors).

`router replay` (router/cli/replay.py) reads the history (`history.read_history`), picks the
window and replays it (`replay`) through `simulation.Simulation`, which asks router/core
what the daemon's engine would; `report` renders what a `tally.Tally` counted. Pure: no
store, no clock, no I/O (docs/replay.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from router.config.model import Config, EscalationPolicy
from router.core.escalation import level_deadline
from router.replay.history import Arrival
from router.replay.report import Window
from router.replay.simulation import Simulation
from router.replay.tally import Tally

AFTER_LAST = timedelta(microseconds=1)
"""With no `end`, the replay stops just after the last arrival plus the escalation that may
follow it: timers due at that instant still fire."""


def escalation_span(*configs: Config) -> timedelta:
    """The longest time an incident can escalate in any of `configs`' policies: every
    level's repeats and delay, the whole policy `repeat` more times. A replay that stops
    this long after its last alert counts that alert's escalations and exhaustion too."""
    return max((_policy_span(policy) for config in configs
                for policy in config.escalation_policies.values()), default=timedelta())


def _policy_span(policy: EscalationPolicy) -> timedelta:
    once = sum((level_deadline(level, retries)[0] for level in policy.levels
                for retries in range(level.repeat + 1)), timedelta())
    return once * (policy.repeat + 1)


def window(arrivals: Sequence[Arrival], start: datetime | None, end: datetime | None,
           tail: timedelta = timedelta()) -> tuple[list[Arrival], Window]:
    """The arrivals at or after `start` and before `end` (each None: the history's own
    first arrival, and its last plus `tail`, the escalation that may follow it), and the
    window they are replayed over.

    Raises:
        ValueError: `arrivals` is empty and neither `start` nor `end` is given.
    """
    chosen = [arrival for arrival in arrivals
              if (start is None or arrival.at >= start) and (end is None or arrival.at < end)]
    around = chosen or list(arrivals)  # none between --from and --to: the history's edges
    first = start or (around[0].at if around else None)
    last = end or (around[-1].at + tail + AFTER_LAST if around else None)
    if first is None or last is None:
        raise ValueError("an empty history has no window")
    return chosen, Window(start=first, end=max(first, last), alerts=len(chosen))


def replay(config: Config, arrivals: Sequence[Arrival], end: datetime) -> Tally:
    """What `config` would have done with `arrivals` (in order of their instants), with the
    timers they set firing until `end`."""
    return Simulation(config).run(arrivals, end)
