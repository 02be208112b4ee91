"""The cluster's decisions (room: core; imports nothing of router): whether a node is up,
and which nodes run another config than this one (issue 18 D5).

Pure: `now` and the nodes' last beats are passed in. A node beats every BEAT_EVERY; one whose
last beat is more than DOWN_AFTER_BEATS beats old is down (it died, was killed, lost the
database, or its clock is that far behind the reader's). Only nodes that are up count in a
config mismatch: a node that died on an old config is down, not disagreeing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Literal

NodeState = Literal["up", "down"]

BEAT_EVERY = timedelta(seconds=5)
"""How often a node writes its beat."""
DOWN_AFTER_BEATS = 3
"""A node is down once this many beats in a row are missing."""


def node_state(last_beat: datetime, now: datetime, every: timedelta = BEAT_EVERY) -> NodeState:
    """`down` once more than DOWN_AFTER_BEATS beats' time has passed since `last_beat`."""
    return "down" if now - last_beat > every * DOWN_AFTER_BEATS else "up"


def disagreeing(own_revision: str, others: Iterable[tuple[str, str, NodeState]]
                ) -> list[tuple[str, str]]:
    """The (id, revision) of each other node, given as (id, revision, state), that is up and
    runs a config revision other than `own_revision`; by id."""
    return sorted((node_id, revision) for node_id, revision, state in others
                  if state == "up" and revision != own_revision)
