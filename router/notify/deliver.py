"""Outbox workers: claim, render, send, classify, record (room: notify.deliver; imports
notify, store, clock, errors).

Each channel's queue and limits are a `Lane` (notify/lane.py); the results of sends are
committed by the `Recorder` (notify/recorder.py), which also holds them through a full disk.

One dispatcher task, started by the daemon, claims due notifications from the store channel
by channel, a batch at a time (notify/lane.py `BATCH`, kept in the channel's queue), and
starts a task per free slot that sends page after page from that queue, within each
channel's limits:
- it sends only what it claimed: a claim names this deliverer's node and holds for the
  lease (`settings.delivery.lease`), so routers sharing one store never send one
  notification together, unless one died after sending and before recording (then another
  sends it again once the lease ran out: the repeat window). Recording the attempt ends the
  claim; a stop releases what was claimed and not sent, a start every claim still under
  the node's id. Only what a read found due is claimed (an idle look writes nothing); when
  the store cannot write (a full disk) what the read found is sent unclaimed, as before
  claims (store/claims.py);
- `concurrency` sends at once and at most `rate` per second (Slack webhooks take about one a
  second; the claim takes each send's instant from the channel's pace, which every node
  shares), so a slow or dead channel only ever holds its own slots: ingest and every other
  channel go on. A slot is free again once the receiver answered: the results are committed
  by one recorder task, all those that arrived during the last commit in one unit, and
  meanwhile their notifications are not sent again (issue 15: a slot held until its own
  commit let a channel send only `concurrency` pages per group commit, and under ingest load
  the pages fell minutes behind);
- a queue whose oldest notification was read more than `STALE` ago is read afresh (its
  incidents may have been resolved meanwhile), and a notification that waited for its turn
  under the rate limit is looked up again before it is sent;
- a retry waits with exponential backoff and jitter (5 s doubling to 5 min, times 0.5..1), or
  exactly the receiver's Retry-After; the last attempt is made at the notification's deadline
  (`retry_for` after it was written), after which it is failed for good: a dead letter, an
  ERROR log line, visible in the delivery log;
- at least once: a notification is done only once the receiver accepted it and that is
  committed; a send cut short by a restart is sent again (PagerDuty's dedup_key and the
  notification id in every message let receivers recognise a repeat);
- what one incident tells one target over one channel keeps its order (store/outbox.py);
- a trigger or escalation whose incident is resolved by the time it is due is not sent: it is
  logged as skipped, with the reason;
- when the store cannot write (a full disk), a send's result is held in memory and committed
  again with the same backoff as a failed send (sooner once another write succeeds): the
  notification is not sent again meanwhile, where it once was thousands of times a minute. A
  failed read of the outbox makes the whole deliverer back off alike. The store logs these
  failures, once per cause every ten seconds.
Every attempt is written to the delivery log and logged: INFO when delivered (one line for
the pages one commit recorded: notify/recorder.py `log_attempts`), WARNING when it will be
retried, ERROR when it failed for good.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import random
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import trio

from router.alerts.model import Incident, IncidentState, Notification
from router.clock import Clock
from router.config.model import Channel, Config
from router.errors import Outcome, StoreBusy, StoreError, StoreUnavailable
from router.notify import CHANNELS
from router.notify.lane import Lane
from router.notify.recorder import Recorder, Result, backoff, log_attempt
from router.notify.rendering import RenderCache
from router.notify.shipping import Shipped, ship
from router.notify.shipping import send_test as send_test  # the CLI's, from here as before
from router.notify.transport import Transport
from router.store import Reader, Transaction, outbox
from router.store.interface import Store
from router.store.outbox import Attempt, Due

logger = logging.getLogger(__name__)

RESCAN = timedelta(seconds=5)
"""Look at the outbox at least this often even when nothing pokes the deliverer: a CLI
command in another process writes follow-ups that no poke announces."""
LOCAL = "local"
"""The node id of a router that shares its store with no other (`router run --node-id`)."""
RELEASE_WITHIN = 5.0
"""Seconds a stopping deliverer gives the store to release its unsent claims."""
Wanted = tuple[str, int, frozenset[str], float | None]
"""What a pass asks of one lane: (channel id, how many, ids to leave out, rate)."""
STALE = 1.0
"""Seconds a channel's queue is trusted: then it is read again (an incident may have been
resolved meanwhile), in one read for the batch rather than one per notification."""
AcknowledgeUrl = Callable[[Channel, Notification, Incident], str | None]
"""The signed acknowledge link for a notification, or None (the daemon's link pages)."""


class Deliverer:
    def __init__(self, store: Store, clock: Clock, config: Callable[[], Config],
                 transport: Transport, *, jitter: Callable[[], float] = random.random,
                 acknowledge_url: AcknowledgeUrl | None = None,
                 rescan: timedelta = RESCAN, node: str = LOCAL) -> None:
        self._store = store
        self._node = node
        """The id this deliverer's claims carry (one per router sharing the store)."""
        self._sending: set[str] = set()
        """Claimed notifications whose send began and whose result is not with the
        recorder: at a stop they keep their claim (they may have arrived)."""
        self._rescan = rescan
        self._acknowledge_url = acknowledge_url
        self._clock = clock
        self._config = config
        self._transport = transport
        self._jitter = jitter
        self._lanes: dict[str, Lane] = {}
        self._rendered = RenderCache()
        """Channels' own templates, rendered once for what they read (not per page)."""
        self._recorder = Recorder(store, clock, jitter, self.wake,
                                  lambda attempt: self.on_attempt(attempt))
        self._queued_config: Config | None = None
        """The config the lanes' queues were read with (a reload empties them)."""
        self._outages = 0
        """Passes in a row that could not read the outbox."""
        self._checked: tuple[Config | None, datetime | None] = (None, None)
        """The config the last check for removed channels ran with, and when."""
        self._woken = trio.Event()
        self.on_attempt: Callable[[Attempt], None] = lambda attempt: None
        """Called after each attempt is recorded (metrics)."""

    def wake(self) -> None:
        """New notifications were written, or a send finished: look at the outbox now."""
        self._woken.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        """Deliver until cancelled; pending notifications stay in the store for the next run.
        Claims a previous run under this node's id left are released first (a restart does
        not wait for its own leases), and those not sent at the end (another node may send
        them at once)."""
        with contextlib.suppress(StoreUnavailable):  # the store logged it; ours to take anyway
            await self._store.write(functools.partial(_release, node=self._node,
                                                      keep=frozenset()))
        try:
            await self._deliver_forever(task_status)
        finally:
            keep = frozenset(self._sending).union(self._recorder.pending())
            # shielded: the stop must not cut it short; if the store fails, leases run out
            with (trio.CancelScope(shield=True), trio.move_on_after(RELEASE_WITHIN),
                  contextlib.suppress(StoreError)):
                await self._store.write(functools.partial(
                    _release, node=self._node, keep=keep))

    async def _deliver_forever(self, task_status: trio.TaskStatus[None]) -> None:
        async with trio.open_nursery() as sends:
            sends.start_soon(self._recorder.run)
            task_status.started()
            while True:
                self._woken = trio.Event()  # before reading: a poke during the pass counts
                now = self._clock.now()
                try:
                    later = await self._pass(sends, now)
                    self._outages = 0
                except StoreUnavailable:  # the store logged it: back off, deaf to pokes
                    self._outages += 1
                    await trio.sleep(backoff(self._outages, self._jitter()).total_seconds())
                    continue
                wait = self._rescan if later is None else min(self._rescan, later - now)
                with trio.move_on_after(max(wait.total_seconds(), 0.0)):
                    await self._woken.wait()

    async def _pass(self, sends: trio.Nursery, now: datetime) -> datetime | None:
        """One look at the outbox; when to look again at the latest."""
        config = self._config()
        if self._checked[0] is not config or self._checked[1] is None or (
                now - self._checked[1] >= self._rescan):
            # A reload, or a rescan: notifications an engine wrote with the config before a
            # reload may name a channel that is gone. (If the store cannot write, at the next
            # rescan: the other channels go on meanwhile.)
            self._checked = (config, now)
            with contextlib.suppress(StoreUnavailable):
                await self._fail_removed(config, now)
        await self._recorder.commit_held(now)
        later = await self._dispatch(sends, config, now)
        return min((moment for moment in (later, *self._recorder.held_until())
                    if moment is not None), default=None)

    def _lane(self, channel: Channel) -> Lane:
        lane = self._lanes.get(channel.id)
        if lane is None or lane.channel.type != channel.type:
            lane = self._lanes[channel.id] = Lane(channel, CHANNELS[channel.type])
        lane.channel = channel  # a reload may change its limits
        return lane

    async def _dispatch(self, sends: trio.Nursery, config: Config, now: datetime
                        ) -> datetime | None:
        """Fill the queue of every channel that runs low and start what each has room for;
        when the next notification falls due. One store read for every channel: a pass
        runs after every commit that wrote notifications, and when a queue runs low."""
        if self._queued_config is not config:  # a reload: read again under the new one
            self._queued_config = config
            for lane in self._lanes.values():
                lane.queue.clear()
        lanes = []
        for lane in map(self._lane, config.channels.values()):
            if lane.low:
                lanes.append(lane)
            else:  # not read now: what this wake announced is read once its queue runs low
                lane.capped = True
        skip = self._recorder.pending()
        wanted: list[Wanted] = [
            (lane.channel.id, lane.room, skip.union(lane.busy, lane.queued()),
             lane.channel.delivery.rate) for lane in lanes]
        node = self._node

        def read(reader: Reader) -> tuple[list[list[Due]], datetime | None]:
            found = [reader.outbox.due(channel_id, now, limit, busy, node)
                     for channel_id, limit, busy, _ in wanted]
            return found, reader.outbox.next_due_after(now, node)

        found, later = await self._store.read(read)
        found = await self._claim(config, wanted, found)
        read_at = trio.current_time()
        for lane, (_, limit, _, _), items in zip(lanes, wanted, found, strict=True):
            lane.capped = len(items) >= limit
            # Sends or results that finished during the read may have taken some already.
            taken = self._recorder.pending().union(lane.busy, lane.queued())
            lane.queue.extend((item, read_at) for item in items
                              if item.notification.id not in taken)
        for lane in self._lanes.values():
            self._start_queued(sends, lane)
        return later

    async def _claim(self, config: Config, wanted: list[Wanted], found: list[list[Due]]
                     ) -> list[list[Due]]:
        """Claim, in one unit, for each lane whose read found some due, what is due and no
        other node holds (the same query again, in the claim's transaction); what each lane
        may send. When the store cannot write, what the read found, unclaimed: a full disk
        must not stop the pages (each is sent once, its result held: notify/recorder.py).
        A claim that lost a conflict with another node's (StoreBusy) sends nothing: that
        node may hold the same notifications; the pass is skipped and tried again."""
        asks = [(index, ask) for index, (ask, items) in enumerate(zip(wanted, found,
                                                                      strict=True)) if items]
        if not asks:
            return found
        node, lease, now = self._node, config.settings.delivery.lease, self._clock.now()

        def claim(transaction: Transaction) -> list[list[Due]]:
            return [transaction.outbox.claim(channel_id, now, limit, node, lease, busy=busy,
                                             rate=rate)
                    for _, (channel_id, limit, busy, rate) in asks]

        try:
            claimed = await self._store.write(claim)
        except StoreBusy:  # another node's claim won a conflict: skip this pass, back off
            raise
        except StoreUnavailable:  # the store logged it
            return found
        held: list[list[Due]] = [[] for _ in found]
        for (index, _), items in zip(asks, claimed, strict=True):
            held[index] = items
        return held

    def _start_queued(self, sends: trio.Nursery, lane: Lane) -> None:
        """Start slot tasks for the lane's queue while it has room."""
        while lane.free > 0:
            taken = self._take(lane)
            if taken is None:
                return
            lane.slots += 1
            sends.start_soon(self._slot, lane, *taken)

    def _take(self, lane: Lane) -> tuple[Config, Due] | None:
        """The lane's next notification to send, marked busy, with the config to send it
        under; None when there is none to send now (its queue may have been emptied)."""
        config = self._config()
        if config.channels.get(lane.channel.id) is not lane.channel:
            lane.queue.clear()  # removed or changed by a reload: the next pass reads again
            return None
        if lane.queue and trio.current_time() - lane.queue[0][1] > STALE:
            lane.queue.clear()
            lane.capped = True
            self.wake()
            return None
        if not lane.queue:
            return None
        item, _ = lane.queue.popleft()
        lane.busy.add(item.notification.id)
        self._recorder.started()
        return config, item

    async def _slot(self, lane: Lane, config: Config, item: Due) -> None:
        """One of a lane's `concurrency` send slots: sends page after page from its queue
        until the queue is empty (issue 15: a task per page cost three turns of the trio
        loop per page against the connection tasks', and the pages fell behind)."""
        current: Due | None = item
        """Sent by this slot now: busy in the lane, in flight for the recorder."""
        try:
            while current is not None:
                look_again = await self._deliver(lane, config, current)
                lane.busy.discard(current.notification.id)
                self._sending.discard(current.notification.id)
                taken = self._take(lane) if lane.free >= 0 else None  # a lowered limit
                self._recorder.finished()  # after the next started: the recorder lingers
                current = None
                # New notifications wake the deliverer themselves, so a page sent at 600 a
                # second costs a read only once its lane's queue runs low.
                if look_again or (lane.capped and lane.low):
                    self.wake()
                if taken is not None:
                    config, current = taken
                    # A log page never waits: let the connection tasks have their turn.
                    await trio.lowlevel.checkpoint()
        finally:
            lane.slots -= 1
            if current is not None:  # cancelled: it stays pending in the store
                lane.busy.discard(current.notification.id)
                self._recorder.finished()

    async def _fail_removed(self, config: Config, now: datetime) -> None:
        """Notifications for a channel a reload removed can never be sent: fail them."""
        waiting = await self._store.read(lambda reader: reader.outbox.pending_channels())
        for channel_id in waiting:
            if channel_id in config.channels:
                continue
            reason = f"channel {channel_id!r} is no longer in the config"
            failed = await self._store.write(functools.partial(
                _fail_channel, channel_id=channel_id, now=now, reason=reason))
            for notification_id in failed:
                logger.error("notification failed: %s", reason,
                             extra={"channel": channel_id, "notification": notification_id})

    async def _send(self, lane: Lane, config: Config, item: Due) -> Shipped | None:
        """Ship one notification, unless its incident was resolved before it was sent (None:
        a resolve cancelled it while it waited for its turn under the channel's rate)."""
        notification, incident = item.notification, item.incident
        resolved = incident.state is IncidentState.RESOLVED
        wait = (None if item.send_at is None
                else (item.send_at - self._clock.now()).total_seconds())
        if await lane.pace(wait):  # it waited: look again at what the incident came to
            try:
                state, incident_state = await self._store.read(
                    lambda reader: reader.outbox.states(notification.id))
            except StoreUnavailable:  # the store logged it; go by what the due read saw
                state, incident_state = "pending", None
            if state != "pending":
                return None
            resolved = resolved or incident_state == IncidentState.RESOLVED.value
        if resolved and notification.event in ("trigger", "escalate"):
            return Shipped(notification.address or notification.target, None, Outcome(
                "ok", f"{incident.id} was resolved before this was sent"))
        link = (self._acknowledge_url(lane.channel, notification, incident)
                if self._acknowledge_url else None)
        self._sending.add(notification.id)
        return await ship(self._transport, lane.channel, lane.module, config, notification,
                          incident, acknowledge_url=link, now=self._clock.now(),
                          rendered=self._rendered)

    async def _deliver(self, lane: Lane, config: Config, item: Due) -> bool:
        """Send one notification and hand its result to the recorder; whether to look at
        the outbox again (the recorder does once it committed a result)."""
        notification = item.notification
        try:
            shipped = await self._send(lane, config, item)
            if shipped is None:
                return True
            attempt, retry_at = self._settle(lane.channel, item, shipped)
            self._recorder.add(Result(lane, attempt, retry_at, item.trace_id))
            return False
        except Exception:
            # The notification stays pending and is tried again; the daemon goes on.
            logger.exception("delivery failed unexpectedly; it will be tried again",
                             extra={"channel": lane.channel.id, "notification": notification.id})
            return True

    def _settle(self, channel: Channel, item: Due, shipped: Shipped
                ) -> tuple[Attempt, datetime | None]:
        """The attempt to log, and when to try again (None: done or failed)."""
        now = self._clock.now()
        sent, outcome = shipped.sent, shipped.outcome
        number = item.attempts + 1
        notification = item.notification
        retry_at = None
        if outcome.kind == "ok":
            result: outbox.Outcome = "skipped" if sent is None else "delivered"
            error = outcome.reason or None
        elif outcome.kind == "failed":
            result, error = "failed", outcome.reason
        else:
            deadline = notification.created_at + channel.delivery.retry_for
            if now >= deadline:
                result = "failed"
                error = (f"gave up after {number} attempts in "
                         f"{_duration(now - notification.created_at)}: {outcome.reason}")
            else:
                wait = outcome.after if outcome.after is not None else backoff(
                    number, self._jitter())
                result, error, retry_at = "retry", outcome.reason, min(now + wait, deadline)
        attempt = Attempt(
            notification_id=notification.id, incident_number=notification.incident_number,
            channel=channel.id, target=shipped.target, event=notification.event,
            attempt=number, attempted_at=now, outcome=result,
            status_code=sent.status_code if sent else None,
            latency_ms=sent.latency_ms if sent else None, error=error)
        return attempt, retry_at

    async def test(self, channel_id: str) -> Attempt:
        """Send a test notification through a channel now, as PagerDuty's "Send test event"
        does, and log the attempt. No incident is opened and nothing is retried.

        Raises:
            LookupError: no such channel.
        """
        config = self._config()
        channel = config.channels.get(channel_id)
        if channel is None:
            raise LookupError(channel_id)
        attempt = await send_test(config, channel, self._clock, self._transport)
        await self._store.write(lambda transaction: transaction.outbox.record(attempt))
        log_attempt(attempt, None)
        self.on_attempt(attempt)
        return attempt


def _release(transaction: Transaction, *, node: str, keep: frozenset[str]) -> int:
    return transaction.outbox.release(node, keep)


def _fail_channel(transaction: Transaction, *, channel_id: str, now: datetime,
                  reason: str) -> Sequence[str]:
    return transaction.outbox.fail_channel(channel_id, now, reason)


def _duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
