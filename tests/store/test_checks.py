"""store/checks.py: each run kept with its figures, the trail bounded to the newest runs per
check, and a check's status with the time it last changed (not the time of its last run)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from router.store import Transaction
from router.store.values import CheckRun
from tests.store.conftest import Backend

START = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def run(check_id: str, minute: int, status: str) -> CheckRun:
    return CheckRun(check_id=check_id, started_at=START + timedelta(minutes=minute),
                    status=status, message=f"run {minute}", metrics={"disk_percent:/": minute},
                    duration_ms=1.5, trace_id=f"t{minute}")


async def test_the_trail_is_bounded_per_check_and_the_status_keeps_its_since(
        backend: Backend) -> None:
    store = await backend.open()
    try:
        statuses = ["ok", "critical", "critical", "critical", "ok", "ok"]
        for minute, status in enumerate(statuses):
            def record(transaction: Transaction, minute: int = minute,
                       status: str = status) -> CheckRun:
                return transaction.checks.record(run("disk", minute, status), keep=3)
            await store.write(record)
        await store.write(lambda transaction: transaction.checks.record(run("cpu", 0, "ok"),
                                                                        keep=3))
        disk_runs = await store.read(lambda reader: reader.checks.runs("disk"))
        states = await store.read(lambda reader: reader.checks.states())
        known = await store.read(lambda reader: (reader.checks.status("disk"),
                                                 reader.checks.status("memory")))
    finally:
        await store.close()
    assert [(item.message, item.status) for item in disk_runs] == [
        ("run 5", "ok"), ("run 4", "ok"), ("run 3", "critical")]
    assert disk_runs[0].metrics == {"disk_percent:/": 5} and disk_runs[0].trace_id == "t5"
    assert [(state.check_id, state.status, state.since, state.last_run.message)
            for state in states] == [("cpu", "ok", START, "run 0"),
                                     ("disk", "ok", START + timedelta(minutes=4), "run 5")]
    assert known == ("ok", None)
