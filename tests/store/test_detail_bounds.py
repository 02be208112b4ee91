"""An incident's detail read with a limit holds at most that many alerts and timeline
entries (the newest, oldest first) and says how many it left out, and expired silences are
read newest first up to a limit with their count: the web pages' reads stay bounded however
long the history (issue 22)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from router.alerts.model import Alert, Severity, Silence, SilenceMatcher, TimelineEntry
from router.store import Transaction, interface
from tests.store.conftest import Backend
from tests.store.test_timeline_rows import NOW, an_incident

ENTRIES = [TimelineEntry(at=NOW + timedelta(seconds=second), actor="router", action="notified",
                         details={"n": str(second)}) for second in range(5_000)]


def alert(number: int) -> Alert:
    return Alert(summary=f"disk full {number}", source="generic", severity=Severity.CRITICAL,
                 labels={"host": f"db{number}"})


async def stocked(backend: Backend) -> interface.Store:
    store = await backend.open()

    def work(transaction: Transaction) -> None:
        transaction.save_incident(an_incident(), {"abc"})
        transaction.add_timeline(1, ENTRIES[:4_000])  # one row with 3,999 in `more`
        for entry in ENTRIES[4_000:]:
            transaction.add_timeline(1, [entry])
        for number in range(300):
            transaction.record_alert(alert(number), 1, "key", NOW, None)

    await store.write(work)
    return store


async def test_a_limited_detail_holds_the_newest_and_counts_the_rest(backend: Backend) -> None:
    store = await stocked(backend)
    detail = await store.read(lambda reader: reader.detail(1, limit=100))
    await store.close()
    assert detail is not None
    assert list(detail.timeline) == ENTRIES[-100:]
    assert detail.timeline_omitted == 4_900
    assert [alert["summary"] for alert in detail.alerts] == [
        f"disk full {number}" for number in range(200, 300)]
    assert detail.alerts_omitted == 200


async def test_a_limited_detail_cuts_inside_a_shared_row(backend: Backend) -> None:
    store = await stocked(backend)
    detail = await store.read(lambda reader: reader.detail(1, limit=1_500))
    await store.close()
    assert detail is not None
    assert list(detail.timeline) == ENTRIES[-1_500:]
    assert detail.timeline_omitted == 3_500


async def test_without_a_limit_the_detail_holds_everything(backend: Backend) -> None:
    store = await stocked(backend)
    detail = await store.read(lambda reader: reader.detail(1))
    await store.close()
    assert detail is not None
    assert list(detail.timeline) == ENTRIES and len(detail.alerts) == 300
    assert (detail.timeline_omitted, detail.alerts_omitted) == (0, 0)


def a_silence(number: int, ends_at: datetime) -> Silence:
    return Silence(id=f"S{number:05}",
                   matchers=(SilenceMatcher(name="team", operator="=", value="api"),),
                   starts_at=ends_at - timedelta(hours=1), ends_at=ends_at, reason="r",
                   created_by="ann")


async def test_expired_silences_are_read_newest_first_up_to_a_limit(backend: Backend) -> None:
    store = await backend.open()

    def work(transaction: Transaction) -> None:
        for number in range(5_000):  # ended a minute apart, the last a minute ago
            transaction.add_silence(a_silence(number, NOW - timedelta(minutes=5_000 - number)))
        transaction.add_silence(a_silence(5_000, NOW + timedelta(hours=1)))  # active
        transaction.add_silence(dataclasses.replace(  # pending
            a_silence(5_001, NOW + timedelta(hours=3)), starts_at=NOW + timedelta(hours=2)))

    await store.write(work)
    expired, total = await store.read(lambda reader: reader.expired_silences(NOW, 50))
    current = await store.read(lambda reader: reader.unexpired_silences(NOW))
    await store.close()
    assert [silence.id for silence in expired] == [f"S{number:05}"
                                                   for number in range(4_999, 4_949, -1)]
    assert total == 5_000
    assert [silence.id for silence in current] == ["S05000", "S05001"]
