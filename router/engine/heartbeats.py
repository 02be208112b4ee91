"""Heartbeats (room: engine): pings, the deadlines they move, and the incidents a miss or a
failure opens (issue 19 item 1).

A heartbeat's deadline is one durable timer, `heartbeat:<id>` on incident number 0, in the
store's timers table; the scheduler fires it like an escalation. Each step runs in ONE
store unit of work, so a ping and its deadline firing at the same moment have one outcome:

- A timer that falls due while the heartbeat is new or up takes itself (`take_timer`) and
  ingests the heartbeat's missed alert, which opens an incident on its service like any
  alert (routes, silences, escalation); the heartbeat is then `missed` and has no timer, so
  the miss is reported once, whatever restarts follow. A daemon that was down past the
  deadline finds the timer overdue at start, and the scheduler fires it then.
- A successful ping (a plain ping, exit code 0, or a firing alert its `match` selects)
  resolves a missed or failed heartbeat's incident and sets the next deadline. A ping that
  arrives after the deadline but before the timer fired first reports the miss (the
  incident opens and resolves in the same commit, so its pages are cancelled before they
  go out: recorded, nobody woken for a job that is back).
- A failure (`/fail`, a non-zero exit code) raises the failed alert on the same incident
  and drops the deadline until the next success. A start is recorded and moves nothing.

`schedule` makes the rows and timers match the config, at start and after each reload: a
new heartbeat is watched from now, a changed period or schedule moves its deadline (from
its last success), a removed one loses its row and timer.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from router.alerts.model import Alert, Status
from router.config.model import Config, Heartbeat
from router.core import heartbeats as rules
from router.core.heartbeats import Ping as Ping  # for the server, which may not import core
from router.core.heartbeats import Signal, State
from router.core.heartbeats import kept_message as kept_message
from router.core.heartbeats import signal_of as signal_of
from router.engine.expiry import effective
from router.engine.snapshot import Snapshot
from router.engine.state import EngineState
from router.errors import NotFound
from router.store import Transaction
from router.store.heartbeats import TIMER_PREFIX
from router.store.values import HeartbeatRecord

logger = logging.getLogger(__name__)

IngestOne = Callable[[Transaction, Snapshot, Alert, datetime], object]
Write = Callable[[Callable[[Transaction], Any]], Awaitable[Any]]
"""The engine's ingest of one alert inside a unit of work (routing, incidents, pages)."""
_UNKNOWN = b"\x00" * 32
"""What a presented token is compared with when the heartbeat has none: the same work."""


