"""The use cases (room: engine; imports core, store, config.model, alerts.model, clock, errors).

Each use case reads the config snapshot once at its start and makes its writes in ONE store
unit of work, so a reload never tears an operation in half and nothing is acknowledged to a
sender before it is durable. The decisions are the core's; the engine gathers their inputs
from the store and writes back their effects. `core.py` holds the incident lifecycle and
the `Engine` facade, `ingest.py` ingest, `escalation.py` escalation and timers,
`handoffs.py` rota handoff notices, `silences.py` run-time silences: small classes over one
`EngineState` (state.py), composed by `Engine`, which gives other rooms `config`, `now()`
and the use cases.
"""

from router.engine.core import Accepted, Engine
from router.engine.ids import parse_incident_id, time_ordered_id
from router.engine.snapshot import OnCallCache, Snapshot
from router.store.outbox import Attempt

__all__ = ["Accepted", "Attempt", "Engine", "OnCallCache", "Snapshot", "parse_incident_id",
           "time_ordered_id"]
