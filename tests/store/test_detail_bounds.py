"""An incident's detail read with a limit holds at most that many alerts and timeline
entries (the newest, oldest first) and says how many it left out: the web page's read
stays bounded however long the incident's history (issue 22)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from router.alerts.model import Alert, Severity, TimelineEntry
from router.store import Store, Transaction
from tests.store.test_timeline_rows import NOW, an_incident

ENTRIES = [TimelineEntry(at=NOW + timedelta(seconds=second), actor="router", action="notified",
                         details={"n": str(second)}) for second in range(5_000)]


def alert(number: int) -> Alert:
    return Alert(summary=f"disk full {number}", source="generic", severity=Severity.CRITICAL,
                 labels={"host": f"db{number}"})


async def stocked(path: Path) -> Store:
    store = await Store.open(path)

    def work(transaction: Transaction) -> None:
        transaction.save_incident(an_incident(), {"abc"})
        transaction.add_timeline(1, ENTRIES[:4_000])  # one row with 3,999 in `more`
        for entry in ENTRIES[4_000:]:
            transaction.add_timeline(1, [entry])
        for number in range(300):
            transaction.record_alert(alert(number), 1, "key", NOW, None)

    await store.write(work)
    return store


async def test_a_limited_detail_holds_the_newest_and_counts_the_rest(tmp_path: Path) -> None:
    store = await stocked(tmp_path / "router.db")
    detail = await store.read(lambda reader: reader.detail(1, limit=100))
    await store.close()
    assert detail is not None
    assert list(detail.timeline) == ENTRIES[-100:]
    assert detail.timeline_omitted == 4_900
    assert [alert["summary"] for alert in detail.alerts] == [
        f"disk full {number}" for number in range(200, 300)]
    assert detail.alerts_omitted == 200


async def test_a_limited_detail_cuts_inside_a_shared_row(tmp_path: Path) -> None:
    store = await stocked(tmp_path / "router.db")
    detail = await store.read(lambda reader: reader.detail(1, limit=1_500))
    await store.close()
    assert detail is not None
    assert list(detail.timeline) == ENTRIES[-1_500:]
    assert detail.timeline_omitted == 3_500


async def test_without_a_limit_the_detail_holds_everything(tmp_path: Path) -> None:
    store = await stocked(tmp_path / "router.db")
    detail = await store.read(lambda reader: reader.detail(1))
    await store.close()
    assert detail is not None
    assert list(detail.timeline) == ENTRIES and len(detail.alerts) == 300
    assert (detail.timeline_omitted, detail.alerts_omitted) == (0, 0)
