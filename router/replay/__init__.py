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

from router.config.model import Config
from router.replay.history import Arrival
from router.replay.report import Window
from router.replay.simulation import Simulation
from router.replay.tally import Tally

AFTER_LAST = timedelta(microseconds=1)
"""With no `end`, the replay stops just after the last arrival: timers due then still fire."""


def window(arrivals: Sequence[Arrival], start: datetime | None, end: datetime | None
           ) -> tuple[list[Arrival], Window]:
    """The arrivals at or after `start` and before `end` (each None: the history's own
    first and last arrival), and the window they are replayed over.

    Raises:
        ValueError: `arrivals` is empty and neither `start` nor `end` is given.
    """
    chosen = [arrival for arrival in arrivals
              if (start is None or arrival.at >= start) and (end is None or arrival.at < end)]
    around = chosen or list(arrivals)  # none between --from and --to: the history's edges
    first = start or (around[0].at if around else None)
    last = end or (around[-1].at + AFTER_LAST if around else None)
    if first is None or last is None:
        raise ValueError("an empty history has no window")
    return chosen, Window(start=first, end=max(first, last), alerts=len(chosen))


def replay(config: Config, arrivals: Sequence[Arrival], end: datetime) -> Tally:
    """What `config` would have done with `arrivals` (in order of their instants), with the
    timers they set firing until `end`."""
    return Simulation(config).run(arrivals, end)
