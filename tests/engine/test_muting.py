"""Silences mute open incidents (issue 16 item 1): an incident whose firing alerts are all
covered by silences or suppression windows pages nobody and does not escalate; when the
silence ends (its time passes, it is expired by hand, or an until-resolved silence's
incidents resolve) the incident notifies as if new, from its current level. Under MockClock
with the real store and scheduler (tests/engine/test_escalation.py's Daemon), restart
included.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import trio
import trio.testing

from router.alerts.model import Alert, Severity
from router.errors import BadRequest
from tests.engine.test_escalation import START, Daemon

CHECKOUT = [("alertname", "=", "Checkout")]


@pytest.fixture
def clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0.05)


@pytest.fixture
async def daemon(tmp_path: Path, nursery: trio.Nursery) -> AsyncIterator[Daemon]:
    running = Daemon(tmp_path, nursery)
    await running.start()
    yield running
    running.scope.cancel()


async def lines(daemon: Daemon, incident_id: str) -> list[tuple[float, str, str]]:
    """(minutes after START, action, what) of each line about paging and muting."""
    detail = await daemon.engine.incident(incident_id)
    assert detail is not None
    wanted = {"escalated": "to", "notified": "target", "muted": "by", "unmuted": "was",
              "resolved": ""}
    return [(round((entry.at - START).total_seconds() / 60, 3), entry.action,
             entry.details.get(wanted[entry.action], ""))
            for entry in detail.timeline if entry.action in wanted]


async def silence(daemon: Daemon, minutes: float | None, **options: object) -> str:
    """A silence of the Checkout alert from now for `minutes` (None: no end)."""
    made = await daemon.engine.create_silence(
        CHECKOUT, ends_at=None if minutes is None
        else daemon.engine.now() + timedelta(minutes=minutes),
        reason="deploying", created_by="ann", **options)  # type: ignore[arg-type]
    return made.id


async def test_a_silence_added_after_the_incident_opened_holds_its_escalation(
        daemon: Daemon, clock: trio.testing.MockClock) -> None:
    incident_id = await daemon.open()  # level 1 pages bob at once; level 2 due at 5 min
    await trio.sleep(60)
    silence_id = await silence(daemon, 59)  # until minute 60
    await trio.sleep(30 * 60)
    assert await lines(daemon, incident_id) == [
        (0.0, "notified", "person:bob"), (5.0, "muted", f"silence:{silence_id}")]
    # held, not lost: one timer at the silence's end
    assert await daemon.pending_timers() == [(1, "unmute", START + timedelta(minutes=60))]
    detail = await daemon.engine.incident(incident_id)
    assert detail is not None and detail.incident.level == 1


async def test_when_the_silence_ends_the_incident_pages_its_current_level_at_once(
        daemon: Daemon, clock: trio.testing.MockClock) -> None:
    incident_id = await daemon.open()
    await trio.sleep(60)
    silence_id = await silence(daemon, 59)
    await trio.sleep(66 * 60)  # to minute 67
    # level 1 again at minute 60 (alice is on call since 09:00 Berlin), level 2 at 65
    assert await lines(daemon, incident_id) == [
        (0.0, "notified", "person:bob"), (5.0, "muted", f"silence:{silence_id}"),
        (60.0, "unmuted", f"silence:{silence_id}"), (60.0, "notified", "person:alice"),
        (65.0, "escalated", "2"), (65.0, "notified", "person:carol")]


async def test_a_silence_expired_by_hand_unmutes_at_once(
        daemon: Daemon, clock: trio.testing.MockClock) -> None:
    incident_id = await daemon.open()
    await trio.sleep(60)
    silence_id = await silence(daemon, 600)
    await trio.sleep(9 * 60)  # minute 10: muted since 5
    assert await daemon.engine.expire_silence(silence_id)
    await trio.sleep(1)
    assert await lines(daemon, incident_id) == [
        (0.0, "notified", "person:bob"), (5.0, "muted", f"silence:{silence_id}"),
        (10.0, "unmuted", f"silence:{silence_id}"), (10.0, "notified", "person:alice")]
    assert await daemon.pending_timers() == [(1, "escalate", START + timedelta(minutes=15))]


async def test_a_restart_while_muted_stays_muted_and_pages_after_the_silence(
        daemon: Daemon, clock: trio.testing.MockClock) -> None:
    incident_id = await daemon.open()
    await trio.sleep(60)
    silence_id = await silence(daemon, 59)
    await trio.sleep(9 * 60)  # minute 10, muted
    await daemon.stop()
    await trio.sleep(20 * 60)
    await daemon.start()  # a new Engine and Scheduler on the same store, minute 30
    await trio.sleep(20 * 60)  # minute 50: still muted
    assert [line[1] for line in await lines(daemon, incident_id)] == ["notified", "muted"]
    await trio.sleep(11 * 60)  # minute 61
    assert await lines(daemon, incident_id) == [
        (0.0, "notified", "person:bob"), (5.0, "muted", f"silence:{silence_id}"),
        (60.0, "unmuted", f"silence:{silence_id}"), (60.0, "notified", "person:alice")]


async def shared(daemon: Daemon, alertname: str) -> str:
    """An alert of the api service in the incident of dedup key `shared`."""
    [accepted] = await daemon.engine.ingest([Alert(
        summary=alertname, source="test", severity=Severity.CRITICAL, dedup_key="shared",
        labels={"alertname": alertname, "service": "api"})])
    assert accepted.incident_id is not None
    return accepted.incident_id


async def test_a_silence_that_covers_only_some_firing_alerts_does_not_mute(
        daemon: Daemon, clock: trio.testing.MockClock) -> None:
    incident_id = await shared(daemon, "Checkout")
    assert await shared(daemon, "CheckoutSlow") == incident_id
    await trio.sleep(60)
    await silence(daemon, 59)
    await trio.sleep(5 * 60)
    assert await lines(daemon, incident_id) == [
        (0.0, "notified", "person:bob"), (5.0, "escalated", "2"),
        (5.0, "notified", "person:carol")]


async def test_an_unsilenced_alert_joining_a_muted_incident_unmutes_it(
        daemon: Daemon, clock: trio.testing.MockClock) -> None:
    incident_id = await shared(daemon, "Checkout")
    await trio.sleep(60)
    silence_id = await silence(daemon, 59)
    await trio.sleep(9 * 60)  # minute 10, muted
    await shared(daemon, "CheckoutSlow")
    await trio.sleep(1)
    assert await lines(daemon, incident_id) == [
        (0.0, "notified", "person:bob"), (5.0, "muted", f"silence:{silence_id}"),
        (10.0, "unmuted", f"silence:{silence_id}"), (10.0, "notified", "person:alice")]


async def test_a_silence_on_an_acknowledged_incident_holds_its_timeout_too(
        daemon: Daemon, clock: trio.testing.MockClock) -> None:
    incident_id = await daemon.open("patient")  # acknowledge_timeout: 30m
    await daemon.engine.acknowledge(incident_id, "api:bob")
    await trio.sleep(60)
    silence_id = await silence(daemon, 59)
    await trio.sleep(40 * 60)  # the acknowledgement timed out at 30, muted
    assert (await lines(daemon, incident_id))[-1] == (30.0, "muted", f"silence:{silence_id}")
    await trio.sleep(21 * 60)
    assert (await lines(daemon, incident_id))[-2:] == [
        (60.0, "unmuted", f"silence:{silence_id}"), (60.0, "notified", "person:alice")]


async def test_an_until_resolved_silence_ends_when_its_incidents_resolve(
        daemon: Daemon, clock: trio.testing.MockClock) -> None:
    incident_id = await daemon.open()
    await trio.sleep(60)
    silence_id = await silence(daemon, None, until_resolved=True)
    [listed] = await daemon.engine.silences()
    assert (listed.id, listed.covers) == (silence_id, (1,))
    await trio.sleep(3 * 3600)  # kept while the incident is open: nothing escalates
    assert [line[1] for line in await lines(daemon, incident_id)] == ["notified", "muted"]
    assert [item.id for item in await daemon.engine.silences()] == [silence_id]
    await daemon.engine.resolve(incident_id, "api:ann")
    assert await daemon.engine.silences() == []
    [ended] = await daemon.engine.silences(include_expired=True)
    assert ended.ends_at == daemon.engine.now()


async def test_an_until_resolved_silence_must_cover_an_open_incident(
        daemon: Daemon, clock: trio.testing.MockClock) -> None:
    with pytest.raises(BadRequest, match="covers no open incident"):
        await silence(daemon, None, until_resolved=True)


async def test_an_incident_opened_while_silenced_pages_when_the_silence_ends(
        daemon: Daemon, clock: trio.testing.MockClock) -> None:
    """Never paged (level 0) because a silence held it at ingest: when the silence ends, it
    pages as if new (its channels and level 1) without the sender sending again; a restart
    while it waits keeps that."""
    silence_id = await silence(daemon, 30)  # until minute 30
    incident_id = await daemon.open()
    assert await lines(daemon, incident_id) == []
    assert await daemon.pending_timers() == [(1, "unmute", START + timedelta(minutes=30))]
    await trio.sleep(10 * 60)
    await daemon.stop()
    await daemon.start()
    await trio.sleep(21 * 60)  # minute 31
    assert await lines(daemon, incident_id) == [
        (30.0, "unmuted", f"silence:{silence_id}"), (30.0, "notified", "person:alice")]
    detail = await daemon.engine.incident(incident_id)
    assert detail is not None
    assert (detail.incident.level, detail.incident.suppressed_by) == (1, None)