class Heartbeats:
    """The heartbeats' use cases over the engine's state; `ingest_one` and `write` are the
    engine's ingest's (its units change the inhibition index, which a unit that does not
    commit must drop: engine/inhibitions.py)."""

    def __init__(self, state: EngineState, ingest_one: IngestOne, write: Write) -> None:
        self.state = state
        self.ingest_one = ingest_one
        self.write = write
        self._fed: tuple[Config, tuple[Heartbeat, ...]] | None = None

    def _alert_fed(self, config: Config) -> tuple[Heartbeat, ...]:
        """The heartbeats with a `match`, found once per config."""
        known = self._fed
        if known is None or known[0] is not config:
            known = self._fed = (config, tuple(
                heartbeat for heartbeat in config.heartbeats.values() if heartbeat.match))
        return known[1]

    def identify(self, heartbeat_id: str, token: str) -> Heartbeat:
        """The heartbeat whose ping URL this is; NotFound for an unknown id and for a wrong
        token alike (a 404 that does not tell which, so ids do not leak), compared in
        constant time.

        Raises:
            NotFound: no such heartbeat, it has no token, or the token is not its own.
        """
        heartbeat = self.state.snapshot.config.heartbeats.get(heartbeat_id)
        expected = (heartbeat.token.reveal().encode()
                    if heartbeat is not None and heartbeat.token is not None else _UNKNOWN)
        if not hmac.compare_digest(expected, token.encode()) or heartbeat is None \
                or heartbeat.token is None:
            raise NotFound("no such heartbeat, or not its token")
        return heartbeat

    async def ping(self, heartbeat: Heartbeat, ping: Ping) -> HeartbeatRecord:
        """Record a ping of `heartbeat` (identified by `identify`) and act on it."""
        snapshot, now = self.state.snapshot, self.state.clock.now()

        def work(transaction: Transaction) -> HeartbeatRecord:
            self.apply(transaction, snapshot, heartbeat, ping, now)
            found = transaction.heartbeats.get(heartbeat.id)  # with the timer just set
            assert found is not None
            return found

        record: HeartbeatRecord = await self.write(work)
        self.state.outbox_written()
        self.state.timers_written()
        logger.info("heartbeat ping", extra={"heartbeat": heartbeat.id,
                                             "signal": ping.signal.value,
                                             "state": record.state})
        return record

    @staticmethod
    def _deadline_of(heartbeat: Heartbeat, record: HeartbeatRecord) -> datetime | None:
        """The deadline the heartbeat's state and config call for: from its last success
        (or since it was watched) while new or up, none while missed or failed."""
        if record.state not in (State.NEW, State.UP):
            return None
        return rules.deadline(heartbeat, record.last_success_at or record.watched_since)

    def feeds(self, transaction: Transaction, snapshot: Snapshot, alert: Alert,
              now: datetime) -> str | None:
        """If `alert` feeds heartbeats (their `match`), ping them inside the ingest's unit and
        return the first one's dedup key: the alert is theirs and opens no incident. A
        resolved alert feeds nothing but is still theirs (Prometheus resolves Watchdog only
        when the rule goes)."""
        watched = self._alert_fed(snapshot.config)
        if not watched:  # the common case: one identity check per alert
            return None
        fed = rules.fed_by(watched, alert.labels)
        if not fed:
            return None
        if effective(alert, now).status is Status.FIRING:  # an endsAt past is a resolve
            for heartbeat in fed:
                self.apply(transaction, snapshot, heartbeat, Ping(signal=Signal.SUCCESS), now)
        return rules.dedup_key(fed[0])

    def apply(self, transaction: Transaction, snapshot: Snapshot, heartbeat: Heartbeat,
              ping: Ping, now: datetime) -> None:
        """A ping inside a unit of work: report an overdue miss first, then what it says."""
        kind = TIMER_PREFIX + heartbeat.id
        record = transaction.heartbeats.get(heartbeat.id) or HeartbeatRecord(
            id=heartbeat.id, state=State.NEW, watched_since=now)
        if (record.state in (State.NEW, State.UP) and record.deadline is not None
                and record.deadline <= now and transaction.take_timer(0, kind, record.deadline)):
            record = self._miss(transaction, snapshot, heartbeat, record, record.deadline, now)
        record = replace(record, last_ping_at=now, last_signal=ping.signal.value,
                         last_exit_code=ping.exit_code, last_message=ping.message,
                         pings=record.pings + 1)
        if ping.signal is Signal.START:
            transaction.heartbeats.save(replace(record, started_at=now))
        elif ping.signal is Signal.FAILURE:
            self.ingest_one(transaction, snapshot, rules.failed_alert(heartbeat, ping), now)
            transaction.delete_timer(0, kind)
            transaction.heartbeats.save(replace(record, state=State.FAILED))
        else:
            if record.state in (State.MISSED, State.FAILED):
                self.ingest_one(transaction, snapshot, rules.recovered_alert(heartbeat), now)
            transaction.heartbeats.save(replace(record, state=State.UP, last_success_at=now))
            transaction.set_timer(0, kind, rules.deadline(heartbeat, now))

    def _miss(self, transaction: Transaction, snapshot: Snapshot, heartbeat: Heartbeat,
              record: HeartbeatRecord, due_at: datetime, now: datetime) -> HeartbeatRecord:
        """The heartbeat missed its deadline `due_at` (its timer already taken)."""
        self.ingest_one(transaction, snapshot,
                        rules.missed_alert(heartbeat, due_at, record.last_ping_at), now)
        missed = replace(record, state=State.MISSED)
        transaction.heartbeats.save(missed)
        logger.warning("heartbeat missed", extra={"heartbeat": heartbeat.id,
                                                  "deadline": due_at.isoformat()})
        return missed

    async def timer_fired(self, kind: str, due_at: datetime) -> str:
        """A heartbeat's deadline fell due; returns what it came to: "stale" (a ping moved
        it since), "gone" (no longer configured), "ignored" (already missed or failed) or
        "missed"."""
        snapshot, now = self.state.snapshot, self.state.clock.now()
        heartbeat_id = kind.removeprefix(TIMER_PREFIX)

        def work(transaction: Transaction) -> str:
            if not transaction.take_timer(0, kind, due_at):
                return "stale"
            heartbeat = snapshot.config.heartbeats.get(heartbeat_id)
            record = transaction.heartbeats.get(heartbeat_id)
            if heartbeat is None or record is None:
                return "gone"
            if record.state not in (State.NEW, State.UP):
                return "ignored"
            self._miss(transaction, snapshot, heartbeat, record, due_at, now)
            return "missed"

        outcome: str = await self.write(work)
        self.state.outbox_written()
        self.state.timers_written()
        return outcome

    async def schedule(self) -> dict[str, datetime | None]:
        """Make the heartbeats' rows and timers match the config in force; returns each
        heartbeat's deadline (None while missed or failed)."""
        snapshot, now = self.state.snapshot, self.state.clock.now()
        heartbeats = snapshot.config.heartbeats

        def work(transaction: Transaction) -> dict[str, datetime | None]:
            timers = {kind: due for kind, due in transaction.timers_of(0).items()
                      if kind.startswith(TIMER_PREFIX)}
            for kind in timers:
                if kind.removeprefix(TIMER_PREFIX) not in heartbeats:
                    transaction.delete_timer(0, kind)
            records = {record.id: record for record in transaction.heartbeats.listed()}
            for gone in records.keys() - heartbeats.keys():
                transaction.heartbeats.remove(gone)
            return {heartbeat.id: self._watch(transaction, heartbeat, records.get(
                heartbeat.id), timers.get(TIMER_PREFIX + heartbeat.id), now)
                    for heartbeat in heartbeats.values()}

        deadlines: dict[str, datetime | None] = await self.write(work)
        self.state.timers_written()
        return deadlines

    def _watch(self, transaction: Transaction, heartbeat: Heartbeat,
               record: HeartbeatRecord | None, timer: datetime | None,
               now: datetime) -> datetime | None:
        """Give one configured heartbeat its row (watched from now if new) and the timer
        its state and config call for; returns that deadline."""
        if record is None:
            record = HeartbeatRecord(id=heartbeat.id, state=State.NEW, watched_since=now)
            transaction.heartbeats.save(record)
        kind, due = TIMER_PREFIX + heartbeat.id, self._deadline_of(heartbeat, record)
        if due is None and timer is not None:
            transaction.delete_timer(0, kind)
        elif due is not None and timer != due:
            transaction.set_timer(0, kind, due)
        return due

    async def listed(self) -> list[tuple[Heartbeat, HeartbeatRecord]]:
        """Each configured heartbeat with its state, last ping and deadline, by id."""
        heartbeats = self.state.snapshot.config.heartbeats
        records = {record.id: record for record in await self.state.store.read(
            lambda reader: reader.heartbeats.listed())}
        now = self.state.clock.now()
        return [(heartbeats[name], records.get(name) or HeartbeatRecord(
            id=name, state=State.NEW, watched_since=now)) for name in sorted(heartbeats)]


def heartbeat_json(heartbeat: Heartbeat, record: HeartbeatRecord) -> dict[str, Any]:
    """A heartbeat as `GET /v1/heartbeats` and `router heartbeats --json` show it (no
    token: the ping URL's secret is the config's, never shown)."""
    def moment(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    return {
        "id": heartbeat.id, "service": heartbeat.service, "state": record.state,
        "period": _text(heartbeat.period), "schedule": heartbeat.schedule,
        "timezone": str(heartbeat.timezone) if heartbeat.schedule else None,
        "grace": _text(heartbeat.grace), "match": dict(heartbeat.match),
        "last_ping_at": moment(record.last_ping_at), "last_signal": record.last_signal,
        "last_exit_code": record.last_exit_code, "last_message": record.last_message,
        "started_at": moment(record.started_at),
        "last_success_at": moment(record.last_success_at),
        "deadline": moment(record.deadline), "pings": record.pings,
        "watched_since": moment(record.watched_since)}


def _text(span: timedelta | None) -> str | None:
    """A duration as the config writes it: 1h30m, 5m, 45s."""
    if span is None:
        return None
    seconds, parts = int(span.total_seconds()), []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"
